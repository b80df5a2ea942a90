package pgstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/pgstore"
	"github.com/hooklet/webhook/webhooktest"
)

// replicaStore is one replica's store, reporting the results of its
// TryLock, Prune and Unlock calls on calls; when crashed is set it drops
// Unlock, as a process killed while it holds the lock would.
type replicaStore struct {
	*pgstore.Store
	calls   chan string
	crashed bool
}

func (s *replicaStore) TryLock(ctx context.Context, p *webhook.TryLockParams) (bool, error) {
	ok, err := s.Store.TryLock(ctx, p)
	if err == nil {
		s.calls <- fmt.Sprintf("lock %t", ok)
	}
	return ok, err
}

func (s *replicaStore) Unlock(ctx context.Context, p *webhook.UnlockParams) error {
	if s.crashed {
		return nil
	}
	s.calls <- "unlock"
	return s.Store.Unlock(ctx, p)
}

func (s *replicaStore) Prune(ctx context.Context, p *webhook.PruneParams) (int, error) {
	n, err := s.Store.Prune(ctx, p)
	if err == nil {
		s.calls <- fmt.Sprintf("prune %d", n)
	}
	return n, err
}

func (s *replicaStore) expect(t *testing.T, want ...string) {
	t.Helper()
	for _, w := range want {
		select {
		case got := <-s.calls:
			require.Equal(t, w, got)
		case <-time.After(10 * time.Second):
			t.Fatalf("no %q in time", w)
		}
	}
}

// Two replicas' Dispatchers on one schema, with one manual clock: one
// prunes per round, and the other takes over when the first stops (it
// frees the retention lock) or, when it crashed, once its lock expires.
func TestRetentionOneReplicaAtATime(t *testing.T) {
	t.Parallel()
	for _, crash := range []bool{false, true} {
		t.Run(map[bool]string{false: "Stopped", true: "Crashed"}[crash], func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := t.Context()
			// Two deliveries finished at t0: one succeeded, one failed.
			require.NoError(t, b.store.Enqueue(ctx, &webhook.EnqueueParams{Now: t0,
				Items: []webhook.EnqueueItem{item("evt_ok", "ep_a"), item("evt_failed", "ep_a")}}))
			ls, err := b.store.Lease(ctx, &webhook.LeaseParams{Owner: "o", Now: t0, Until: t0.Add(time.Minute), Limit: 10})
			require.NoError(t, err)
			require.Len(t, ls, 2)
			var outs []webhook.Outcome
			for _, l := range ls {
				st := webhook.StateSucceeded
				if l.Delivery.EventID == "evt_failed" {
					st = webhook.StateFailed
				}
				outs = append(outs, webhook.Outcome{Lease: webhook.LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token},
					State: st, Attempts: []webhook.Attempt{{DeliveryID: l.Delivery.ID, Number: 1, StartedAt: t0, StatusCode: 500}}})
			}
			_, err = b.store.Complete(ctx, &webhook.CompleteParams{Outcomes: outs, Now: t0})
			require.NoError(t, err)

			clk := webhooktest.NewClock(t0)
			ra := &replicaStore{Store: b.store, calls: make(chan string, 100), crashed: crash}
			rb := &replicaStore{Store: b.replica(t), calls: make(chan string, 100)}
			start := func(s webhook.Store, owner string) *webhook.Dispatcher {
				d, err := webhook.New(webhook.Config{Store: s, Owner: owner, Retention: 90 * time.Minute,
					Test: webhook.TestConfig{Clock: clk}})
				require.NoError(t, err)
				t.Cleanup(func() { require.NoError(t, d.Close(context.Background())) })
				require.NoError(t, d.Start(ctx))
				return d
			}
			da := start(ra, "replica_a")
			ra.expect(t, "lock true", "prune 0")
			db := start(rb, "replica_b")
			rb.expect(t, "lock false")

			clk.Set(t0.Add(time.Hour))
			ra.expect(t, "lock true", "prune 0")
			rb.expect(t, "lock false")

			require.NoError(t, da.Close(ctx))
			if crash {
				clk.Set(t0.Add(2 * time.Hour))
				rb.expect(t, "lock false")
				clk.Set(t0.Add(3 * time.Hour))
			} else {
				ra.expect(t, "unlock")
				clk.Set(t0.Add(2 * time.Hour))
			}
			rb.expect(t, "lock true", "prune 1")
			page, err := b.store.ListDeliveries(ctx, &webhook.ListDeliveriesParams{})
			require.NoError(t, err)
			require.Len(t, page.Items, 1)
			require.Equal(t, webhook.StateFailed, page.Items[0].State)
			require.NoError(t, db.Close(ctx))
			rb.expect(t, "unlock")
			require.Empty(t, ra.calls)
			require.Empty(t, rb.calls)
		})
	}
}
