package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// BatchPolicy gathers the deliveries of an endpoint into batch requests:
// one POST of up to MaxEvents events and MaxBytes bytes, sent when it is
// full or when the oldest delivery in it has waited MaxWait. The zero
// value sends one request per delivery; any field set turns batching on,
// and the fields left zero take their defaults.
//
// A batch request's body is NDJSON (Content-Type application/x-ndjson):
// one line per event, in the order the deliveries were leased, each the
// endpoint's template output (JSON, made compact) or, without a template,
// the Standard Webhooks envelope with the event's "id" added, so that a
// receiver can deduplicate each line. A template that returns null leaves
// its event out and that delivery ends skipped. The request is signed over
// the whole body, and its webhook-id header is the batch's ID, the same on
// every retry of the batch.
//
// Every delivery of a batch gets the attempt and the outcome. A batch is
// retried as a unit on the endpoint's retry schedule (counted from the
// member with the fewest attempts in its schedule, so that no member's
// schedule ends early): the store records which deliveries form it
// (see [Batcher]) before the first request is sent, so a crash never
// splits, loses or double-counts a batch. A batch request takes one of the
// endpoint's MaxConcurrency slots and one token of its RateLimit. With an
// [Endpoint.AckTimeout], a batch request carries one callback URL, and a
// report on it applies to every member.
//
// On an [Endpoint.Ordered] endpoint, a batch holds at most one event of
// each ordering key (the head of its sequence): the next event of a key
// goes in a later batch, once the batch holding the one before it has
// ended. A key's events thus arrive in order across batches, and an
// endpoint whose events share few keys gets small batches.
type BatchPolicy struct {
	// MaxEvents caps the events in one batch. Defaults to
	// [BatchMaxEventsDefault]; at most [BatchMaxEventsMax].
	MaxEvents int
	// MaxBytes caps the body of one batch. An event whose line alone is
	// larger goes in a batch of its own. Defaults to the larger of
	// [BatchMaxBytesDefault] and [Config.MaxPayloadBytes]; when set, at
	// least Config.MaxPayloadBytes (so that every event fits) and at most
	// [BatchMaxBytesMax].
	MaxBytes int
	// MaxWait is how long the oldest delivery of a batch that is not full
	// waits for more before the batch is sent. Defaults to
	// [BatchMaxWaitDefault]; at most [BatchMaxWaitMax].
	MaxWait time.Duration
}

// Defaults and limits of [BatchPolicy].
const (
	BatchMaxEventsDefault = 100
	BatchMaxEventsMax     = 10_000
	BatchMaxBytesDefault  = 1 << 20
	BatchMaxBytesMax      = 64 << 20
	BatchMaxWaitDefault   = time.Second
	BatchMaxWaitMax       = 15 * time.Minute
)

// BatchContentType is the Content-Type of a batch request.
const BatchContentType = "application/x-ndjson"

// Enabled reports whether the policy batches: whether any field is set.
func (p BatchPolicy) Enabled() bool { return p != BatchPolicy{} }

// withDefaults returns p with every zero field set to its default, for an
// endpoint of a Dispatcher whose events hold up to maxPayload bytes. The
// zero policy stays zero.
func (p BatchPolicy) withDefaults(maxPayload int) BatchPolicy {
	if !p.Enabled() {
		return p
	}
	if p.MaxEvents == 0 {
		p.MaxEvents = BatchMaxEventsDefault
	}
	if p.MaxBytes == 0 {
		p.MaxBytes = max(BatchMaxBytesDefault, maxPayload)
	}
	if p.MaxWait == 0 {
		p.MaxWait = BatchMaxWaitDefault
	}
	return p
}

// validate checks p against its limits and the Dispatcher's payload cap.
// It returns the offending field's name and why, or "".
func (p BatchPolicy) validate(maxPayload int) (field, reason string) {
	switch {
	case p.MaxEvents < 0:
		return "Batch.MaxEvents", "must not be negative"
	case p.MaxEvents > BatchMaxEventsMax:
		return "Batch.MaxEvents", fmt.Sprintf("must be at most %d", BatchMaxEventsMax)
	case p.MaxBytes < 0:
		return "Batch.MaxBytes", "must not be negative"
	case p.MaxBytes > BatchMaxBytesMax:
		return "Batch.MaxBytes", fmt.Sprintf("must be at most %d", BatchMaxBytesMax)
	case p.MaxBytes > 0 && p.MaxBytes < maxPayload:
		return "Batch.MaxBytes", fmt.Sprintf("must be at least Config.MaxPayloadBytes (%d), so that every event fits in a batch", maxPayload)
	case p.MaxWait < 0:
		return "Batch.MaxWait", "must not be negative"
	case p.MaxWait > BatchMaxWaitMax:
		return "Batch.MaxWait", fmt.Sprintf("must be at most %v", BatchMaxWaitMax)
	}
	return "", ""
}

// Batcher is implemented by stores that record batches, which an endpoint
// with a [BatchPolicy] needs: [Dispatcher.PutEndpoint] refuses a batched
// endpoint, with an error wrapping [ErrBatchingUnsupported], when the
// store is not a Batcher. storetest proves the contract below for every
// store that implements it.
//
// A formed batch is leased as a unit: when [Store.Lease] would hand out a
// pending delivery whose BatchID is set, it hands out every pending
// delivery of that batch with it, to the same owner, each with a fresh
// token, whether or not each is due, even past Limit (Limit never splits
// a batch; whether a batch counts as one delivery toward Limit or as its
// members is the store's choice); when any pending
// delivery of the batch is held by a live lease (of any owner), Lease
// hands out none of them. NextDue counts the members as the deliveries
// they are. [Store.Redeliver] clears the BatchID of the delivery it makes
// pending again: it goes on its own, or in a new batch. Complete, Release
// and ExtendLeases treat members as the deliveries they are; a finished
// delivery keeps the BatchID it was last sent in.
type Batcher interface {
	// FormBatch records that the deliveries of p.Leases, all leased by the
	// caller, form the batch p.BatchID, in one atomic and durable write:
	// each gets that BatchID and its lease is extended to p.Until. When a
	// lease is stale (or its delivery is not pending), nothing is written
	// and every such lease is listed in the result.
	FormBatch(ctx context.Context, p *FormBatchParams) (BatchResult, error)
}

// FormBatchParams are the parameters of [Batcher.FormBatch].
type FormBatchParams struct {
	// BatchID names the batch; not empty.
	BatchID string
	// Leases are the members, held by the caller.
	Leases []LeaseRef
	Now    time.Time
	// Until is the new deadline of every member's lease.
	Until time.Time
}

// isBatcher reports whether s records batches.
func isBatcher(s Store) bool {
	_, ok := s.(Batcher)
	return ok
}

// batchPolicyJSON is the JSON form of a [BatchPolicy].
type batchPolicyJSON struct {
	MaxEvents int    `json:"max_events,omitempty"`
	MaxBytes  int    `json:"max_bytes,omitempty"`
	MaxWait   string `json:"max_wait,omitempty"`
}

// MarshalJSON writes the policy as {"max_events", "max_bytes",
// "max_wait"}, the wait as a Go duration string. Zero fields, which select
// defaults, are left out.
func (p BatchPolicy) MarshalJSON() ([]byte, error) {
	return json.Marshal(batchPolicyJSON{MaxEvents: p.MaxEvents, MaxBytes: p.MaxBytes, MaxWait: durationText(p.MaxWait)})
}

// UnmarshalJSON reads the form [BatchPolicy.MarshalJSON] writes.
func (p *BatchPolicy) UnmarshalJSON(b []byte) error {
	var j batchPolicyJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	wait, err := parseDurationText(j.MaxWait, "max_wait")
	if err != nil {
		return err
	}
	*p = BatchPolicy{MaxEvents: j.MaxEvents, MaxBytes: j.MaxBytes, MaxWait: wait}
	return nil
}
