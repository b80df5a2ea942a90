package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/pgstore"
)

// stageStore is the store with a clock on the calls the latency path makes:
// when each event's Enqueue returned, and when the Lease call that handed
// out its delivery began and returned. With the emitter's start and the
// receiver's arrival, it splits an event's latency into stages (-stages).
type stageStore struct {
	*pgstore.Store
	st *stages
}

func (s stageStore) Enqueue(ctx context.Context, p *webhook.EnqueueParams) error {
	err := s.Store.Enqueue(ctx, p)
	now := time.Now()
	s.st.mu.Lock()
	for i := range p.Items {
		s.st.stored[p.Items[i].Event.ID] = now
	}
	s.st.mu.Unlock()
	return err
}

func (s stageStore) Lease(ctx context.Context, p *webhook.LeaseParams) ([]webhook.Lease, error) {
	begin := time.Now()
	ls, err := s.Store.Lease(ctx, p)
	end := time.Now()
	s.st.mu.Lock()
	s.st.leases++
	for i := range ls {
		s.st.leased[ls[i].Event.ID] = [2]time.Time{begin, end}
	}
	s.st.mu.Unlock()
	return ls, err
}

func (s stageStore) NextDue(ctx context.Context, p *webhook.NextDueParams) (time.Time, bool, error) {
	s.st.mu.Lock()
	s.st.nextDues++
	s.st.mu.Unlock()
	return s.Store.NextDue(ctx, p)
}

// stages holds the instants stageStore and the emitters record.
type stages struct {
	mu               sync.Mutex
	called           map[string]time.Time    // Emit called
	stored           map[string]time.Time    // Enqueue returned
	leased           map[string][2]time.Time // the Lease call began, returned
	leases, nextDues int
}

func newStages() *stages {
	return &stages{called: map[string]time.Time{}, stored: map[string]time.Time{}, leased: map[string][2]time.Time{}}
}

func (s *stages) emitCalled(id string, at time.Time) {
	s.mu.Lock()
	s.called[id] = at
	s.mu.Unlock()
}

// report prints the median and p99 of each stage over the events ids;
// instants gives when each was meant to be emitted and when it arrived.
func (s *stages) report(ids []string, instants func(id string) (intended, arrived time.Time)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var toCall, toStored, toLeaseCall, leaseCall, toArrival []time.Duration
	for _, id := range ids {
		c, st, l := s.called[id], s.stored[id], s.leased[id]
		in, a := instants(id)
		if c.IsZero() || st.IsZero() || l[0].IsZero() || a.IsZero() {
			continue
		}
		toCall = append(toCall, c.Sub(in))
		toStored = append(toStored, st.Sub(c))
		// A lease call that began before the event was stored took it
		// only after its own wait for locks or its retry.
		toLeaseCall = append(toLeaseCall, l[0].Sub(st))
		leaseCall = append(leaseCall, l[1].Sub(l[0]))
		toArrival = append(toArrival, a.Sub(l[1]))
	}
	row := func(name string, ds []time.Duration) {
		fmt.Printf("stage\t%-28s p50 %8v  p99 %8v\n", name, pct(ds, 50), pct(ds, 99))
	}
	row("pacer -> Emit called", toCall)
	row("Emit -> Enqueue returned", toStored)
	row("Enqueue -> Lease call began", toLeaseCall)
	row("Lease call", leaseCall)
	row("Lease returned -> receiver", toArrival)
	fmt.Printf("stage\tlease calls %d, next-due calls %d, events %d\n", s.leases, s.nextDues, len(ids))
}
