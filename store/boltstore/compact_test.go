package boltstore_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/boltstore"
	"github.com/hooklet/webhook/storetest"
)

// TestCompactShrinksPrunedFile prunes most of a file, compacts it, and
// opens the copy: it is smaller and holds what the prune kept.
func TestCompactShrinksPrunedFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src.db"), filepath.Join(dir, "dst.db")
	s, err := boltstore.Open(src, &boltstore.Options{NoSync: true})
	require.NoError(t, err)
	base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	payload := []byte(`{"pad":"` + string(bytes.Repeat([]byte("x"), 2000)) + `"}`)
	const n = 2000
	for i := range n / 100 {
		var items []webhook.EnqueueItem
		for j := range 100 {
			k := i*100 + j
			ev := storetest.NewEvent(fmt.Sprintf("evt_%05d", k), base)
			ev.Payload = payload
			d := storetest.NewDelivery(fmt.Sprintf("dlv_%05d", k), ev.ID, "ep_a", base, base)
			d.State, d.UpdatedAt = webhook.StateSucceeded, base
			if k == n-1 {
				d.UpdatedAt = base.Add(time.Hour) // kept
			}
			items = append(items, storetest.NewItem(ev, d))
		}
		require.NoError(t, s.Enqueue(t.Context(), &webhook.EnqueueParams{Now: base, Items: items}))
	}
	for {
		c, err := s.Prune(t.Context(), &webhook.PruneParams{Before: base.Add(time.Minute), Limit: 500})
		require.NoError(t, err)
		if c < 500 {
			break
		}
	}

	err = boltstore.Compact(dst, src, &boltstore.Options{Timeout: -1})
	require.ErrorIs(t, err, boltstore.ErrLocked, "the store has the file open")
	require.NoFileExists(t, dst)
	require.NoError(t, s.Close())

	require.NoError(t, boltstore.Compact(dst, src, nil))
	before, after := fileSize(t, src), fileSize(t, dst)
	require.Less(t, after*4, before, "compacted %d bytes to %d", before, after)
	require.ErrorIs(t, boltstore.Compact(dst, src, nil), fs.ErrExist)

	c, err := boltstore.Open(dst, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	d, err := c.GetDelivery(t.Context(), &webhook.GetDeliveryParams{ID: fmt.Sprintf("dlv_%05d", n-1)})
	require.NoError(t, err)
	require.Equal(t, webhook.StateSucceeded, d.State)
	_, err = c.GetDelivery(t.Context(), &webhook.GetDeliveryParams{ID: "dlv_00000"})
	require.ErrorIs(t, err, webhook.ErrNotFound)
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Size()
}

// TestPruneFigures measures the prune of many finished deliveries and the
// compaction after it, for the figures docs/pg-scale.md quotes (minutes of
// work; not part of CI):
//
//	HOOKLET_BOLT_FIGURES=1000000 go test -run TestPruneFigures -v ./store/boltstore/
func TestPruneFigures(t *testing.T) {
	v := os.Getenv("HOOKLET_BOLT_FIGURES")
	if v == "" {
		t.Skip("set HOOKLET_BOLT_FIGURES to a number of deliveries to measure the prune figures")
	}
	var n int
	_, err := fmt.Sscan(v, &n)
	require.NoError(t, err)
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src.db"), filepath.Join(dir, "dst.db")
	s, err := boltstore.Open(src, &boltstore.Options{NoSync: true})
	require.NoError(t, err)
	base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	start := time.Now()
	for i := 0; i < n; i += 1000 {
		var items []webhook.EnqueueItem
		for k := i; k < i+1000 && k < n; k++ {
			ev := storetest.NewEvent(fmt.Sprintf("evt_%08d", k), base)
			d := storetest.NewDelivery(fmt.Sprintf("dlv_%08d", k), ev.ID, "ep_a", base, base)
			d.State, d.UpdatedAt = webhook.StateSucceeded, base
			items = append(items, storetest.NewItem(ev, d))
		}
		require.NoError(t, s.Enqueue(t.Context(), &webhook.EnqueueParams{Now: base, Items: items}))
	}
	t.Logf("%d finished deliveries written in %v; file %d MB", n, time.Since(start), fileSize(t, src)>>20)
	start = time.Now()
	total := 0
	for {
		c, err := s.Prune(t.Context(), &webhook.PruneParams{Before: base.Add(time.Minute), Limit: 1000})
		require.NoError(t, err)
		total += c
		if c < 1000 {
			break
		}
	}
	require.Equal(t, n, total)
	require.NoError(t, s.Close())
	t.Logf("pruned %d in %v; file %d MB after", total, time.Since(start), fileSize(t, src)>>20)
	start = time.Now()
	require.NoError(t, boltstore.Compact(dst, src, nil))
	t.Logf("compacted in %v; file %d KB after", time.Since(start), fileSize(t, dst)>>10)
}
