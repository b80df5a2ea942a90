package pgstore_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/internal/pgtest"
	"github.com/hooklet/webhook/store/pgstore"
	"github.com/hooklet/webhook/storetest"
)

// TestStore runs the conformance suite, each subtest on a schema of its
// own, with the TxEnqueuer, Notifier and Peer groups.
func TestStore(t *testing.T) {
	t.Parallel()
	url := pgtest.ConnString(t)
	pool := pgtest.Pool(t, url, 32)
	storetest.Run(t, func(t *testing.T) webhook.Store {
		return newSuiteStore(t, pool, url, pgtest.NewSchema(t), nil)
	})
}

// TestStoreThroughBouncer runs the conformance suite as a host behind
// PgBouncer in transaction pooling mode runs the store: every pool goes
// through the bouncer and does not prepare statements, notifications come
// from polling, and host transactions are database/sql transactions (pgx's
// stdlib driver on the same pool).
func TestStoreThroughBouncer(t *testing.T) {
	t.Parallel()
	url := bouncerURL(t)
	pool := pgtest.Pool(t, url, 32)
	db := stdlib.OpenDBFromPool(pool)
	t.Cleanup(func() { _ = db.Close() })
	storetest.Run(t, func(t *testing.T) webhook.Store {
		s := newSuiteStore(t, pool, url, pgtest.NewSchema(t), &pgstore.Options{PollInterval: pollInterval})
		s.db = db
		return s
	})
}

// pollInterval is the PollInterval of tests that poll.
const pollInterval = 20 * time.Millisecond

// bouncerURL starts a bouncer in front of the shared database and returns
// its connection string, set up as a host behind a transaction pooler sets
// up its pools: no prepared statements.
func bouncerURL(t *testing.T) string {
	t.Helper()
	return pgtest.NewBouncer(t, pgtest.ConnString(t)).ConnString() + "&default_query_exec_mode=cache_describe"
}

// suiteStore is a pgstore.Store with what the suite needs to test its
// capabilities: host transactions on its pool (database/sql ones when db
// is set), peers on its schema, and a wait for its listener.
type suiteStore struct {
	*pgstore.Store
	pool   *pgxpool.Pool
	db     *sql.DB
	url    string
	schema string
	opts   *pgstore.Options
}

var (
	_ storetest.TxBeginner    = suiteStore{}
	_ storetest.PeerOpener    = suiteStore{}
	_ storetest.ReadyNotifier = suiteStore{}
)

// newSuiteStore opens a store on schema with opts (nil: the defaults).
func newSuiteStore(t *testing.T, pool *pgxpool.Pool, url, schema string, opts *pgstore.Options) suiteStore {
	t.Helper()
	o := pgstore.Options{Schema: schema}
	if opts != nil {
		o = *opts
		o.Schema = schema
	}
	st, err := pgstore.New(context.Background(), pool, &o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return suiteStore{Store: st, pool: pool, url: url, schema: schema, opts: opts}
}

// BeginTx begins a host transaction on the store's pool.
func (s suiteStore) BeginTx(ctx context.Context) (storetest.Tx, error) {
	if s.db != nil {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		return sqlTx{tx}, nil
	}
	return s.pool.Begin(ctx)
}

// OpenPeer opens another store on the same schema through its own pool,
// as another process would.
func (s suiteStore) OpenPeer(t *testing.T) webhook.Store {
	peer := newSuiteStore(t, pgtest.Pool(t, s.url, 4), s.url, s.schema, s.opts)
	peer.db = s.db
	return peer
}

// sqlTx is a *sql.Tx as the suite's Tx. EnqueueTx gets the sqlTx itself: a
// value that is no *sql.Tx but has its ExecContext.
type sqlTx struct{ *sql.Tx }

func (tx sqlTx) Commit(context.Context) error   { return tx.Tx.Commit() }
func (tx sqlTx) Rollback(context.Context) error { return tx.Tx.Rollback() }
