package pgstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/internal/pgtest"
	"github.com/hooklet/webhook/store/pgstore"
	"github.com/hooklet/webhook/storetest"
	"github.com/hooklet/webhook/webhooktest"
)

// orderedItem is event i with one ordered delivery to ep_1 in sequence key.
func orderedItem(i int, key string) webhook.EnqueueItem {
	id := fmt.Sprintf("evt_%03d", i)
	d := storetest.NewDelivery(fmt.Sprintf("dlv_%03d", i), id, "ep_1", t0, t0)
	d.Ordered, d.OrderingKey = true, key
	return storetest.NewItem(storetest.NewEvent(id, t0), d)
}

// TestOrderedEnqueueFollowsCommitOrder holds a host transaction that
// enqueued into a sequence open while another enqueue into the same
// sequence runs: the second waits for the first to commit, so places
// follow commit order and nothing behind the uncommitted event can be
// leased before it (the pitfall of a SERIAL taken at insert).
func TestOrderedEnqueueFollowsCommitOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	tx, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.Background()) }()
	require.NoError(t, b.store.EnqueueTx(ctx, tx, &webhook.EnqueueParams{Now: t0, Items: []webhook.EnqueueItem{orderedItem(1, "k")}}))

	other := b.replica(t)
	done := make(chan error, 1)
	go func() {
		done <- other.Enqueue(ctx, &webhook.EnqueueParams{Now: t0, Items: []webhook.EnqueueItem{orderedItem(2, "k")}})
	}()
	// Wait until the second enqueue waits on the first one's lock.
	waiting := func() string {
		rows, err := b.pool.Query(ctx, `SELECT coalesce(wait_event_type, ''), coalesce(wait_event, ''), left(query, 60)
			FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND position($1 in query) > 0`, b.schema)
		require.NoError(t, err)
		var out string
		for rows.Next() {
			var a, e, q string
			require.NoError(t, rows.Scan(&a, &e, &q))
			out += a + " | " + e + " | " + q + "\n"
		}
		return out
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !strings.Contains(waiting(), "Lock |") {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("the second enqueue never waited on a lock:\n%s", waiting())
		}
	}
	select {
	case err := <-done:
		t.Fatalf("second enqueue returned before the first committed: %v", err)
	default:
	}
	lease := func() []webhook.Lease {
		ls, err := b.store.Lease(ctx, &webhook.LeaseParams{Owner: "a", Now: t0, Until: t0.Add(time.Minute), Limit: 10})
		require.NoError(t, err)
		return ls
	}
	require.Empty(t, lease(), "nothing is committed yet")
	require.NoError(t, tx.Commit(ctx))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("second enqueue still waits after the first committed")
	}
	ls := lease()
	require.Len(t, ls, 1)
	require.Equal(t, "dlv_001", ls[0].Delivery.ID)
	_, err = b.store.Complete(ctx, &webhook.CompleteParams{Now: t0, Outcomes: []webhook.Outcome{{
		Lease: webhook.LeaseRef{DeliveryID: ls[0].Delivery.ID, Token: ls[0].Token}, State: webhook.StateSucceeded}}})
	require.NoError(t, err)
	ls = lease()
	require.Len(t, ls, 1)
	require.Equal(t, "dlv_002", ls[0].Delivery.ID)
}

// TestOrderedLeaseIndexBacked checks the plans of the statements that
// find due work: neither scans the deliveries table, however many
// deliveries wait behind their heads.
func TestOrderedLeaseIndexBacked(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	var items []webhook.EnqueueItem
	for i := range 2000 {
		items = append(items, orderedItem(i, fmt.Sprint("key_", i%10)))
	}
	require.NoError(t, b.store.Enqueue(ctx, &webhook.EnqueueParams{Now: t0, Items: items}))
	_, err := b.pool.Exec(ctx, "ANALYZE "+b.schema+".deliveries")
	require.NoError(t, err)
	for name, q := range map[string]string{
		"lease": `SELECT id FROM ` + b.schema + `.deliveries
			WHERE state = 'pending' AND due_at <= $1 AND endpoint_id <> ALL($2::text[])
			ORDER BY due_at, id LIMIT 100`,
		"next due": `SELECT min(due_at) FROM ` + b.schema + `.deliveries
			WHERE state = 'pending' AND due_at < 'infinity' AND endpoint_id <> ALL($2::text[]) AND $1::timestamptz IS NOT NULL`,
	} {
		rows, err := b.pool.Query(ctx, "EXPLAIN "+q, t0, []string{})
		require.NoError(t, err)
		var plan string
		for rows.Next() {
			var line string
			require.NoError(t, rows.Scan(&line))
			plan += line + "\n"
		}
		require.NoError(t, rows.Err())
		require.NotContains(t, plan, "Seq Scan on deliveries", "%s:\n%s", name, plan)
		require.Contains(t, plan, "deliveries_due", "%s:\n%s", name, plan)
	}
}

// leaseKeeper is a replica's store that loses every write of lease
// outcomes, as a process killed at that moment would: its leases stay held
// until they expire.
type leaseKeeper struct {
	*pgstore.Store
}

func (s leaseKeeper) Release(context.Context, *webhook.ReleaseParams) error { return nil }

func (s leaseKeeper) Complete(_ context.Context, p *webhook.CompleteParams) (webhook.BatchResult, error) {
	return webhook.BatchResult{}, nil
}

// TestOrderedReplicas runs three Dispatchers on one schema and an ordered
// endpoint. The first leases the head of every key and dies with them in
// flight, its leases left to expire; the two others then deliver every
// key in emit order, never two of a key at once.
func TestOrderedReplicas(t *testing.T) {
	t.Parallel()
	const keys, perKey, lease = 10, 12, 30 * time.Second
	ctx := context.Background()
	url := pgtest.ConnString(t)
	schema := pgtest.NewSchema(t)
	clk := webhooktest.NewClock(t0)

	var (
		mu       sync.Mutex
		inFlight = map[string]bool{}
		overlap  []string
		ok       = map[string][]string{} // key -> webhook-ids answered 200, in order
		answered int
		hung     = make(chan string, keys)
		cut      = make(chan string, keys)
		allDone  = make(chan struct{})
	)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("webhook-id")
		var body struct {
			Data struct {
				Key string `json:"key"`
			} `json:"data"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		key := body.Data.Key
		mu.Lock()
		if inFlight[key] {
			overlap = append(overlap, id)
		}
		inFlight[key] = true
		mu.Unlock()
		defer func() {
			mu.Lock()
			inFlight[key] = false
			mu.Unlock()
		}()
		if r.UserAgent() == "replica-0" {
			hung <- id
			<-r.Context().Done() // the replica dies with the request in flight
			mu.Lock()
			inFlight[key] = false
			mu.Unlock()
			cut <- id
			return
		}
		mu.Lock()
		ok[key] = append(ok[key], id)
		answered++
		if answered == keys*perKey {
			close(allDone)
		}
		mu.Unlock()
	}))
	t.Cleanup(rc.Close)

	start := func(i int) (*webhook.Dispatcher, webhook.Store) {
		pool := pgtest.Pool(t, url, 8)
		st, err := pgstore.New(ctx, pool, &pgstore.Options{Schema: schema})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, st.Close()) })
		var store webhook.Store = st
		if i == 0 {
			store = leaseKeeper{st}
		}
		name := fmt.Sprint("replica-", i)
		d, err := webhook.New(webhook.Config{Store: store, AllowPrivateNetworks: true, Owner: name, UserAgent: name,
			LeaseDuration: lease, Test: webhook.TestConfig{Clock: clk}, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		require.NoError(t, d.Start(ctx))
		return d, st
	}
	event := func(k, n int) webhook.Event {
		key := fmt.Sprint("key_", k)
		return webhook.Event{ID: fmt.Sprintf("evt_%s_%02d", key, n), Type: "order.updated", OrderingKey: key,
			Payload: json.RawMessage(`{"key":"` + key + `"}`)}
	}

	victim, _ := start(0)
	require.NoError(t, victim.PutEndpoint(ctx, webhook.Endpoint{ID: "ep", URL: rc.URL, Ordered: true,
		MaxConcurrency: keys, Secrets: []webhook.Secret{{Key: testSecret}}}))
	for k := range keys {
		require.NoError(t, victim.Emit(ctx, event(k, 0)))
	}
	for range keys {
		select {
		case <-hung:
		case <-time.After(time.Minute):
			t.Fatal("the first replica never had every head in flight")
		}
	}

	var live []*webhook.Dispatcher
	for i := 1; i <= 2; i++ {
		d, _ := start(i)
		live = append(live, d)
		t.Cleanup(func() {
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			require.NoError(t, d.Close(cctx))
		})
	}
	// The rest of each key, emitted in order, through the live replicas
	// in turn.
	var wg sync.WaitGroup
	for k := range keys {
		wg.Go(func() {
			for n := 1; n < perKey; n++ {
				if err := live[n%2].Emit(ctx, event(k, n)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()

	// The first replica dies: its requests are cut, its outcomes and
	// releases lost; its leases hold the heads until they expire.
	dead, cancel := context.WithCancel(ctx)
	cancel()
	_ = victim.Close(dead)
	// The receiver sees the dead replica's connections close a moment
	// later; only then are its requests no longer in flight.
	for range keys {
		select {
		case <-cut:
		case <-time.After(time.Minute):
			t.Fatal("the dead replica's requests never ended at the receiver")
		}
	}
	mu.Lock()
	require.Empty(t, ok, "a delivery went while every head was held")
	mu.Unlock()
	clk.Advance(lease)

	select {
	case <-allDone:
	case <-time.After(2 * time.Minute):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("only %d of %d answered", answered, keys*perKey)
	}
	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, overlap, "two requests of one key in flight at once")
	for k := range keys {
		key := fmt.Sprint("key_", k)
		want := make([]string, perKey)
		for n := range perKey {
			want[n] = event(k, n).ID
		}
		require.Equal(t, want, ok[key], "key %s in emit order", key)
	}
}
