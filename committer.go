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
	store    Store
	clock    Clock
	maxBatch int    // most events in one write, unless one request has more
	wake     func() // tells the engine that deliveries may be due
	metrics  *metrics
	reqs     chan *emitRequest

	mu     sync.RWMutex // guards closed against sends on reqs
	closed bool
	done   chan struct{} // closed when the loop has exited
}

type emitRequest struct {
	items []EnqueueItem
	done  chan error // buffered: the loop never blocks on a reply
}

var emitRequestPool = sync.Pool{New: func() any { return &emitRequest{done: make(chan error, 1)} }}

// newCommitter starts a committer that writes to store and calls wake
// after every write that stored something.
func newCommitter(store Store, clock Clock, maxBatch int, wake func(), m *metrics) *committer {
	c := &committer{
		store:    store,
		clock:    clock,
		maxBatch: maxBatch,
		wake:     wake,
		metrics:  m,
		reqs:     make(chan *emitRequest, maxBatch),
		done:     make(chan struct{}),
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

// close stops taking requests and waits until the queued ones are
// written, or ctx ends; the writes then finish in the background.
func (c *committer) close(ctx context.Context) error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.reqs)
	}
	c.mu.Unlock()
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *committer) loop() {
	defer close(c.done)
	b := batcher[*emitRequest]{
		in:     c.reqs,
		limit:  c.maxBatch,
		weight: func(r *emitRequest) int { return len(r.items) },
	}
	var batch []*emitRequest
	var items []EnqueueItem
	for req := range c.reqs {
		batch = b.collect(req, batch)
		items = items[:0]
		for _, r := range batch {
			items = append(items, r.items...)
		}
		start := time.Now()
		err := c.enqueue(items)
		b.wrote(len(batch), time.Since(start))
		stored := 0
		if err == nil {
			stored = len(items)
		}
		if err != nil && len(batch) > 1 {
			// One caller's events may be what the store refused: write
			// each caller's alone, so only that caller sees the error.
			errs := make([]error, len(batch))
			for i, r := range batch {
				if errs[i] = c.enqueue(r.items); errs[i] == nil {
					stored += len(r.items)
				}
			}
			c.metrics.commit(len(items), stored)
			for i, r := range batch {
				r.done <- errs[i]
			}
		} else {
			c.metrics.commit(len(items), stored)
			for _, r := range batch {
				r.done <- err
			}
		}
		clear(items) // drop references to payloads
		if stored > 0 {
			c.wake()
		}
	}
}

// enqueue makes one store write. It is not bound to any one caller's ctx:
// it serves them all, and a caller whose ctx ends stops waiting for it.
func (c *committer) enqueue(items []EnqueueItem) error {
	return c.store.Enqueue(context.Background(), &EnqueueParams{Items: items, Now: c.clock.Now()})
}
