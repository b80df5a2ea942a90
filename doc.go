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
//
// # Observability
//
// Hooklet reports metrics and spans through the OpenTelemetry API only:
// [Config.MeterProvider] and [Config.TracerProvider] default to the global
// providers, which record nothing until the host installs an SDK. Emit
// stores the W3C trace context of its ctx with each event
// ([Event.TraceParent], [Event.TraceState]); each attempt is a span
// ([SpanAttempt]) that continues and links to it, in whichever process
// makes the attempt, and every request carries traceparent and tracestate.
// The metric names ([MetricAttempts], ...) and attribute keys
// ([AttrStatusClass], ...) are constants; docs/observability.md lists them
// all. The queue gauges need a store that is a [QueueStatser].
//
// # Logging
//
// The engine logs through [Config.Logger] with stable keys: delivery_id,
// endpoint_id, event_type and attempt name what a line is about, error
// (with error_class) what went wrong, count and try the size and retry of a
// store call. No line carries a secret, a payload or an endpoint URL. The
// levels:
//
//   - Debug: every attempt (with status_code, duration and the delivery's
//     next state).
//   - Info: a delivery that failed for good (a dead letter, replayable);
//     an outcome refused because another owner took the lease; a pruning
//     round that deleted something.
//   - Warn: a store error the engine retries (leasing, recording outcomes,
//     extending or releasing leases, reloading endpoints, pruning); an
//     endpoint disabled; a stored endpoint that no longer compiles.
//   - Error: not used: whatever goes wrong in the engine is retried or
//     recorded on the delivery.
//
// # Retention
//
// A started Dispatcher prunes finished deliveries, their attempts and the
// events left without deliveries every [RetentionInterval]:
// succeeded and skipped ones after [Config.Retention] (default 30 days),
// failed ones after [Config.RetentionFailed] (default 90 days), in bounded
// store calls. Every Dispatcher sharing a store prunes it; Prune is
// idempotent and bounded, so they need no coordination.
//
// # Receivers that report back
//
// An endpoint with an [Endpoint.AckTimeout] may answer 202 Accepted and
// report its result later to the callback URL each request carries (under
// [Config.CallbackURL], served by [Dispatcher.CallbackHandler]). The wait
// is stored with the delivery, so it survives restarts and any replica may
// take the report; no report in time fails the attempt with
// [ClassAckTimeout].
//
// # Batches
//
// An endpoint with a [BatchPolicy] receives its deliveries gathered into
// NDJSON requests ([BatchContentType]) of up to MaxEvents events and
// MaxBytes bytes, sent when full or once the oldest has waited MaxWait,
// signed once, with the batch's ID as webhook-id. The store records which
// deliveries form a batch before it is first sent ([Batcher]) and leases
// it only whole afterwards, so a crash neither splits nor loses a batch,
// and a batch is retried as a unit. On an ordered endpoint a batch holds
// at most one event of each ordering key.
//
// # Implementing a Store
//
// Hooklet ships three stores (store/memstore, store/boltstore and
// store/pgstore); a host may write its own against another database. A
// store implements [Store], whose method docs are the contract, and works
// with these types only:
//
//   - the records it keeps: [Endpoint], [Event], [Delivery] (with
//     [DeliveryState]) and [Attempt] (with [ErrorClass]);
//   - one params struct per method, so that fields can be added later:
//     [PutEndpointParams], [GetEndpointParams], [DeleteEndpointParams],
//     [ListEndpointsParams], [EnqueueParams] (of [EnqueueItem]s),
//     [LeaseParams], [ExtendLeasesParams], [CompleteParams] (of
//     [Outcome]s), [ReleaseParams], [NextDueParams], [GetEventParams],
//     [GetDeliveryParams], [ListDeliveriesParams], [ListAttemptsParams],
//     [RedeliverParams], [PruneParams] (whose FailedBefore keeps failed
//     deliveries to a cut-off of their own), and, for backfill,
//     [ListEventsParams] and [AddDeliveriesParams];
//   - what the lease methods hand out and take back: [Lease], [LeaseRef]
//     and [BatchResult];
//   - [Page] for the listings, sized by [PageLimit] ([PageLimitDefault],
//     [PageLimitMax]; a negative Limit is the default, not an error);
//   - the sentinels its errors wrap: [ErrNotFound], [ErrClosed],
//     [ErrConflict] (a conditional PutEndpoint that lost),
//     [ErrDuplicateDelivery] (an Enqueue that would store a delivery ID
//     twice), [ErrInvalidParams] (an unknown state in a listing) and, for
//     [TxEnqueuer], [ErrInvalidTx];
//   - two optional interfaces, found by type assertion: [TxEnqueuer], for
//     a store that enqueues inside a transaction the host holds (what
//     [Dispatcher.EmitTx] needs), and [Notifier], for a store shared by
//     several processes, which reports others' changes as [Notification]s
//     so that no engine polls; and [QueueStatser] ([QueueStatsParams],
//     [QueueStats]), for a store that counts its queue cheaply, which
//     the queue gauges need; and [Reporter] ([ReportParams],
//     [ListReportsParams], [Report], [AttemptFailure],
//     [ErrReportRefused]), for a store that keeps receivers' reports,
//     which [Endpoint.AckTimeout] needs: the store then also honours
//     [Outcome.AwaitTokenHash] and [Outcome.WaitEnded] and keeps
//     [Delivery.AwaitingReport].
//
// A store never reads the clock (every time comes in the params) and
// copies records on the way in and out. The package storetest is the
// conformance suite: storetest.Run proves, for any store, that Enqueue is
// atomic and idempotent on the event ID; that a delivery is leased to at
// most one live owner and that outcomes or extensions carrying a stale
// token are refused; that Complete, Release, Redeliver and NextDue move
// deliveries as documented; that PutEndpoint's conditional write lets
// exactly one of racing writers win; that listings paginate in ID order
// with stable cursors and the shared page limits; that Prune keeps what is
// pending; that a cancelled context changes nothing; and, for a store with
// a Close method, that a closed store answers [ErrClosed]. Groups for
// TxEnqueuer, Notifier, Reporter and stores shared across processes run when the
// store under test implements them (see storetest.TxBeginner and
// storetest.PeerOpener). A store runs the suite from its own test, with a
// factory that returns a fresh, empty store per subtest:
//
//	func TestStore(t *testing.T) {
//		t.Parallel()
//		storetest.Run(t, func(t *testing.T) webhook.Store {
//			s := mystore.New()
//			t.Cleanup(func() { _ = s.Close() })
//			return s
//		})
//	}
//
// Run it with go test -race; the suite's subtests are parallel and named
// Method/Behaviour (for example -run 'TestStore/Lease/'), so one failing
// behaviour can be run alone.
package webhook
