package boltstore

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/storetest"
)

// A file written when leases were stored on disk keeps a leased delivery's
// lease record, and its due entry at the lease's deadline. Open releases
// such leases: the delivery is due again at once, not when the dead
// owner's lease would have run out.
func TestOpenReleasesStoredLeases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hooklet.db")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	until := now.Add(time.Hour)

	s, err := Open(path, nil)
	require.NoError(t, err)
	d := storetest.NewDelivery("dlv_1", "evt_1", "ep", now, now)
	require.NoError(t, s.Enqueue(ctx, &webhook.EnqueueParams{
		Items: []webhook.EnqueueItem{storetest.NewItem(storetest.NewEvent("evt_1", now), d)}, Now: now,
	}))
	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
		q := newQueue(tx)
		lease := encodeLease(nil, &leaseRecord{Until: until, Token: "tok", Owner: "dead-owner"})
		if err := q.leases.Put([]byte(d.ID), lease); err != nil {
			return err
		}
		if err := q.delDue(d.EndpointID, d.NextAttemptAt, d.ID); err != nil {
			return err
		}
		if err := q.addDue(d.EndpointID, until, d.ID); err != nil {
			return err
		}
		return q.fixHeads(time.Time{})
	}))
	require.NoError(t, s.Close())

	s, err = Open(path, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
		k, _ := newQueue(tx).leases.Cursor().First()
		require.Nil(t, k, "no stored lease is left")
		return nil
	}))
	leases, err := s.Lease(ctx, &webhook.LeaseParams{Owner: "new-owner", Now: now.Add(time.Second), Until: now.Add(time.Minute), Limit: 10})
	require.NoError(t, err)
	require.Len(t, leases, 1, "the released delivery is due at once")
	require.Equal(t, d.ID, leases[0].Delivery.ID)
}
