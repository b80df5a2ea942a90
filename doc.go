// Package webhook sends webhooks from inside a Go service: durable, signed,
// retried and recorded, with no separate server to run.
//
// The host registers subscriber endpoints with [Dispatcher.PutEndpoint] and
// calls [Dispatcher.Emit] on its domain events. Hooklet stores each event
// with one delivery per matching endpoint in the [Store] before Emit
// returns, then delivers them in the background: it signs each request
// (Standard Webhooks by default), sends it, records the attempt, and retries
// with backoff until the receiver answers 2xx or the [RetryPolicy] gives up.
package webhook
