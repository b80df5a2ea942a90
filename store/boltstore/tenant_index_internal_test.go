package boltstore

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	webhook "github.com/hooklet/webhook"
)

// TestTenantIndexBuiltAtOpen opens a file written before the tenant index
// existed: Open builds the index, and listing by tenant finds every
// endpoint.
func TestTenantIndexBuiltAtOpen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "old.db")
	st, err := Open(path, &Options{NoSync: true})
	require.NoError(t, err)
	ts := time.Unix(1e9, 0).UTC()
	for i, tenant := range []string{"acme", "", "acme", "globex"} {
		ep := webhook.Endpoint{ID: "ep_" + string(rune('a'+i)), Tenant: tenant, URL: "https://example.com", CreatedAt: ts, UpdatedAt: ts}
		require.NoError(t, st.PutEndpoint(t.Context(), &webhook.PutEndpointParams{Endpoint: ep}))
	}
	// Take the file back to how earlier versions wrote it.
	require.NoError(t, st.db.Update(func(tx *bolt.Tx) error {
		var keys [][]byte
		c := sp(tx, spaceTenantEndpoints).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			keys = append(keys, append([]byte(nil), k...))
		}
		require.Len(t, keys, 3)
		for _, k := range keys {
			if err := sp(tx, spaceTenantEndpoints).Delete(k); err != nil {
				return err
			}
		}
		return sp(tx, spaceMeta).Delete(metaTenantIndex)
	}))
	require.NoError(t, st.Close())

	st, err = Open(path, &Options{NoSync: true})
	require.NoError(t, err)
	defer st.Close()
	page, err := st.ListEndpoints(t.Context(), &webhook.ListEndpointsParams{Tenant: "acme"})
	require.NoError(t, err)
	require.Len(t, page.Items, 2)
	require.Equal(t, "ep_a", page.Items[0].ID)
	require.Equal(t, "ep_c", page.Items[1].ID)
	page, err = st.ListEndpoints(t.Context(), &webhook.ListEndpointsParams{Tenant: "globex"})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
}
