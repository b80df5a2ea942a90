package pgstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/internal/pgtest"
	"github.com/hooklet/webhook/store/pgstore"
)

// TestReplicasThroughBouncer runs two Dispatchers, each on its own pool
// through PgBouncer in transaction pooling mode, one hearing of changes on
// a direct listener connection and one by polling: every event emitted on
// either is delivered, and none twice while both live.
func TestReplicasThroughBouncer(t *testing.T) {
	t.Parallel()
	const events = 2000
	ctx := context.Background()
	url := bouncerURL(t)
	direct := pgtest.ConnString(t)
	schema := pgtest.NewSchema(t)
	rc := newCountingReceiver(t)
	opts := []pgstore.Options{
		{Schema: schema, ListenerConnString: direct},
		{Schema: schema, PollInterval: pollInterval},
	}
	var ds []*webhook.Dispatcher
	for i, o := range opts {
		st, err := pgstore.New(ctx, pgtest.Pool(t, url, 8), &o)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, st.Close()) })
		name := fmt.Sprint("replica-", i)
		d, err := webhook.New(webhook.Config{Store: st, AllowPrivateNetworks: true, Owner: name, UserAgent: name,
			Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		t.Cleanup(func() {
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			require.NoError(t, d.Close(cctx))
		})
		ds = append(ds, d)
	}
	require.NoError(t, ds[0].PutEndpoint(ctx, webhook.Endpoint{ID: "ep", URL: rc.URL, Secrets: []webhook.Secret{{Key: testSecret}}}))
	for _, d := range ds {
		require.NoError(t, d.Start(ctx))
	}

	// 16 concurrent emitters, half on each replica.
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < events; i += 16 {
				ev := webhook.Event{ID: fmt.Sprintf("evt_%06d", i), Type: "bouncer.test", Payload: json.RawMessage(`{}`)}
				if err := ds[w%2].Emit(ctx, ev); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	require.NoError(t, <-errs)

	rc.waitDistinct(t, events, 2*time.Minute)
	rc.mu.Lock()
	for id, n := range rc.seen {
		require.Equal(t, 1, n, "event %s delivered %d times", id, n)
	}
	for agent, ids := range rc.byAgent {
		t.Logf("%s delivered %d", agent, len(ids))
	}
	require.Len(t, rc.byAgent, 2, "both replicas delivered a share")
	rc.mu.Unlock()
	// Close records what is still in flight.
	for _, d := range ds {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		require.NoError(t, d.Close(cctx))
		cancel()
	}
	requireAllSucceeded(t, pgtest.Pool(t, direct, 2), schema, events)
}

// TestListenerConnString: with the pool behind the bouncer, the listener
// listens on its own direct connection and hears of another process's
// changes.
func TestListenerConnString(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := bouncerURL(t)
	schema := pgtest.NewSchema(t)
	open := func(o pgstore.Options) *pgstore.Store {
		o.Schema = schema
		st, err := pgstore.New(ctx, pgtest.Pool(t, url, 4), &o)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, st.Close()) })
		return st
	}
	st := open(pgstore.Options{ListenerConnString: pgtest.ConnString(t)})
	other := open(pgstore.Options{})
	notes := listening(t, st)
	require.NoError(t, other.Enqueue(ctx, &webhook.EnqueueParams{Now: t0, Items: []webhook.EnqueueItem{item("evt_1", "ep")}}))
	require.Equal(t, webhook.Notification{DeliveriesDue: true}, recv(t, notes))
	require.NoError(t, other.PutEndpoint(ctx, &webhook.PutEndpointParams{Endpoint: webhook.Endpoint{ID: "ep", URL: "http://127.0.0.1/", CreatedAt: t0, UpdatedAt: t0}}))
	require.Equal(t, webhook.Notification{EndpointsChanged: true}, recv(t, notes))
}

// TestPoll: a polling store reports another process's new work, its
// released work and its endpoint changes, each as what it is.
func TestPoll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	st, err := pgstore.New(ctx, b.pool, &pgstore.Options{Schema: b.schema, PollInterval: pollInterval, CheckInterval: time.Hour})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	notes := listening(t, st)
	other := b.store

	require.NoError(t, other.Enqueue(ctx, &webhook.EnqueueParams{Now: t0, Items: []webhook.EnqueueItem{item("evt_1", "ep")}}))
	require.Equal(t, webhook.Notification{DeliveriesDue: true}, recv(t, notes))
	leases, err := other.Lease(ctx, &webhook.LeaseParams{Owner: "o", Now: t0, Until: t0.Add(time.Minute), Limit: 1})
	require.NoError(t, err)
	require.Len(t, leases, 1)
	require.Equal(t, webhook.Notification{DeliveriesDue: true}, recv(t, notes))
	require.NoError(t, other.Release(ctx, &webhook.ReleaseParams{Now: t0, Leases: []webhook.LeaseRef{{DeliveryID: leases[0].Delivery.ID, Token: leases[0].Token}}}))
	require.Equal(t, webhook.Notification{DeliveriesDue: true}, recv(t, notes))
	require.NoError(t, other.PutEndpoint(ctx, &webhook.PutEndpointParams{Endpoint: webhook.Endpoint{ID: "ep", URL: "http://127.0.0.1/", CreatedAt: t0, UpdatedAt: t0}}))
	require.Equal(t, webhook.Notification{EndpointsChanged: true}, recv(t, notes))
}

// TestOptions: New refuses options that cannot work, naming the field.
func TestOptions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	for name, o := range map[string]pgstore.Options{
		"PollInterval":       {PollInterval: time.Millisecond},
		"ListenerConnString": {ListenerConnString: "postgres://u:secret@127.0.0.1:1/db?sslmode=bogus"},
		"not both":           {PollInterval: time.Second, ListenerConnString: b.url},
	} {
		o.Schema = b.schema
		_, err := pgstore.New(ctx, b.pool, &o)
		require.Error(t, err, name)
		require.Contains(t, err.Error(), firstField(name), name)
		require.NotContains(t, err.Error(), "secret")
	}
}

// firstField is the field an error of TestOptions names.
func firstField(name string) string {
	if name == "not both" {
		return "ListenerConnString or PollInterval"
	}
	return name
}

// TestPoolerHint: an error of a statement prepared on another server
// connection says what to configure.
func TestPoolerHint(t *testing.T) {
	t.Parallel()
	for _, code := range []string{"26000", "42P05"} {
		err := pgstore.Wrap("lease", fmt.Errorf("x: %w", &pgconn.PgError{Code: code}))
		require.ErrorContains(t, err, "default_query_exec_mode")
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr)
	}
	require.NotContains(t, pgstore.Wrap("lease", &pgconn.PgError{Code: "23505"}).Error(), "default_query_exec_mode")
}

// TestMigrateThroughBouncer: replicas starting together behind the
// bouncer apply each migration once; the lock that serializes them lives
// and dies with each migration's transaction.
func TestMigrateThroughBouncer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := bouncerURL(t)
	schema := pgtest.NewSchema(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		pool := pgtest.Pool(t, url, 2)
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
	pool := pgtest.Pool(t, pgtest.ConnString(t), 2)
	var versions, locks int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schema}.Sanitize()+".schema_migrations").Scan(&versions))
	require.Equal(t, migrationCount(t), versions)
	// A bigint advisory key shows as its high and low halves.
	const held = `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
		AND objsubid = 1 AND (classid::bigint << 32 | objid::bigint) = $1`
	key := pgstore.LockKey(schema)
	require.NoError(t, pool.QueryRow(ctx, held, key).Scan(&locks))
	require.Zero(t, locks, "an advisory lock outlived its transaction")
	// The query does find the lock while it is held.
	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", key); err != nil {
			return err
		}
		return tx.QueryRow(ctx, held, key).Scan(&locks)
	}))
	require.Equal(t, 1, locks)
}
