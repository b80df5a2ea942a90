package webhook

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// recorder writes outcomes back to the store in batches: while one
// Complete runs, finished deliveries queue up, and the next Complete takes
// them all.
type recorder struct {
	store Store
	clock Clock
	log   *slog.Logger
	// written is called with the leases of every batch once it is written
	// or given up on.
	written func([]LeaseRef)
	// stopping is closed when the engine stops: retries are cut short.
	stopping <-chan struct{}

	in   chan Outcome
	once sync.Once
	done chan struct{}
}

// maxOutcomeBatch caps the outcomes written in one store call.
const maxOutcomeBatch = 512

// minOutcomeQueue is the least room the recorder's queue has: two full
// batches, so that the outcomes that finish while one batch is being
// written wait in the queue rather than in their lanes. A lane whose add
// blocks holds back its wake-up of the engine, and the engine leases no
// more until then: the senders would wait for the store.
const minOutcomeQueue = 2 * maxOutcomeBatch

// newRecorder returns a recorder that queues up to queue outcomes, or
// minOutcomeQueue if that is more.
func newRecorder(store Store, clock Clock, log *slog.Logger, queue int, written func([]LeaseRef), stopping <-chan struct{}) *recorder {
	return &recorder{
		store: store, clock: clock, log: log, written: written, stopping: stopping,
		in: make(chan Outcome, max(queue, minOutcomeQueue)), done: make(chan struct{}),
	}
}

func (r *recorder) start() { go r.loop() }

// add queues an outcome. It blocks while the queue is full, which slows
// the lanes down to the pace of the store.
func (r *recorder) add(o Outcome) { r.in <- o }

// close writes what is queued and stops. All adds must have returned.
func (r *recorder) close() {
	r.once.Do(func() { close(r.in) })
	<-r.done
}

func (r *recorder) loop() {
	defer close(r.done)
	b := batcher[Outcome]{in: r.in, limit: maxOutcomeBatch}
	var batch []Outcome
	for o := range r.in {
		batch = b.collect(o, batch)
		start := time.Now()
		r.write(batch)
		b.wrote(len(batch), time.Since(start))
		clear(batch)
	}
}

func (r *recorder) isStopping() bool {
	select {
	case <-r.stopping:
		return true
	default:
		return false
	}
}

// write stores one batch, retrying while the store fails. When the engine
// is stopping it gives up after a few tries: the leases then expire and the
// deliveries are attempted again, so nothing is lost.
//
// A store may refuse a batch for one outcome in it (a response body its
// column cannot hold, say). So after a few failed tries a batch is written
// in halves, and a lone outcome the store keeps refusing is written once
// more without its response body and error text. A store that is down
// fails every write alike, and the halving only paces the retries.
func (r *recorder) write(batch []Outcome) {
	refs := make([]LeaseRef, len(batch))
	for i := range batch {
		refs[i] = batch[i].Lease
	}
	defer r.written(refs)
	b := newStoreBackoff(r.clock)
	for try := 1; ; try++ {
		err := r.complete(batch)
		if err == nil {
			return
		}
		r.log.Warn("webhook: recording outcomes", "count", len(batch), "try", try, "error", err)
		if r.isStopping() && try >= 3 {
			return
		}
		if try == 3 {
			if len(batch) > 1 {
				mid := len(batch) / 2
				r.write(batch[:mid])
				r.write(batch[mid:])
				return
			}
			if r.complete([]Outcome{bare(batch[0])}) == nil {
				return
			}
		}
		t := r.clock.NewTimer(b.NextBackOff())
		select {
		case <-t.C():
		case <-r.stopping:
			t.Stop()
		}
	}
}

// complete makes one store call for batch.
func (r *recorder) complete(batch []Outcome) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := r.store.Complete(ctx, &CompleteParams{Outcomes: batch, Now: r.clock.Now()})
	if err != nil {
		return err
	}
	for _, s := range res.Stale {
		r.log.Info("webhook: outcome refused, lease taken by another owner", "delivery_id", s.DeliveryID)
	}
	return nil
}

// bare returns o without the parts of its attempts that a store may be
// unable to hold.
func bare(o Outcome) Outcome {
	atts := make([]Attempt, len(o.Attempts))
	for i, a := range o.Attempts {
		a.ResponseBody, a.ResponseTruncated = nil, false
		if a.Error != "" {
			a.Error = "error text could not be stored"
		}
		atts[i] = a
	}
	o.Attempts = atts
	return o
}
