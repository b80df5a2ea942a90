package webhook_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/webhooktest"
)

// lockStore is one Dispatcher's view of a store shared with others that is
// a webhook.Locker: it reports the results of its TryLock, Prune and
// Unlock calls on calls, and, when crashed is set, drops Unlock as a
// process killed while it holds the lock would.
type lockStore struct {
	webhook.Store
	locker  webhook.Locker
	calls   chan string
	crashed bool
}

func newLockStore(s webhook.Store) *lockStore {
	return &lockStore{Store: s, locker: s.(webhook.Locker), calls: make(chan string, 100)}
}

func (s *lockStore) TryLock(ctx context.Context, p *webhook.TryLockParams) (bool, error) {
	ok, err := s.locker.TryLock(ctx, p)
	if err == nil {
		s.calls <- fmt.Sprintf("lock %t", ok)
	}
	return ok, err
}

func (s *lockStore) Unlock(ctx context.Context, p *webhook.UnlockParams) error {
	if s.crashed {
		return nil
	}
	s.calls <- "unlock"
	return s.locker.Unlock(ctx, p)
}

func (s *lockStore) Prune(ctx context.Context, p *webhook.PruneParams) (int, error) {
	n, err := s.Store.Prune(ctx, p)
	if err == nil {
		s.calls <- fmt.Sprintf("prune %d", n)
	}
	return n, err
}

// expect waits for the next calls of s and checks them.
func (s *lockStore) expect(t *testing.T, want ...string) {
	t.Helper()
	for _, w := range want {
		select {
		case got := <-s.calls:
			require.Equal(t, w, got)
		case <-time.After(waitTimeout):
			t.Fatalf("no %q in time", w)
		}
	}
}

// Two Dispatchers share a store that is a Locker: one prunes per round
// while the other's rounds only find the lock taken, and the other takes
// over once the first stops (it frees the lock) or, had it crashed, once
// its lock expires.
func TestRetentionOneDispatcherAtATime(t *testing.T) {
	t.Parallel()
	for _, crash := range []bool{false, true} {
		t.Run(map[bool]string{false: "Stopped", true: "Crashed"}[crash], func(t *testing.T) {
			t.Parallel()
			shared := newPruneStore(t).Store // dlv_ok and dlv_failed, finished at epoch
			clk := webhooktest.NewClock(epoch)
			a, b := newLockStore(shared), newLockStore(shared)
			a.crashed = crash
			cfg := func(s webhook.Store, owner string) webhook.Config {
				return webhook.Config{Store: s, Owner: owner, Retention: 90 * time.Minute,
					Test: webhook.TestConfig{Clock: clk}}
			}
			da := newDispatcher(t, cfg(a, "a"))
			db := newDispatcher(t, cfg(b, "b"))
			require.NoError(t, da.Start(t.Context()))
			a.expect(t, "lock true", "prune 0")
			require.NoError(t, db.Start(t.Context()))
			b.expect(t, "lock false")

			clk.Set(epoch.Add(time.Hour))
			a.expect(t, "lock true", "prune 0") // renewed until epoch+3h
			b.expect(t, "lock false")

			require.NoError(t, da.Close(t.Context()))
			if crash {
				// The lock lives on until epoch+3h.
				clk.Set(epoch.Add(2 * time.Hour))
				b.expect(t, "lock false")
				clk.Set(epoch.Add(3 * time.Hour))
			} else {
				a.expect(t, "unlock")
				clk.Set(epoch.Add(2 * time.Hour))
			}
			b.expect(t, "lock true", "prune 1")
			requireDeliveries(t, shared, "dlv_failed")
			require.NoError(t, db.Close(t.Context()))
			b.expect(t, "unlock")
			require.Empty(t, a.calls)
			require.Empty(t, b.calls)
		})
	}
}

// Without a Locker, every Dispatcher sharing the store prunes in every
// round.
func TestRetentionWithoutLockerEveryDispatcherPrunes(t *testing.T) {
	t.Parallel()
	st := newPruneStore(t)
	clk := webhooktest.NewClock(epoch.Add(2 * time.Hour))
	cfg := webhook.Config{Store: st, Retention: 90 * time.Minute, Test: webhook.TestConfig{Clock: clk}}
	for _, owner := range []string{"a", "b"} {
		cfg.Owner = owner
		require.NoError(t, newDispatcher(t, cfg).Start(t.Context()))
	}
	got := st.next(t).n + st.next(t).n
	require.Equal(t, 1, got)
	requireDeliveries(t, st, "dlv_failed")
}
