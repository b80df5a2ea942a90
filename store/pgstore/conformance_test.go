package pgstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/internal/pgtest"
	"github.com/hooklet/webhook/store/pgstore"
	"github.com/hooklet/webhook/storetest"
)

// TestStore runs the conformance suite, each subtest on a schema of its own.
func TestStore(t *testing.T) {
	t.Parallel()
	url := pgtest.ConnString(t)
	pool := pgtest.Pool(t, url, 32)
	storetest.Run(t, func(t *testing.T) webhook.Store {
		st, err := pgstore.New(context.Background(), pool, &pgstore.Options{Schema: pgtest.NewSchema(t)})
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		return st
	})
}
