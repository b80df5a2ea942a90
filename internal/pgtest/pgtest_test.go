package pgtest_test

import (
	"context"
	"testing"
	"time"

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
