package boltstore

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/storetest"
)

// TestOpenBuildsRecoveryIndexes proves that a file written before the
// state, type and event-time indexes existed gets them when opened.
func TestOpenBuildsRecoveryIndexes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	s, err := Open(path, nil)
	require.NoError(t, err)
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	var items []webhook.EnqueueItem
	for i, id := range []string{"evt_1", "evt_2", "evt_3"} {
		ev := storetest.NewEvent(id, now)
		d := storetest.NewDelivery("dlv_"+id[4:], id, "ep_a", now, now)
		if i == 1 {
			d.State = webhook.StateFailed
		}
		items = append(items, storetest.NewItem(ev, d))
	}
	require.NoError(t, s.Enqueue(ctx, &webhook.EnqueueParams{Items: items, Now: now}))
	// Make it an old file: no indexes, no mark.
	require.NoError(t, s.update(func(tx *bolt.Tx) error {
		for _, tag := range []byte{spaceStates, spaceEventTimes, spaceTypes} {
			if err := deletePrefix(sp(tx, tag), nil); err != nil {
				return err
			}
		}
		if err := deletePrefix(sp(tx, spaceEndpointIndex), endpointPrefix("ep_a", subStates)); err != nil {
			return err
		}
		return sp(tx, spaceMeta).Delete([]byte(indexesKey))
	}))
	page, err := s.ListDeliveries(ctx, &webhook.ListDeliveriesParams{State: webhook.StateFailed})
	require.NoError(t, err)
	require.Empty(t, page.Items, "the index is gone")
	require.NoError(t, s.Close())

	s, err = Open(path, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	for _, p := range []webhook.ListDeliveriesParams{
		{State: webhook.StateFailed},
		{State: webhook.StateFailed, EndpointID: "ep_a"},
		{EventType: "invoice.paid", EndpointID: "ep_a", State: webhook.StateFailed},
	} {
		page, err = s.ListDeliveries(ctx, &p)
		require.NoError(t, err)
		require.Len(t, page.Items, 1, "%+v", p)
		require.Equal(t, "dlv_2", page.Items[0].ID)
	}
	evs, err := s.ListEvents(ctx, &webhook.ListEventsParams{})
	require.NoError(t, err)
	require.Len(t, evs.Items, 3)
}
