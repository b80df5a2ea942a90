package pgtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestSharedCluster(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t, pgtest.ConnString(t), 2)
	schema := pgtest.NewSchema(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	var fsync string
	require.NoError(t, pool.QueryRow(ctx, "SHOW fsync").Scan(&fsync))
	require.Equal(t, "on", fsync)
}

func TestClusterRestart(t *testing.T) {
	t.Parallel()
	c := pgtest.NewCluster(t)
	pool := pgtest.Pool(t, c.ConnString(), 2)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, pool.Ping(ctx))
	require.NoError(t, c.Stop())
	require.Error(t, pool.Ping(ctx))
	require.NoError(t, c.Start())
	require.NoError(t, pool.Ping(ctx))
}

// TestBouncer: clients of the bouncer share server connections between
// transactions, as a transaction pooler does, and parameterized statements
// work through it with a pool that does not prepare them.
func TestBouncer(t *testing.T) {
	t.Parallel()
	b := pgtest.NewBouncer(t, pgtest.ConnString(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	connect := func() *pgx.Conn {
		cfg, err := pgx.ParseConfig(b.ConnString())
		require.NoError(t, err)
		cfg.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
		c, err := pgx.ConnectConfig(ctx, cfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close(context.Background()) })
		return c
	}
	pid := func(q interface {
		QueryRow(context.Context, string, ...any) pgx.Row
	}) int {
		var p int
		require.NoError(t, q.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&p))
		return p
	}
	a, c := connect(), connect()
	first := pid(a)
	// a's server connection went back to the pool when its transaction
	// ended: c's transaction gets it, while a stays connected.
	tx, err := c.Begin(ctx)
	require.NoError(t, err)
	require.Equal(t, first, pid(tx))
	require.NotEqual(t, first, pid(a), "a server connection in a transaction serves no one else")
	require.NoError(t, tx.Commit(ctx))

	pool := pgtest.Pool(t, b.ConnString()+"&default_query_exec_mode=cache_describe", 8)
	for i := range 50 {
		var n int
		require.NoError(t, pool.QueryRow(ctx, "SELECT $1::int + 1", i).Scan(&n))
		require.Equal(t, i+1, n)
	}
}
