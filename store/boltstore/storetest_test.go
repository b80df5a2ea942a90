package boltstore_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/boltstore"
	"github.com/hooklet/webhook/storetest"
)

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) webhook.Store {
		st, err := boltstore.Open(filepath.Join(t.TempDir(), "hooklet.db"), nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		return st
	})
}
