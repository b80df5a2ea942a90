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
func (r *recorder) write(batch []Outcome) {
	e := r.e
	refs := make([]LeaseRef, len(batch))
	for i := range batch {
		refs[i] = batch[i].Lease
	}
	b := e.newStoreBackoff()
	for try := 1; ; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		res, err := e.d.store.Complete(ctx, &CompleteParams{Outcomes: batch, Now: e.d.clock.Now()})
		cancel()
		if err == nil {
			for _, s := range res.Stale {
				e.d.log.Info("webhook: outcome refused, lease taken by another owner", "delivery", s.DeliveryID)
			}
			break
		}
		e.d.log.Warn("webhook: recording outcomes", "count", len(batch), "try", try, "error", err)
		if e.isStopping() && try >= 3 {
			break
		}
		t := e.d.clock.NewTimer(b.NextBackOff())
		select {
		case <-t.C():
		case <-e.stopCh:
			t.Stop()
		}
	}
	e.forget(refs)
	e.wake()
}

func (e *engine) isStopping() bool {
	select {
	case <-e.stopCh:
		return true
	default:
		return false
	}
}
