package pgstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/internal/pgtest"
	"github.com/hooklet/webhook/store/pgstore"
)

// hostTx is a host transaction of one kind, as EnqueueTx takes it.
type hostTx struct {
	tx       any
	exec     func(ctx context.Context, sql string, args ...any) error
	commit   func() error
	rollback func() error
}

// txKinds begin host transactions of each kind a host may hold on b's
// database: pgx's, and database/sql's through pgx's stdlib driver.
func txKinds(t *testing.T, b *testBundle) map[string]func(ctx context.Context) hostTx {
	t.Helper()
	db := stdlib.OpenDB(*b.pool.Config().ConnConfig)
	t.Cleanup(func() { _ = db.Close() })
	return map[string]func(ctx context.Context) hostTx{
		"PgxTx": func(ctx context.Context) hostTx {
			tx, err := b.pool.Begin(ctx)
			require.NoError(t, err)
			t.Cleanup(func() { _ = tx.Rollback(ctx) })
			return hostTx{tx: tx,
				exec:     func(ctx context.Context, q string, args ...any) error { _, err := tx.Exec(ctx, q, args...); return err },
				commit:   func() error { return tx.Commit(ctx) },
				rollback: func() error { return tx.Rollback(ctx) }}
		},
		"SQLTx": func(ctx context.Context) hostTx {
			tx, err := db.BeginTx(ctx, nil)
			require.NoError(t, err)
			t.Cleanup(func() { _ = tx.Rollback() })
			return hostTx{tx: tx,
				exec: func(ctx context.Context, q string, args ...any) error {
					_, err := tx.ExecContext(ctx, q, args...)
					return err
				},
				commit: tx.Commit, rollback: tx.Rollback}
		},
	}
}

// TestEnqueueTxNotifiesAtCommit: EnqueueTx's NOTIFY is part of the host's
// transaction, whatever its kind: it reaches listeners at commit, never
// before, and never for a rollback.
func TestEnqueueTxNotifiesAtCommit(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"PgxTx", "SQLTx"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			begin := txKinds(t, b)[name]
			ctx := context.Background()
			notes := listening(t, b.store)
			peer := b.replica(t)
			// Notifications arrive in commit order: a marker that another
			// store sends comes alone only if no DeliveriesDue was sent
			// before it.
			marker := func(id string) {
				t.Helper()
				require.NoError(t, peer.PutEndpoint(ctx, &webhook.PutEndpointParams{Endpoint: webhook.Endpoint{
					ID: id, URL: "http://127.0.0.1/", CreatedAt: t0, UpdatedAt: t0}}))
				require.Equal(t, webhook.Notification{EndpointsChanged: true}, recv(t, notes))
			}
			for _, commit := range []bool{false, true} {
				id := map[bool]string{false: "evt_rolled_back", true: "evt_committed"}[commit]
				tx := begin(ctx)
				require.NoError(t, b.store.EnqueueTx(ctx, tx.tx, &webhook.EnqueueParams{Now: t0, Items: []webhook.EnqueueItem{item(id, "ep")}}))
				_, err := b.store.GetEvent(ctx, &webhook.GetEventParams{ID: id})
				require.ErrorIs(t, err, webhook.ErrNotFound, "visible before commit")
				marker("ep_before_" + id)
				if commit {
					require.NoError(t, tx.commit())
					require.Equal(t, webhook.Notification{DeliveriesDue: true}, recv(t, notes))
					_, err = b.store.GetEvent(ctx, &webhook.GetEventParams{ID: id})
					require.NoError(t, err)
				} else {
					require.NoError(t, tx.rollback())
					marker("ep_after_" + id)
					_, err = b.store.GetEvent(ctx, &webhook.GetEventParams{ID: id})
					require.ErrorIs(t, err, webhook.ErrNotFound)
				}
			}
		})
	}
}

// TestEmitTx emits through the Dispatcher inside host transactions of each
// kind, next to a host write: a rolled-back event is never stored, a
// committed one is delivered, woken by the NOTIFY sent at commit (the
// check interval is an hour, and EmitTx does not wake the engine itself).
func TestEmitTx(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"PgxTx", "SQLTx"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := pgtest.ConnString(t)
			schema := pgtest.NewSchema(t)
			pool := pgtest.Pool(t, url, 8)
			st, err := pgstore.New(ctx, pool, &pgstore.Options{Schema: schema, CheckInterval: time.Hour})
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, st.Close()) })
			b := &testBundle{store: st, pool: pool, schema: schema, url: url}
			begin := txKinds(t, b)[name]
			rc := newCountingReceiver(t)
			d, err := webhook.New(webhook.Config{Store: st, AllowPrivateNetworks: true, Logger: slog.New(slog.DiscardHandler)})
			require.NoError(t, err)
			t.Cleanup(func() {
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				require.NoError(t, d.Close(cctx))
			})
			require.NoError(t, d.PutEndpoint(ctx, webhook.Endpoint{ID: "ep", URL: rc.URL, Secrets: []webhook.Secret{{Key: testSecret}}}))
			require.NoError(t, d.Start(ctx))
			select {
			case <-st.Listening():
			case <-time.After(20 * time.Second):
				t.Fatal("listener not listening within 20s")
			}
			orders := pgx.Identifier{schema, "orders"}.Sanitize()
			_, err = pool.Exec(ctx, "CREATE TABLE "+orders+" (id text PRIMARY KEY)")
			require.NoError(t, err)

			for _, id := range []string{"evt_rolled_back", "evt_committed"} {
				tx := begin(ctx)
				require.NoError(t, tx.exec(ctx, "INSERT INTO "+orders+" VALUES ($1)", id))
				require.NoError(t, emitTx(ctx, d, tx.tx, webhook.Event{ID: id, Type: "order.paid", Payload: json.RawMessage(`{}`)}))
				if id == "evt_committed" {
					require.NoError(t, tx.commit())
				} else {
					require.NoError(t, tx.rollback())
				}
			}
			rc.waitDistinct(t, 1, 20*time.Second)
			rc.mu.Lock()
			require.Equal(t, map[string]int{"evt_committed": 1}, rc.seen)
			rc.mu.Unlock()
			_, err = st.GetEvent(ctx, &webhook.GetEventParams{ID: "evt_rolled_back"})
			require.ErrorIs(t, err, webhook.ErrNotFound)
			var ids []string
			rows, _ := pool.Query(ctx, "SELECT id FROM "+orders)
			ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
			require.NoError(t, err)
			require.Equal(t, []string{"evt_committed"}, ids)
		})
	}
}

// emitTx is the one call of Dispatcher.EmitTx in these tests.
func emitTx(ctx context.Context, d *webhook.Dispatcher, tx any, events ...webhook.Event) error {
	return d.EmitTx(ctx, tx, events)
}

// TestEnqueueTxRejects: what is not a transaction gets ErrInvalidTx and
// writes nothing; the pools are refused too, though they have Exec.
func TestEnqueueTxRejects(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	db := stdlib.OpenDBFromPool(b.pool)
	t.Cleanup(func() { _ = db.Close() })
	var nilSQL *sql.Tx
	for _, tx := range []any{nil, "tx", 42, b.pool, db, nilSQL} {
		err := b.store.EnqueueTx(ctx, tx, &webhook.EnqueueParams{Now: t0, Items: []webhook.EnqueueItem{item("evt_1", "ep")}})
		require.ErrorIs(t, err, webhook.ErrInvalidTx, "%T", tx)
	}
	_, err := b.store.GetEvent(ctx, &webhook.GetEventParams{ID: "evt_1"})
	require.ErrorIs(t, err, webhook.ErrNotFound)

	// A connection of database/sql with a transaction open is a
	// transaction too.
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, "BEGIN")
	require.NoError(t, err)
	require.NoError(t, b.store.EnqueueTx(ctx, conn, &webhook.EnqueueParams{Now: t0, Items: []webhook.EnqueueItem{item("evt_1", "ep")}}))
	_, err = conn.ExecContext(ctx, "ROLLBACK")
	require.NoError(t, err)
	_, err = b.store.GetEvent(ctx, &webhook.GetEventParams{ID: "evt_1"})
	require.ErrorIs(t, err, webhook.ErrNotFound)
}

// TestEnqueueTxOtherDriver: a database/sql transaction of a driver other
// than pgx's cannot carry the store's array parameters; the error says
// which driver to use.
func TestEnqueueTxOtherDriver(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	db := sql.OpenDB(plainConnector{})
	t.Cleanup(func() { _ = db.Close() })
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	err = b.store.EnqueueTx(ctx, tx, &webhook.EnqueueParams{Now: t0, Items: []webhook.EnqueueItem{item("evt_1", "ep")}})
	require.ErrorContains(t, err, "github.com/jackc/pgx/v5/stdlib")
}

// plainConnector is a database/sql driver that, like most drivers other
// than pgx's, takes only database/sql's basic parameter types. It never
// reaches a database: database/sql refuses the parameters first.
type plainConnector struct{}

func (plainConnector) Connect(context.Context) (driver.Conn, error) { return plainConn{}, nil }
func (plainConnector) Driver() driver.Driver                        { return nil }

type plainConn struct{}

func (plainConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("plain: no statements") }
func (plainConn) Close() error                        { return nil }
func (plainConn) Begin() (driver.Tx, error)           { return plainConn{}, nil }
func (plainConn) Commit() error                       { return nil }
func (plainConn) Rollback() error                     { return nil }
func (plainConn) ExecContext(context.Context, string, []driver.NamedValue) (driver.Result, error) {
	return nil, errors.New("plain: exec reached the driver")
}
