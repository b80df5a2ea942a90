package webhook_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/memstore"
	"github.com/hooklet/webhook/webhooktest"
)

// pruneStore wraps a memstore and reports every Prune call.
type pruneStore struct {
	webhook.Store
	calls chan pruneCall
}

type pruneCall struct {
	p webhook.PruneParams
	n int
}

func (s *pruneStore) Prune(ctx context.Context, p *webhook.PruneParams) (int, error) {
	n, err := s.Store.Prune(ctx, p)
	s.calls <- pruneCall{*p, n}
	return n, err
}

func (s *pruneStore) next(t *testing.T) pruneCall {
	t.Helper()
	select {
	case c := <-s.calls:
		return c
	case <-time.After(waitTimeout):
		t.Fatal("no Prune call in time")
		return pruneCall{}
	}
}

// newPruneStore returns a pruneStore holding one succeeded and one failed
// delivery, both finished at epoch.
func newPruneStore(t *testing.T) *pruneStore {
	t.Helper()
	ms := memstore.New()
	t.Cleanup(func() { require.NoError(t, ms.Close()) })
	ctx := context.Background()
	var items []webhook.EnqueueItem
	for _, id := range []string{"ok", "failed"} {
		items = append(items, webhook.EnqueueItem{
			Event: webhook.Event{ID: "evt_" + id, Type: "a", Time: epoch, Payload: json.RawMessage(`1`)},
			Deliveries: []webhook.Delivery{{ID: "dlv_" + id, EventID: "evt_" + id, EndpointID: "ep",
				State: webhook.StatePending, NextAttemptAt: epoch, CreatedAt: epoch, UpdatedAt: epoch}},
		})
	}
	require.NoError(t, ms.Enqueue(ctx, &webhook.EnqueueParams{Items: items, Now: epoch}))
	ls, err := ms.Lease(ctx, &webhook.LeaseParams{Owner: "o", Now: epoch, Until: epoch.Add(time.Minute), Limit: 10})
	require.NoError(t, err)
	require.Len(t, ls, 2)
	var outs []webhook.Outcome
	for _, l := range ls {
		st := webhook.StateSucceeded
		if l.Delivery.ID == "dlv_failed" {
			st = webhook.StateFailed
		}
		outs = append(outs, webhook.Outcome{Lease: webhook.LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token}, State: st,
			Attempts: []webhook.Attempt{{DeliveryID: l.Delivery.ID, Number: 1, StartedAt: epoch, StatusCode: 500}}})
	}
	_, err = ms.Complete(ctx, &webhook.CompleteParams{Outcomes: outs, Now: epoch})
	require.NoError(t, err)
	return &pruneStore{Store: ms, calls: make(chan pruneCall, 100)}
}

// requireDeliveries checks which deliveries the store still holds.
func requireDeliveries(t *testing.T, s webhook.Store, want ...string) {
	t.Helper()
	page, err := s.ListDeliveries(context.Background(), &webhook.ListDeliveriesParams{})
	require.NoError(t, err)
	var got []string
	for _, d := range page.Items {
		got = append(got, d.ID)
	}
	require.Equal(t, want, got)
}

// A started Dispatcher prunes by itself: at start, then every
// RetentionInterval of its clock, keeping failed deliveries for
// RetentionFailed.
func TestRetentionPrunesByItself(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	st := newPruneStore(t)
	clk := webhooktest.NewClock(epoch)
	d := newDispatcher(t, webhook.Config{Store: st, Test: webhook.TestConfig{Clock: clk}})
	require.NoError(t, d.Start(context.Background()))

	c := st.next(t) // at start
	require.Equal(t, epoch.Add(-webhook.RetentionDefault), c.p.Before)
	require.Equal(t, epoch.Add(-webhook.RetentionFailedDefault), c.p.FailedBefore)
	require.Zero(t, c.n)

	// The next round's timer was armed before this round ran, so moving
	// the clock fires it.
	clk.Set(epoch.Add(31 * day))
	c = st.next(t)
	require.Equal(t, 1, c.n)
	require.Equal(t, epoch.Add(day), c.p.Before)
	requireDeliveries(t, st, "dlv_failed")

	clk.Set(epoch.Add(91 * day))
	c = st.next(t)
	require.Equal(t, 1, c.n)
	requireDeliveries(t, st)
	_, err := st.GetEvent(context.Background(), &webhook.GetEventParams{ID: "evt_failed"})
	require.ErrorIs(t, err, webhook.ErrNotFound)
}

// A negative RetentionFailed keeps failed deliveries for ever; a negative
// Retention turns pruning off.
func TestRetentionNegative(t *testing.T) {
	t.Parallel()
	t.Run("FailedKept", func(t *testing.T) {
		t.Parallel()
		st := newPruneStore(t)
		clk := webhooktest.NewClock(epoch.Add(10000 * 24 * time.Hour))
		d := newDispatcher(t, webhook.Config{Store: st, Test: webhook.TestConfig{Clock: clk}, RetentionFailed: -1})
		require.NoError(t, d.Start(context.Background()))
		require.Equal(t, 1, st.next(t).n)
		requireDeliveries(t, st, "dlv_failed")
	})
	t.Run("Off", func(t *testing.T) {
		t.Parallel()
		st := newPruneStore(t)
		clk := webhooktest.NewClock(epoch.Add(10000 * 24 * time.Hour))
		d := newDispatcher(t, webhook.Config{Store: st, Test: webhook.TestConfig{Clock: clk}, Retention: -1})
		require.NoError(t, d.Start(context.Background()))
		// A pruner would have made its first call before Close returns.
		require.NoError(t, d.Close(context.Background()))
		require.Empty(t, st.calls)
		requireDeliveries(t, st, "dlv_failed", "dlv_ok")
	})
}

// Dispatcher.Prune deletes failed deliveries too, and counts as pruned in
// the metrics.
func TestPruneByHand(t *testing.T) {
	t.Parallel()
	mp, rd := newMeter(t)
	st := newPruneStore(t)
	clk := webhooktest.NewClock(epoch.Add(time.Hour))
	d := newDispatcher(t, webhook.Config{Store: st, Test: webhook.TestConfig{Clock: clk}, MeterProvider: mp})
	n, err := d.Prune(context.Background(), time.Minute)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Equal(t, int64(2), collect(t, rd).sum(t, webhook.MetricDeliveriesPruned, nil))
}
