package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	webhook "github.com/hooklet/webhook"
)

// statsStore counts the store calls of the hot path, their items and the
// time spent in them, for -stats.
type statsStore struct {
	webhook.Store
	enqueue, lease, complete callStats
	release, nextDue         callStats
}

type callStats struct{ calls, items, nanos atomic.Int64 }

func (c *callStats) add(items int, since time.Time) {
	c.calls.Add(1)
	c.items.Add(int64(items))
	c.nanos.Add(int64(time.Since(since)))
}

func (c *callStats) String() string {
	n := max(c.calls.Load(), 1)
	return fmt.Sprintf("%d calls, %.1f items/call, %v/call", c.calls.Load(), float64(c.items.Load())/float64(n), time.Duration(c.nanos.Load()/n))
}

func (s *statsStore) Enqueue(ctx context.Context, p *webhook.EnqueueParams) error {
	defer s.enqueue.add(len(p.Items), time.Now())
	return s.Store.Enqueue(ctx, p)
}

func (s *statsStore) Lease(ctx context.Context, p *webhook.LeaseParams) ([]webhook.Lease, error) {
	t := time.Now()
	ls, err := s.Store.Lease(ctx, p)
	s.lease.add(len(ls), t)
	return ls, err
}

func (s *statsStore) Complete(ctx context.Context, p *webhook.CompleteParams) (webhook.BatchResult, error) {
	defer s.complete.add(len(p.Outcomes), time.Now())
	return s.Store.Complete(ctx, p)
}

func (s *statsStore) Release(ctx context.Context, p *webhook.ReleaseParams) error {
	defer s.release.add(len(p.Leases), time.Now())
	return s.Store.Release(ctx, p)
}

func (s *statsStore) NextDue(ctx context.Context, p *webhook.NextDueParams) (time.Time, bool, error) {
	defer s.nextDue.add(len(p.ExcludeEndpoints), time.Now())
	return s.Store.NextDue(ctx, p)
}

func (s *statsStore) print() {
	if *stats {
		fmt.Printf("  store: enqueue %v; lease %v; complete %v; release %v; next due (items: excluded endpoints) %v\n",
			&s.enqueue, &s.lease, &s.complete, &s.release, &s.nextDue)
	}
}

// Close closes the underlying store.
func (s *statsStore) Close() error {
	return s.Store.(interface{ Close() error }).Close()
}
