package pgstore_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
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
		return newSuiteStore(t, pool, url, pgtest.NewSchema(t))
	})
}

// suiteStore is a pgstore.Store with what the suite needs to test its
// capabilities: host transactions on its pool, peers on its schema, and a
// wait for its listener.
type suiteStore struct {
	*pgstore.Store
	pool   *pgxpool.Pool
	url    string
	schema string
}

var (
	_ storetest.TxBeginner    = suiteStore{}
	_ storetest.PeerOpener    = suiteStore{}
	_ storetest.ReadyNotifier = suiteStore{}
)

func newSuiteStore(t *testing.T, pool *pgxpool.Pool, url, schema string) suiteStore {
	t.Helper()
	st, err := pgstore.New(context.Background(), pool, &pgstore.Options{Schema: schema})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return suiteStore{Store: st, pool: pool, url: url, schema: schema}
}

// BeginTx begins a host transaction on the store's pool.
func (s suiteStore) BeginTx(ctx context.Context) (storetest.Tx, error) {
	return s.pool.Begin(ctx)
}

// OpenPeer opens another store on the same schema through its own pool,
// as another process would.
func (s suiteStore) OpenPeer(t *testing.T) webhook.Store {
	return newSuiteStore(t, pgtest.Pool(t, s.url, 4), s.url, s.schema)
}
