package boltstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/boltstore"
	"github.com/hooklet/webhook/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)

func openTemp(t *testing.T) (*boltstore.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hooklet.db")
	st, err := boltstore.Open(path, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st, path
}

func reopen(t *testing.T, st *boltstore.Store, path string) *boltstore.Store {
	t.Helper()
	require.NoError(t, st.Close())
	st2, err := boltstore.Open(path, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st2.Close() })
	return st2
}

// item returns an event of storetest with one pending delivery per
// "dlv_X@ep" (endpoint ep_1 when no @ep), made and due at t0.
func item(evID string, deliveries ...string) webhook.EnqueueItem {
	it := storetest.NewItem(storetest.NewEvent(evID, t0))
	for _, d := range deliveries {
		id, ep, ok := strings.Cut(d, "@")
		if !ok {
			ep = "ep_1"
		}
		it.Deliveries = append(it.Deliveries, storetest.NewDelivery(id, evID, ep, t0, t0))
	}
	return it
}

func enqueue(t *testing.T, st *boltstore.Store, items ...webhook.EnqueueItem) {
	t.Helper()
	require.NoError(t, st.Enqueue(context.Background(), &webhook.EnqueueParams{Items: items, Now: t0}))
}

func lease(t *testing.T, st *boltstore.Store, now time.Time, limit int, exclude ...string) []webhook.Lease {
	t.Helper()
	ls, err := st.Lease(context.Background(), &webhook.LeaseParams{
		Owner: "w1", Now: now, Until: now.Add(time.Minute), Limit: limit, ExcludeEndpoints: exclude,
	})
	require.NoError(t, err)
	return ls
}

func ids(ls []webhook.Lease) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Delivery.ID)
	}
	return out
}

func TestOpenCorruptFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "garbage.db")
	garbage := make([]byte, 64<<10)
	for i := range garbage {
		garbage[i] = byte(i*7 + 3)
	}
	require.NoError(t, os.WriteFile(path, garbage, 0o600))
	st, err := boltstore.Open(path, nil)
	require.Nil(t, st)
	require.ErrorIs(t, err, boltstore.ErrCorrupt)
	var oe *boltstore.OpenError
	require.ErrorAs(t, err, &oe)
	require.Equal(t, path, oe.Path)
}

func TestOpenShortFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "short.db")
	require.NoError(t, os.WriteFile(path, []byte("not a database"), 0o600))
	_, err := boltstore.Open(path, nil)
	require.ErrorIs(t, err, boltstore.ErrCorrupt)
}

func TestOpenDamagedPages(t *testing.T) {
	t.Parallel()
	st, path := openTemp(t)
	for i := range 50 {
		enqueue(t, st, item(fmt.Sprintf("evt_%03d", i), fmt.Sprintf("dlv_%03d", i)))
	}
	require.NoError(t, st.Close())

	// Keep the two meta pages, overwrite every other page with garbage.
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	pageSize := os.Getpagesize()
	for i := 2 * pageSize; i < len(raw); i++ {
		raw[i] = byte(i*31 + 17)
	}
	require.NoError(t, os.WriteFile(path, raw, 0o600))

	st2, err := boltstore.Open(path, nil)
	if err == nil {
		// bbolt may not notice until a record is read; reading must still
		// fail cleanly, never panic.
		defer st2.Close()
		_, err = st2.GetEvent(context.Background(), &webhook.GetEventParams{ID: "evt_001"})
		require.Error(t, err)
		return
	}
	require.ErrorIs(t, err, boltstore.ErrCorrupt)
}

func TestOpenUnwritablePath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "plain")
	require.NoError(t, os.WriteFile(file, nil, 0o600))

	for name, path := range map[string]string{
		"UnderAFile":   filepath.Join(file, "hooklet.db"),
		"MissingDir":   filepath.Join(dir, "missing", "hooklet.db"),
		"IsADirectory": dir,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st, err := boltstore.Open(path, nil)
			require.Nil(t, st)
			require.Error(t, err)
			var oe *boltstore.OpenError
			require.ErrorAs(t, err, &oe)
			require.NotErrorIs(t, err, boltstore.ErrLocked)
		})
	}
	t.Run("PathErrorUnderAFile", func(t *testing.T) {
		t.Parallel()
		_, err := boltstore.Open(filepath.Join(file, "x.db"), nil)
		var pe *fs.PathError
		require.ErrorAs(t, err, &pe)
	})
}

func TestOpenLocked(t *testing.T) {
	t.Parallel()
	_, path := openTemp(t)
	start := time.Now()
	st, err := boltstore.Open(path, &boltstore.Options{Timeout: 100 * time.Millisecond})
	require.Nil(t, st)
	require.ErrorIs(t, err, boltstore.ErrLocked)
	var oe *boltstore.OpenError
	require.ErrorAs(t, err, &oe)
	require.Equal(t, "boltstore: open "+path+": file is locked by another process: waited 100ms", err.Error())
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestOpenReleasesLeases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, path := openTemp(t)
	enqueue(t, st, item("evt_1", "dlv_1"), item("evt_2", "dlv_2"))
	// Lease both for a long time.
	ls, err := st.Lease(ctx, &webhook.LeaseParams{Owner: "w1", Now: t0, Until: t0.Add(24 * time.Hour), Limit: 10})
	require.NoError(t, err)
	require.Len(t, ls, 2)
	require.Empty(t, lease(t, st, t0.Add(time.Second), 10))

	st = reopen(t, st, path)

	at, ok, err := st.NextDue(ctx, &webhook.NextDueParams{Now: t0})
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, t0, at) // back at NextAttemptAt, not the lease deadline
	again := lease(t, st, t0.Add(time.Second), 10)
	require.Equal(t, []string{"dlv_1", "dlv_2"}, ids(again))

	// Tokens of the previous process are stale.
	res, err := st.Complete(ctx, &webhook.CompleteParams{Now: t0, Outcomes: []webhook.Outcome{{
		Lease: webhook.LeaseRef{DeliveryID: "dlv_1", Token: ls[0].Token}, State: webhook.StateSucceeded,
	}}})
	require.NoError(t, err)
	require.Len(t, res.Stale, 1)
}

func TestDurableAcrossReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, path := openTemp(t)
	ep := webhook.Endpoint{
		ID: "ep_1", Tenant: "t1", URL: "https://example.com/hooks",
		EventTypes: []string{"invoice.*"}, Headers: map[string]string{"X-A": "b"},
		Secrets:   []webhook.Secret{{Key: "whsec_abc"}, {Key: "whsec_old", ExpiresAt: t0}},
		Settings:  json.RawMessage(`{"k":1}`),
		Retry:     &webhook.RetryPolicy{Schedule: []time.Duration{time.Second}, Jitter: 0.5, StopOnClientError: true},
		CreatedAt: t0, UpdatedAt: t0,
	}
	require.NoError(t, st.PutEndpoint(ctx, &webhook.PutEndpointParams{Endpoint: ep}))
	enqueue(t, st, item("evt_1", "dlv_1"))
	ls := lease(t, st, t0, 1)
	require.Len(t, ls, 1)
	res, err := st.Complete(ctx, &webhook.CompleteParams{Now: t0.Add(time.Second), Outcomes: []webhook.Outcome{{
		Lease:    webhook.LeaseRef{DeliveryID: "dlv_1", Token: ls[0].Token},
		Attempts: []webhook.Attempt{{DeliveryID: "dlv_1", Number: 1, StartedAt: t0, Duration: time.Millisecond, StatusCode: 200, ResponseBody: []byte("ok")}},
		State:    webhook.StateSucceeded,
	}}})
	require.NoError(t, err)
	require.Empty(t, res.Stale)

	st = reopen(t, st, path)

	got, err := st.GetEndpoint(ctx, &webhook.GetEndpointParams{ID: "ep_1"})
	require.NoError(t, err)
	require.Equal(t, ep, got)
	ev, err := st.GetEvent(ctx, &webhook.GetEventParams{ID: "evt_1"})
	require.NoError(t, err)
	require.Equal(t, item("evt_1").Event, ev)
	d, err := st.GetDelivery(ctx, &webhook.GetDeliveryParams{ID: "dlv_1"})
	require.NoError(t, err)
	require.Equal(t, webhook.StateSucceeded, d.State)
	require.Equal(t, 1, d.Attempts)
	require.Equal(t, 200, d.LastStatusCode)
	as, err := st.ListAttempts(ctx, &webhook.ListAttemptsParams{DeliveryID: "dlv_1"})
	require.NoError(t, err)
	require.Equal(t, []webhook.Attempt{{DeliveryID: "dlv_1", Number: 1, StartedAt: t0, Duration: time.Millisecond, StatusCode: 200, ResponseBody: []byte("ok")}}, as.Items)
}

func TestLeaseOrderAndExclude(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := openTemp(t)
	var items []webhook.EnqueueItem
	// A large due backlog on ep_big, earlier than the others.
	for i := range 2000 {
		items = append(items, item(fmt.Sprintf("evt_a%04d", i), fmt.Sprintf("dlv_a%04d@ep_big", i)))
	}
	late := item("evt_b", "dlv_b@ep_2")
	late.Deliveries[0].NextAttemptAt = t0.Add(time.Second)
	later := item("evt_c", "dlv_c@ep_3")
	later.Deliveries[0].NextAttemptAt = t0.Add(2 * time.Second)
	items = append(items, later, late)
	enqueue(t, st, items...)

	at, ok, err := st.NextDue(ctx, &webhook.NextDueParams{Now: t0, ExcludeEndpoints: []string{"ep_big"}})
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, t0.Add(time.Second), at)

	require.Empty(t, lease(t, st, t0, 10, "ep_big"))
	require.Equal(t, []string{"dlv_b", "dlv_c"}, ids(lease(t, st, t0.Add(5*time.Second), 10, "ep_big")))
	got := lease(t, st, t0.Add(5*time.Second), 3)
	require.Equal(t, []string{"dlv_a0000", "dlv_a0001", "dlv_a0002"}, ids(got))
	require.Equal(t, "evt_a0000", got[0].Event.ID)
	require.Equal(t, storetest.NewEvent("evt_a0000", t0), got[0].Event)

	// Leased ones come back when their lease expires, at their
	// NextAttemptAt: before the rest of ep_big's backlog, after
	// nothing else.
	again := lease(t, st, t0.Add(5*time.Second+time.Minute-time.Microsecond), 4)
	require.Equal(t, []string{"dlv_a0003", "dlv_a0004", "dlv_a0005", "dlv_a0006"}, ids(again))
	again = lease(t, st, t0.Add(5*time.Second+2*time.Minute), 6)
	require.Equal(t, []string{"dlv_a0000", "dlv_a0001", "dlv_a0002", "dlv_a0003", "dlv_a0004", "dlv_a0005"}, ids(again))
}

func TestLeaseMergesEndpoints(t *testing.T) {
	t.Parallel()
	st, _ := openTemp(t)
	var items []webhook.EnqueueItem
	for i := range 30 {
		it := item(fmt.Sprintf("evt_%02d", i), fmt.Sprintf("dlv_%02d@ep_%d", i, i%3))
		it.Deliveries[0].NextAttemptAt = t0.Add(time.Duration(30-i) * time.Second)
		items = append(items, it)
	}
	enqueue(t, st, items...)
	var want []string
	for i := 29; i >= 0; i-- {
		want = append(want, fmt.Sprintf("dlv_%02d", i))
	}
	require.Equal(t, want[:25], ids(lease(t, st, t0.Add(time.Hour), 25)))
	require.Equal(t, want[25:], ids(lease(t, st, t0.Add(time.Hour), 25)))
}

func TestOpenRandomDamage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, path := openTemp(t)
	for i := range 200 {
		enqueue(t, st, item(fmt.Sprintf("evt_%03d", i), fmt.Sprintf("dlv_%03d@ep_%d", i, i%5)))
	}
	require.NoError(t, st.Close())
	clean, err := os.ReadFile(path)
	require.NoError(t, err)
	pageSize := os.Getpagesize()

	for seed := range damageSeeds {
		t.Run(fmt.Sprintf("Seed%d", seed), func(t *testing.T) {
			t.Parallel()
			raw := append([]byte{}, clean...)
			rnd := rand.New(rand.NewPCG(uint64(seed), 7))
			// Damage a run of bytes inside one page other than the metas.
			pg := 2 + rnd.IntN(len(raw)/pageSize-2)
			off := pg*pageSize + rnd.IntN(pageSize)
			for i := 0; i < 1+rnd.IntN(64) && off+i < len(raw); i++ {
				raw[off+i] = byte(rnd.Uint32())
			}
			p := filepath.Join(t.TempDir(), "damaged.db")
			require.NoError(t, os.WriteFile(p, raw, 0o600))
			st, err := boltstore.Open(p, nil)
			if err != nil {
				require.ErrorIs(t, err, boltstore.ErrCorrupt)
				return
			}
			defer st.Close()
			// Whatever is read may fail, but must not panic.
			_, _ = st.ListDeliveries(ctx, &webhook.ListDeliveriesParams{Limit: 1000})
			_, _ = st.Lease(ctx, &webhook.LeaseParams{Now: t0, Until: t0.Add(time.Minute), Limit: 1000})
			for i := range 200 {
				_, _ = st.GetEvent(ctx, &webhook.GetEventParams{ID: fmt.Sprintf("evt_%03d", i)})
			}
			_, _ = st.Prune(ctx, &webhook.PruneParams{Before: t0.Add(time.Hour)})
			_ = st.Enqueue(ctx, &webhook.EnqueueParams{Items: []webhook.EnqueueItem{item("evt_new", "dlv_new")}, Now: t0})
		})
	}
}

// damageSeeds is how many damaged copies TestOpenRandomDamage tries.
const damageSeeds = 40

func TestPruneManyEventsWithoutDeliveries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := openTemp(t)
	var items []webhook.EnqueueItem
	for i := range 25 {
		items = append(items, item(fmt.Sprintf("evt_%02d", i)))
	}
	enqueue(t, st, items...)
	calls := 0
	for {
		calls++
		n, err := st.Prune(ctx, &webhook.PruneParams{Before: t0.Add(time.Hour), Limit: 10})
		require.NoError(t, err)
		if n < 10 {
			break
		}
	}
	require.Equal(t, 3, calls)
	for i := range 25 {
		_, err := st.GetEvent(ctx, &webhook.GetEventParams{ID: fmt.Sprintf("evt_%02d", i)})
		require.ErrorIs(t, err, webhook.ErrNotFound)
	}
}

// TestNextDueStepsOverLeases checks that NextDue, with leases held in
// memory, reports the earliest of an unleased delivery's NextAttemptAt and
// a lease deadline, and ignores the leases of excluded endpoints.
func TestNextDueStepsOverLeases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := openTemp(t)
	second := item("evt_2", "dlv_2")
	second.Deliveries[0].NextAttemptAt = t0.Add(10 * time.Second)
	other := item("evt_3", "dlv_3@ep_2")
	other.Deliveries[0].NextAttemptAt = t0.Add(time.Hour)
	enqueue(t, st, item("evt_1", "dlv_1"), second, other)
	nextDue := func(exclude ...string) time.Time {
		t.Helper()
		at, ok, err := st.NextDue(ctx, &webhook.NextDueParams{Now: t0, ExcludeEndpoints: exclude})
		require.NoError(t, err)
		require.True(t, ok)
		return at
	}

	// dlv_1, the head of ep_1, is leased until t0+1m: dlv_2 is next.
	require.Equal(t, []string{"dlv_1"}, ids(lease(t, st, t0, 10)))
	require.Equal(t, t0.Add(10*time.Second), nextDue())
	// Both leased: the earlier deadline is next.
	require.Equal(t, []string{"dlv_2"}, ids(lease(t, st, t0.Add(10*time.Second), 10)))
	require.Equal(t, t0.Add(time.Minute), nextDue())
	// Excluding ep_1 leaves ep_2's delivery, leases of ep_1 aside.
	require.Equal(t, t0.Add(time.Hour), nextDue("ep_1"))
	_, ok, err := st.NextDue(ctx, &webhook.NextDueParams{Now: t0, ExcludeEndpoints: []string{"ep_1", "ep_2"}})
	require.NoError(t, err)
	require.False(t, ok)
}

// TestNextDueAfterBacklogFront checks NextDue and Lease once Complete took
// the front of a due backlog, which leaves the endpoint's head behind.
func TestNextDueAfterBacklogFront(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := openTemp(t)
	b := item("evt_b", "dlv_b")
	b.Deliveries[0].NextAttemptAt = t0.Add(2 * time.Second)
	c := item("evt_c", "dlv_c@ep_2")
	c.Deliveries[0].NextAttemptAt = t0.Add(time.Second)
	enqueue(t, st, item("evt_a", "dlv_a"), b, c)
	now := t0.Add(10 * time.Second)
	ls, err := st.Lease(ctx, &webhook.LeaseParams{Owner: "w", Now: now, Until: now.Add(time.Minute), Limit: 1})
	require.NoError(t, err)
	require.Equal(t, []string{"dlv_a"}, ids(ls))
	_, err = st.Complete(ctx, &webhook.CompleteParams{Now: now, Outcomes: []webhook.Outcome{{
		Lease: webhook.LeaseRef{DeliveryID: "dlv_a", Token: ls[0].Token}, State: webhook.StateSucceeded,
	}}})
	require.NoError(t, err)
	nextDue := func(exclude ...string) time.Time {
		t.Helper()
		at, ok, err := st.NextDue(ctx, &webhook.NextDueParams{Now: now, ExcludeEndpoints: exclude})
		require.NoError(t, err)
		require.True(t, ok)
		return at
	}
	require.Equal(t, t0.Add(time.Second), nextDue())
	require.Equal(t, t0.Add(2*time.Second), nextDue("ep_2"))
	require.Equal(t, []string{"dlv_c", "dlv_b"}, ids(lease(t, st, now, 10)))
	// Both leased: the earlier lease deadline is next.
	require.Equal(t, now.Add(time.Minute), nextDue())
}
