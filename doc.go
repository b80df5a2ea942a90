// Package webhook sends webhooks from inside a Go service: durable, signed,
// retried and recorded, with no separate server to run.
//
// The host registers subscriber endpoints with [Dispatcher.PutEndpoint] and
// calls [Dispatcher.Emit] on its domain events. Hooklet stores each event
// with one delivery per matching endpoint in the [Store] before Emit
// returns, then delivers them in the background: it renders the body (the
// Standard Webhooks envelope, or the endpoint's template), signs the
// request (Standard Webhooks by default), sends it, records the attempt,
// and retries with backoff until the receiver answers 2xx or the
// [RetryPolicy] gives up.
//
// # Guarantees
//
// Nothing emitted is lost: once Emit returns nil, each delivery of the
// event ends succeeded, failed (recorded and replayable with
// [Dispatcher.Redeliver]) or skipped by its template, across crashes and
// restarts. Delivery is at least once: a process that dies after the
// receiver answered but before the attempt was recorded sends that
// delivery again. Every attempt carries the event ID as webhook-id, so
// receivers deduplicate on it. Deliveries to one endpoint run concurrently
// (up to [Endpoint.MaxConcurrency]) and are not ordered.
//
// # Durability
//
// What survives a crash is what the [Store] has committed. With the
// embedded bbolt store (store/boltstore) and its default options every
// Emit that returned nil and every recorded attempt is fsynced: a kill -9
// or a power loss loses neither. An attempt in flight at the crash is made
// again after the restart. The in-memory store (store/memstore) keeps
// nothing across restarts. The PostgreSQL store (store/pgstore) is as
// durable as the database's commits.
//
// # Concurrency
//
// All methods of [Dispatcher] are safe for concurrent use. Concurrent Emit
// calls are coalesced into one store write (group commit). The delivery
// engine started by [Dispatcher.Start] leases due deliveries in batches,
// runs each endpoint in its own lane with its own concurrency cap, and
// writes outcomes back in batches; one slow endpoint fills only its lane.
//
// # Security
//
// The default transport refuses loopback, private, link-local and metadata
// addresses at dial time, on the address actually dialled, unless
// [Config.AllowPrivateNetworks] is set; redirects are not followed.
// Secrets never appear in errors, logs, String output or attempt records.
package webhook
