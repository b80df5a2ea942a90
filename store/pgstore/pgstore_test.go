package pgstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/internal/pgtest"
	"github.com/hooklet/webhook/store/pgstore"
)

func TestMain(m *testing.M) {
	if os.Getenv(envReplica) != "" {
		os.Exit(replicaMain())
	}
	pgtest.Main(m)
}

// testBundle is one test's store on its own schema.
type testBundle struct {
	store  *pgstore.Store
	pool   *pgxpool.Pool
	schema string
	url    string
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	url := pgtest.ConnString(t)
	schema := pgtest.NewSchema(t)
	pool := pgtest.Pool(t, url, 8)
	st, err := pgstore.New(context.Background(), pool, &pgstore.Options{Schema: schema})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	return &testBundle{store: st, pool: pool, schema: schema, url: url}
}

// replica opens another store on the same schema through its own pool, as
// another process would.
func (b *testBundle) replica(t *testing.T) *pgstore.Store {
	t.Helper()
	pool := pgtest.Pool(t, b.url, 4)
	st, err := pgstore.New(context.Background(), pool, &pgstore.Options{Schema: b.schema})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	return st
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func item(id string, endpoints ...string) webhook.EnqueueItem {
	it := webhook.EnqueueItem{Event: webhook.Event{
		ID: id, Type: "invoice.paid", Time: t0, Payload: json.RawMessage(`{"n":1}`),
	}}
	for _, ep := range endpoints {
		it.Deliveries = append(it.Deliveries, webhook.Delivery{
			ID: "dlv_" + id + "_" + ep, EventID: id, EndpointID: ep, State: webhook.StatePending,
			NextAttemptAt: t0, CreatedAt: t0, UpdatedAt: t0,
		})
	}
	return it
}

func recv(t *testing.T, ch <-chan webhook.Notification) webhook.Notification {
	t.Helper()
	select {
	case n, ok := <-ch:
		require.True(t, ok, "notification channel closed")
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("no notification within 10s")
		return webhook.Notification{}
	}
}

// listening returns st's notifications once its listener is in place.
func listening(t *testing.T, st *pgstore.Store) <-chan webhook.Notification {
	t.Helper()
	select {
	case <-st.Listening():
	case <-time.After(20 * time.Second):
		t.Fatal("listener not listening within 20s")
	}
	return st.Notifications()
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.ConnString(t)
	schema := pgtest.NewSchema(t)
	pool := pgtest.Pool(t, url, 8)

	_, err := pgstore.New(ctx, pool, &pgstore.Options{Schema: schema, SkipMigrate: true})
	require.Error(t, err, "an unmigrated schema is refused with SkipMigrate")

	// Replicas starting together: each migration is applied once.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			st, err := pgstore.New(ctx, pool, &pgstore.Options{Schema: schema})
			if err == nil {
				err = st.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	var n int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schema}.Sanitize()+".schema_migrations").Scan(&n))
	require.Equal(t, 3, n)

	// A schema at version 1 gets only what it lacks.
	q := pgx.Identifier{schema}.Sanitize()
	_, err = pool.Exec(ctx, "DROP TABLE "+q+".meta; ALTER TABLE "+q+".endpoints DROP COLUMN signature_kind, DROP COLUMN signature_header, DROP COLUMN signature_prefix; DELETE FROM "+q+".schema_migrations WHERE version > 1")
	require.NoError(t, err)
	_, err = pgstore.New(ctx, pool, &pgstore.Options{Schema: schema, SkipMigrate: true})
	require.Error(t, err, "an outdated schema is refused with SkipMigrate")
	require.NoError(t, pgstore.Migrate(ctx, pool, &pgstore.Options{Schema: schema}))
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+q+".schema_migrations").Scan(&n))
	require.Equal(t, 3, n)
	st, err := pgstore.New(ctx, pool, &pgstore.Options{Schema: schema, SkipMigrate: true})
	require.NoError(t, err)
	require.NoError(t, st.Close())
}

func TestEndpointRoundTrip(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	ep := webhook.Endpoint{
		ID: "ep_1", Tenant: "acme", URL: "https://example.com/hook", Description: "d",
		EventTypes: []string{"invoice.*"}, Template: "{}", ContentType: "text/plain",
		Settings: json.RawMessage(`{"b": 2, "a": 1}`), Headers: map[string]string{"X-A": "1"},
		Secrets: []webhook.Secret{
			{Key: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
			{Key: "whsec_old", ExpiresAt: t0.Add(time.Hour)},
		},
		Disabled: true, DisabledReason: "410 Gone", MaxConcurrency: 3,
		Retry:     &webhook.RetryPolicy{Schedule: []time.Duration{time.Second, time.Minute}, Jitter: -1, StopOnClientError: true},
		CreatedAt: t0, UpdatedAt: t0.Add(time.Second),
	}
	require.NoError(t, b.store.PutEndpoint(ctx, &webhook.PutEndpointParams{Endpoint: ep}))
	got, err := b.store.GetEndpoint(ctx, &webhook.GetEndpointParams{ID: "ep_1"})
	require.NoError(t, err)
	require.Equal(t, ep, got)

	require.NoError(t, b.store.DeleteEndpoint(ctx, &webhook.DeleteEndpointParams{ID: "ep_1"}))
	_, err = b.store.GetEndpoint(ctx, &webhook.GetEndpointParams{ID: "ep_1"})
	require.ErrorIs(t, err, webhook.ErrNotFound)
	require.ErrorIs(t, b.store.DeleteEndpoint(ctx, &webhook.DeleteEndpointParams{ID: "ep_1"}), webhook.ErrNotFound)
}

func TestEnqueueIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	first := item("evt_1", "ep_a", "ep_b")
	first.Event.Attributes = map[string]string{"org": "o1"}
	require.NoError(t, b.store.Enqueue(ctx, &webhook.EnqueueParams{Now: t0, Items: []webhook.EnqueueItem{first, item("evt_1", "ep_c")}}))
	// Again, with a new delivery: nothing new.
	require.NoError(t, b.store.Enqueue(ctx, &webhook.EnqueueParams{Now: t0, Items: []webhook.EnqueueItem{item("evt_1", "ep_d"), item("evt_2", "ep_a")}}))

	ev, err := b.store.GetEvent(ctx, &webhook.GetEventParams{ID: "evt_1"})
	require.NoError(t, err)
	require.Equal(t, first.Event, ev)
	page, err := b.store.ListDeliveries(ctx, &webhook.ListDeliveriesParams{EventID: "evt_1"})
	require.NoError(t, err)
	require.Len(t, page.Items, 2)
	require.Equal(t, "ep_a", page.Items[0].EndpointID)
	require.Equal(t, "ep_b", page.Items[1].EndpointID)
	page, err = b.store.ListDeliveries(ctx, &webhook.ListDeliveriesParams{})
	require.NoError(t, err)
	require.Len(t, page.Items, 3)
}

func TestEnqueueTx(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	notes := listening(t, b.replica(t))

	err := b.store.EnqueueTx(ctx, "not a tx", &webhook.EnqueueParams{Now: t0, Items: []webhook.EnqueueItem{item("evt_x", "ep")}})
	require.ErrorIs(t, err, webhook.ErrInvalidTx)

	// Rolled back: nothing.
	tx, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, b.store.EnqueueTx(ctx, tx, &webhook.EnqueueParams{Now: t0, Items: []webhook.EnqueueItem{item("evt_rb", "ep")}}))
	require.NoError(t, tx.Rollback(ctx))
	_, err = b.store.GetEvent(ctx, &webhook.GetEventParams{ID: "evt_rb"})
	require.ErrorIs(t, err, webhook.ErrNotFound)
	_, ok, err := b.store.NextDue(ctx, &webhook.NextDueParams{Now: t0})
	require.NoError(t, err)
	require.False(t, ok)

	// Committed together with the host's own write: leased, and the other
	// replica was woken at commit.
	tx, err = b.pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "CREATE TABLE "+pgx.Identifier{b.schema}.Sanitize()+".orders (id int)")
	require.NoError(t, err)
	require.NoError(t, b.store.EnqueueTx(ctx, tx, &webhook.EnqueueParams{Now: t0, Items: []webhook.EnqueueItem{item("evt_c", "ep")}}))
	require.NoError(t, tx.Commit(ctx))
	require.True(t, recv(t, notes).DeliveriesDue)
	leases, err := b.store.Lease(ctx, &webhook.LeaseParams{Owner: "o", Now: t0, Until: t0.Add(time.Minute), Limit: 10})
	require.NoError(t, err)
	require.Len(t, leases, 1)
	require.Equal(t, "evt_c", leases[0].Event.ID)
	require.JSONEq(t, `{"n":1}`, string(leases[0].Event.Payload))
}

func TestNotifications(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	other := b.replica(t)
	notes := listening(t, other)

	require.NoError(t, b.store.PutEndpoint(ctx, &webhook.PutEndpointParams{Endpoint: webhook.Endpoint{ID: "ep", URL: "http://127.0.0.1/", CreatedAt: t0, UpdatedAt: t0}}))
	require.Equal(t, webhook.Notification{EndpointsChanged: true}, recv(t, notes))

	require.NoError(t, b.store.Enqueue(ctx, &webhook.EnqueueParams{Now: t0, Items: []webhook.EnqueueItem{item("evt_1", "ep")}}))
	require.Equal(t, webhook.Notification{DeliveriesDue: true}, recv(t, notes))

	leases, err := b.store.Lease(ctx, &webhook.LeaseParams{Owner: "o", Now: t0, Until: t0.Add(time.Minute), Limit: 10})
	require.NoError(t, err)
	require.Len(t, leases, 1)
	require.NoError(t, b.store.Release(ctx, &webhook.ReleaseParams{Now: t0, Leases: []webhook.LeaseRef{{DeliveryID: leases[0].Delivery.ID, Token: leases[0].Token}}}))
	require.Equal(t, webhook.Notification{DeliveriesDue: true}, recv(t, notes))

	require.NoError(t, b.store.DeleteEndpoint(ctx, &webhook.DeleteEndpointParams{ID: "ep"}))
	require.Equal(t, webhook.Notification{EndpointsChanged: true}, recv(t, notes))

	require.NoError(t, other.Close())
	select {
	case _, ok := <-notes:
		require.False(t, ok)
	case <-time.After(10 * time.Second):
		t.Fatal("channel not closed by Close")
	}
	require.ErrorIs(t, other.Enqueue(ctx, &webhook.EnqueueParams{Now: t0}), webhook.ErrClosed)
}

func TestStaleToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	other := b.replica(t)
	require.NoError(t, b.store.Enqueue(ctx, &webhook.EnqueueParams{Now: t0, Items: []webhook.EnqueueItem{item("evt_1", "ep")}}))

	stalled, err := b.store.Lease(ctx, &webhook.LeaseParams{Owner: "a", Now: t0, Until: t0.Add(time.Minute), Limit: 1})
	require.NoError(t, err)
	require.Len(t, stalled, 1)
	// Not yet expired: nobody else gets it.
	none, err := other.Lease(ctx, &webhook.LeaseParams{Owner: "b", Now: t0.Add(59 * time.Second), Until: t0.Add(2 * time.Minute), Limit: 1})
	require.NoError(t, err)
	require.Empty(t, none)
	// Expired: taken back by the other replica with a new token.
	fresh, err := other.Lease(ctx, &webhook.LeaseParams{Owner: "b", Now: t0.Add(time.Minute), Until: t0.Add(2 * time.Minute), Limit: 1})
	require.NoError(t, err)
	require.Len(t, fresh, 1)
	require.NotEqual(t, stalled[0].Token, fresh[0].Token)

	oldRef := webhook.LeaseRef{DeliveryID: stalled[0].Delivery.ID, Token: stalled[0].Token}
	newRef := webhook.LeaseRef{DeliveryID: fresh[0].Delivery.ID, Token: fresh[0].Token}
	res, err := b.store.ExtendLeases(ctx, &webhook.ExtendLeasesParams{Leases: []webhook.LeaseRef{oldRef}, Now: t0.Add(time.Minute), Until: t0.Add(time.Hour)})
	require.NoError(t, err)
	require.Equal(t, []webhook.LeaseRef{oldRef}, res.Stale)

	attempt := webhook.Attempt{Number: 1, StartedAt: t0, StatusCode: 500, Duration: time.Millisecond}
	res, err = b.store.Complete(ctx, &webhook.CompleteParams{Now: t0.Add(time.Minute), Outcomes: []webhook.Outcome{
		{Lease: oldRef, Attempts: []webhook.Attempt{attempt}, State: webhook.StateFailed},
	}})
	require.NoError(t, err)
	require.Equal(t, []webhook.LeaseRef{oldRef}, res.Stale)

	ok := attempt
	ok.StatusCode = 200
	res, err = other.Complete(ctx, &webhook.CompleteParams{Now: t0.Add(time.Minute), Outcomes: []webhook.Outcome{
		{Lease: newRef, Attempts: []webhook.Attempt{ok}, State: webhook.StateSucceeded},
	}})
	require.NoError(t, err)
	require.Empty(t, res.Stale)

	d, err := b.store.GetDelivery(ctx, &webhook.GetDeliveryParams{ID: newRef.DeliveryID})
	require.NoError(t, err)
	require.Equal(t, webhook.StateSucceeded, d.State)
	require.Equal(t, 1, d.Attempts)
	require.Equal(t, 200, d.LastStatusCode)
	attempts, err := b.store.ListAttempts(ctx, &webhook.ListAttemptsParams{DeliveryID: d.ID})
	require.NoError(t, err)
	require.Len(t, attempts.Items, 1)
	require.Equal(t, 200, attempts.Items[0].StatusCode)
}

// TestLeaseExclusive has many connections lease and complete at once: each
// delivery is handed out exactly once while no lease expires.
func TestLeaseExclusive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	const events, workers = 2000, 16
	items := make([]webhook.EnqueueItem, events)
	for i := range items {
		items[i] = item(fmt.Sprintf("evt_%05d", i), "ep")
	}
	require.NoError(t, b.store.Enqueue(ctx, &webhook.EnqueueParams{Now: t0, Items: items}))

	stores := []*pgstore.Store{b.store, b.replica(t), b.replica(t), b.replica(t)}
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
		errs = make(chan error, workers)
	)
	for w := range workers {
		st := stores[w%len(stores)]
		wg.Go(func() {
			for {
				leases, err := st.Lease(ctx, &webhook.LeaseParams{Owner: fmt.Sprint("w", w), Now: t0, Until: t0.Add(time.Hour), Limit: 7})
				if err != nil {
					errs <- err
					return
				}
				if len(leases) == 0 {
					return
				}
				outcomes := make([]webhook.Outcome, len(leases))
				mu.Lock()
				for i, l := range leases {
					seen[l.Delivery.ID]++
					outcomes[i] = webhook.Outcome{
						Lease:    webhook.LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token},
						Attempts: []webhook.Attempt{{Number: 1, StartedAt: t0, StatusCode: 204}},
						State:    webhook.StateSucceeded,
					}
				}
				mu.Unlock()
				res, err := st.Complete(ctx, &webhook.CompleteParams{Now: t0, Outcomes: outcomes})
				if err == nil && len(res.Stale) > 0 {
					err = fmt.Errorf("%d stale outcomes", len(res.Stale))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, seen, events)
	for id, n := range seen {
		require.Equal(t, 1, n, "delivery %s leased %d times", id, n)
	}
	_, ok, err := b.store.NextDue(ctx, &webhook.NextDueParams{Now: t0})
	require.NoError(t, err)
	require.False(t, ok)
}

// TestRestart stops the server under the store: calls fail with an error
// (never a false success) and work again once it is back; the listener
// reconnects and reports that it may have missed changes.
func TestRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := pgtest.NewCluster(t)
	pool := pgtest.Pool(t, c.ConnString(), 4)
	st, err := pgstore.New(ctx, pool, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	other, err := pgstore.New(ctx, pgtest.Pool(t, c.ConnString(), 2), nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, other.Close()) })
	notes := listening(t, st)
	require.NoError(t, other.Enqueue(ctx, &webhook.EnqueueParams{Now: t0, Items: []webhook.EnqueueItem{item("evt_1", "ep")}}))
	require.Equal(t, webhook.Notification{DeliveriesDue: true}, recv(t, notes))

	require.NoError(t, c.Stop())
	err = st.Enqueue(ctx, &webhook.EnqueueParams{Now: t0, Items: []webhook.EnqueueItem{item("evt_2", "ep")}})
	require.Error(t, err)
	_, err = st.Lease(ctx, &webhook.LeaseParams{Owner: "o", Now: t0, Until: t0.Add(time.Minute), Limit: 10})
	require.Error(t, err)

	require.NoError(t, c.Start())
	require.Equal(t, webhook.Notification{EndpointsChanged: true, DeliveriesDue: true}, recv(t, notes))
	// other's pooled connection died with the server: its first call may
	// fail, and Enqueue is safe to repeat.
	for try := 0; ; try++ {
		err = other.Enqueue(ctx, &webhook.EnqueueParams{Now: t0, Items: []webhook.EnqueueItem{item("evt_2", "ep")}})
		if err == nil || try == 2 {
			break
		}
	}
	require.NoError(t, err)
	require.Equal(t, webhook.Notification{DeliveriesDue: true}, recv(t, notes))
	leases, err := st.Lease(ctx, &webhook.LeaseParams{Owner: "o", Now: t0, Until: t0.Add(time.Minute), Limit: 10})
	require.NoError(t, err)
	require.Len(t, leases, 2)
}

// TestListenerReconnects ends the listener's session from the server side:
// the listener reconnects and reports both kinds of change, since it may
// have missed some.
func TestListenerReconnects(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	notes := listening(t, b.store)
	_, err := b.pool.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'hooklet listener hooklet_' || $1", b.schema)
	require.NoError(t, err)
	require.Equal(t, webhook.Notification{EndpointsChanged: true, DeliveriesDue: true}, recv(t, notes))
	require.NoError(t, b.replica(t).Enqueue(ctx, &webhook.EnqueueParams{Now: t0, Items: []webhook.EnqueueItem{item("evt_1", "ep")}}))
	require.Equal(t, webhook.Notification{DeliveriesDue: true}, recv(t, notes))
}

// TestOwnEnqueueNotReported: a store's own Enqueue does not come back
// through its Notifications (its caller knows); another store's does, and
// so does its own EnqueueTx once committed.
func TestOwnEnqueueNotReported(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	notes := listening(t, b.store)
	// Notifications arrive in commit order: had the own Enqueue been
	// reported, DeliveriesDue would come before (or with) the marker that
	// another store sends next.
	require.NoError(t, b.store.Enqueue(ctx, &webhook.EnqueueParams{Now: t0, Items: []webhook.EnqueueItem{item("evt_own", "ep")}}))
	require.NoError(t, b.replica(t).PutEndpoint(ctx, &webhook.PutEndpointParams{Endpoint: webhook.Endpoint{ID: "ep", URL: "http://127.0.0.1/", CreatedAt: t0, UpdatedAt: t0}}))
	require.Equal(t, webhook.Notification{EndpointsChanged: true}, recv(t, notes))

	tx, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, b.store.EnqueueTx(ctx, tx, &webhook.EnqueueParams{Now: t0, Items: []webhook.EnqueueItem{item("evt_tx", "ep")}}))
	require.NoError(t, tx.Commit(ctx))
	require.Equal(t, webhook.Notification{DeliveriesDue: true}, recv(t, notes))
}

// TestCheckInterval: with no notification, the listener still reports
// DeliveriesDue once per check interval, after pinging its connection.
func TestCheckInterval(t *testing.T) {
	t.Parallel()
	url := pgtest.ConnString(t)
	pool := pgtest.Pool(t, url, 2)
	schema := pgtest.NewSchema(t)
	st, err := pgstore.New(context.Background(), pool, &pgstore.Options{Schema: schema, CheckInterval: 50 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	notes := listening(t, st)
	for range 3 {
		require.Equal(t, webhook.Notification{DeliveriesDue: true}, recv(t, notes))
	}
	// An endpoint change whose notification is lost (here: sent on
	// another channel, as a write by a process that crashed between the
	// two would never send it) is found by the version check.
	q := "UPDATE " + pgx.Identifier{schema}.Sanitize() + ".meta SET endpoints_version = endpoints_version + 1"
	_, err = pool.Exec(context.Background(), q)
	require.NoError(t, err)
	for {
		if n := recv(t, notes); n.EndpointsChanged {
			require.True(t, n.DeliveriesDue)
			break
		}
	}
	_, err = pgstore.New(context.Background(), pool, &pgstore.Options{CheckInterval: time.Microsecond})
	require.Error(t, err)
}
