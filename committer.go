package webhook

import (
	"context"
	"sync"
	"time"
)

// committer coalesces concurrent Emit calls into one store write (group
// commit): while one Enqueue runs, new requests queue up, and the next
// Enqueue takes all of them. There is no timer: a lone Emit is written at
// once, and under load each write carries whatever arrived during the
// previous one.
type committer struct {
	d    *Dispatcher
	reqs chan *emitRequest

	mu     sync.RWMutex // guards closed against sends on reqs
	closed bool
	done   chan struct{} // closed when the loop has exited
}

type emitRequest struct {
	items []EnqueueItem
	done  chan error // buffered: the loop never blocks on a reply
}

var emitRequestPool = sync.Pool{New: func() any { return &emitRequest{done: make(chan error, 1)} }}

func newCommitter(d *Dispatcher) *committer {
	c := &committer{
		d:    d,
		reqs: make(chan *emitRequest, d.cfg.MaxEmitBatch),
		done: make(chan struct{}),
	}
	go c.loop()
	return c
}

// submit queues items and waits until they are durable, or ctx ends.
func (c *committer) submit(ctx context.Context, items []EnqueueItem) error {
	if len(items) == 0 {
		return nil
	}
	req := emitRequestPool.Get().(*emitRequest)
	req.items = items
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		emitRequestPool.Put(req)
		return ErrClosed
	}
	select {
	case c.reqs <- req:
	case <-ctx.Done():
		c.mu.RUnlock()
		emitRequestPool.Put(req)
		return ctx.Err()
	}
	c.mu.RUnlock()
	select {
	case err := <-req.done:
		req.items = nil
		emitRequestPool.Put(req)
		return err
	case <-ctx.Done():
		// The loop still owns req and replies into its buffer; it is not
		// reused.
		return ctx.Err()
	}
}

// close stops taking requests and waits until the queued ones are written.
func (c *committer) close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.reqs)
	}
	c.mu.Unlock()
	<-c.done
}

func (c *committer) loop() {
	defer close(c.done)
	var batch []*emitRequest
	var items []EnqueueItem
	// want is how many callers the next write is likely to serve: those it
	// answered last time (they tend to emit again) plus those that queued
	// during that write. lastWrite is how long that write took.
	var want int
	var lastWrite time.Duration
	for req := range c.reqs {
		batch = append(batch[:0], req)
		items = append(items[:0], req.items...)
		batch, items = c.gather(batch, items, want, lastWrite)
		queued := len(c.reqs)
		// The write is not bound to any one caller's ctx: it serves them
		// all, and a caller whose ctx ends stops waiting for it.
		start := time.Now()
		err := c.d.store.Enqueue(context.Background(), &EnqueueParams{Items: items, Now: c.d.clock.Now()})
		lastWrite = time.Since(start)
		for _, r := range batch {
			r.done <- err
		}
		want = min(len(batch)+len(c.reqs)-queued, c.d.cfg.MaxEmitBatch)
		clear(items) // drop references to payloads
		if err == nil {
			c.d.engine.wake()
		}
	}
}

// gather adds queued requests to the batch. While the batch serves fewer
// callers than want, it lingers for more, at most half as long as the last
// write took: one write per group of emitters costs less than one per half
// group, and the linger is bounded by the write it saves. It reads the
// system clock, not the Dispatcher's: the linger is an I/O batching detail
// that never decides what is sent or when a retry is due.
func (c *committer) gather(batch []*emitRequest, items []EnqueueItem, want int, lastWrite time.Duration) ([]*emitRequest, []EnqueueItem) {
	var linger *time.Timer
	for len(items) < c.d.cfg.MaxEmitBatch {
		var more *emitRequest
		var ok bool
		select {
		case more, ok = <-c.reqs:
		default:
			if len(batch) >= want || lastWrite <= 0 {
				return batch, items
			}
			if linger == nil {
				linger = time.NewTimer(lastWrite / 2)
				defer linger.Stop()
			}
			select {
			case more, ok = <-c.reqs:
			case <-linger.C:
				return batch, items
			}
		}
		if !ok {
			break
		}
		batch = append(batch, more)
		items = append(items, more.items...)
	}
	return batch, items
}
