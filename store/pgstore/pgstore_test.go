package pgstore_test

import (
	"context"
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
	"github.com/hooklet/webhook/storetest"
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

// item returns an event of storetest with one pending delivery to each
// endpoint, made and due at t0.
func item(id string, endpoints ...string) webhook.EnqueueItem {
	it := storetest.NewItem(storetest.NewEvent(id, t0))
	for _, ep := range endpoints {
		it.Deliveries = append(it.Deliveries, storetest.NewDelivery("dlv_"+id+"_"+ep, id, ep, t0, t0))
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
	require.Equal(t, migrationCount(t), n)

	// A schema at version 1 gets only what it lacks.
	schema = pgtest.NewSchema(t)
	q := pgx.Identifier{schema}.Sanitize()
	require.NoError(t, pgstore.MigrateTo(ctx, pool, &pgstore.Options{Schema: schema}, 1))
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+q+".schema_migrations").Scan(&n))
	require.Equal(t, 1, n)
	_, err = pgstore.New(ctx, pool, &pgstore.Options{Schema: schema, SkipMigrate: true})
	require.Error(t, err, "an outdated schema is refused with SkipMigrate")
	require.NoError(t, pgstore.Migrate(ctx, pool, &pgstore.Options{Schema: schema}))
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+q+".schema_migrations").Scan(&n))
	require.Equal(t, migrationCount(t), n)
	st, err := pgstore.New(ctx, pool, &pgstore.Options{Schema: schema, SkipMigrate: true})
	require.NoError(t, err)
	require.NoError(t, st.Close())
}

// migrationCount is the number of migrations the package embeds.
func migrationCount(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("migrations")
	require.NoError(t, err)
	return len(es)
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

// TestPutEndpointIfUpdatedAtPrecision: PostgreSQL keeps microseconds. A
// conditional write matches both the UpdatedAt the caller wrote (with its
// nanoseconds) and the one GetEndpoint returned, and a microsecond apart
// is a conflict.
func TestPutEndpointIfUpdatedAtPrecision(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	put := func(updated, ifUpdated time.Time) error {
		ep := webhook.Endpoint{ID: "ep_1", URL: "https://example.com/hook", CreatedAt: t0, UpdatedAt: updated}
		return b.store.PutEndpoint(ctx, &webhook.PutEndpointParams{Endpoint: ep, IfUpdatedAt: ifUpdated})
	}
	written := t0.Add(123456789 * time.Nanosecond)
	require.NoError(t, put(written, time.Time{}))
	got, err := b.store.GetEndpoint(ctx, &webhook.GetEndpointParams{ID: "ep_1"})
	require.NoError(t, err)
	require.Equal(t, written.Truncate(time.Microsecond), got.UpdatedAt)

	next := t0.Add(time.Second + 987654321*time.Nanosecond)
	require.ErrorIs(t, put(next, written.Add(time.Microsecond)), webhook.ErrConflict)
	require.ErrorIs(t, put(next, written.Add(-time.Microsecond)), webhook.ErrConflict)
	require.NoError(t, put(next, written))
	got, err = b.store.GetEndpoint(ctx, &webhook.GetEndpointParams{ID: "ep_1"})
	require.NoError(t, err)
	require.NoError(t, put(t0.Add(time.Hour), got.UpdatedAt))
}
