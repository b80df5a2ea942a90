package webhook

import (
	"context"
	"sync"
	"time"
)

// recorder writes outcomes back to the store in batches: while one
// Complete runs, finished deliveries queue up, and the next Complete takes
// them all.
type recorder struct {
	e    *engine
	in   chan Outcome
	once sync.Once
	done chan struct{}
}

// maxOutcomeBatch caps the outcomes written in one store call.
const maxOutcomeBatch = 512

func newRecorder(e *engine) *recorder {
	return &recorder{e: e, in: make(chan Outcome, e.d.cfg.Workers*2), done: make(chan struct{})}
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
	e := r.e
	refs := make([]LeaseRef, len(batch))
	for i := range batch {
		refs[i] = batch[i].Lease
	}
	defer func() {
		e.forget(refs)
		e.wake()
	}()
	b := e.newStoreBackoff()
	for try := 1; ; try++ {
		err := r.complete(batch)
		if err == nil {
			return
		}
		e.d.log.Warn("webhook: recording outcomes", "count", len(batch), "try", try, "error", err)
		if e.isStopping() && try >= 3 {
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
		t := e.d.clock.NewTimer(b.NextBackOff())
		select {
		case <-t.C():
		case <-e.stopCh:
			t.Stop()
		}
	}
}

// complete makes one store call for batch.
func (r *recorder) complete(batch []Outcome) error {
	e := r.e
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := e.d.store.Complete(ctx, &CompleteParams{Outcomes: batch, Now: e.d.clock.Now()})
	if err != nil {
		return err
	}
	for _, s := range res.Stale {
		e.d.log.Info("webhook: outcome refused, lease taken by another owner", "delivery", s.DeliveryID)
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

func (e *engine) isStopping() bool {
	select {
	case <-e.stopCh:
		return true
	default:
		return false
	}
}
