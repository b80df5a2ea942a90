package boltstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	webhook "github.com/hooklet/webhook"
)

// TestPagesPerCommit logs how many pages an Enqueue commit and a Complete
// commit write, in a steady state where deliveries are leased and completed
// as they come. Set HOOKLET_PAGE_STATS=1 to run it. TestPagesPerCommitBacklog
// covers a growing backlog, and the same records written raw.
func TestPagesPerCommit(t *testing.T) {
	t.Parallel()
	if os.Getenv("HOOKLET_PAGE_STATS") == "" {
		return
	}
	st, err := Open(filepath.Join(t.TempDir(), "x.db"), &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	t0 := time.Unix(1e9, 0)
	payload := []byte(`{"data":"` + strings.Repeat("x", 1010) + `"}`)
	n := 0
	for _, per := range []int{1, 64} {
		var pages, writes, cpages, cwrites int64
		var commits int64
		for round := range 20000/per + 300 {
			items := make([]webhook.EnqueueItem, per)
			for i := range items {
				id := fmt.Sprintf("%026d", n)
				n++
				items[i] = webhook.EnqueueItem{Event: webhook.Event{ID: "evt_" + id, Type: "x", Payload: payload},
					Deliveries: []webhook.Delivery{{ID: "dlv_" + id, EndpointID: "ep_1", NextAttemptAt: t0}}}
			}
			before := st.db.Stats()
			if err := st.Enqueue(ctx, &webhook.EnqueueParams{Items: items, Now: t0}); err != nil {
				t.Fatal(err)
			}
			after := st.db.Stats()
			if round >= 20000/per {
				d := after.Sub(&before)
				pages += d.TxStats.GetPageCount()
				writes += d.TxStats.GetWrite()
				commits++
			}
			ls, err := st.Lease(ctx, &webhook.LeaseParams{Now: t0, Until: t0.Add(time.Minute), Limit: per})
			if err != nil {
				t.Fatal(err)
			}
			outs := make([]webhook.Outcome, len(ls))
			for i, l := range ls {
				outs[i] = webhook.Outcome{Lease: webhook.LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token},
					Attempts: []webhook.Attempt{{StatusCode: 200}}, State: webhook.StateSucceeded}
			}
			before = st.db.Stats()
			if _, err := st.Complete(ctx, &webhook.CompleteParams{Outcomes: outs, Now: t0}); err != nil {
				t.Fatal(err)
			}
			after = st.db.Stats()
			if round >= 20000/per {
				d := after.Sub(&before)
				cpages += d.TxStats.GetPageCount()
				cwrites += d.TxStats.GetWrite()
			}
		}
		t.Logf("enqueue %d items: pages/commit=%.1f writes/commit=%.1f", per,
			float64(pages)/float64(commits), float64(writes)/float64(commits))
		t.Logf("complete %d items: pages/commit=%.1f writes/commit=%.1f", per,
			float64(cpages)/float64(commits), float64(cwrites)/float64(commits))
	}
}

// TestPagesPerCommitBacklog logs how many pages an Enqueue commit writes
// while nothing is delivered (a growing backlog, as in the Emit benchmark),
// next to raw bbolt writes of an event and a delivery record in two
// buckets. Set HOOKLET_PAGE_STATS=1 to run it.
func TestPagesPerCommitBacklog(t *testing.T) {
	t.Parallel()
	if os.Getenv("HOOKLET_PAGE_STATS") == "" {
		return
	}
	payload := []byte(`{"id":"in_1","padding":"` + strings.Repeat("x", 1024-27) + `"}`)
	t0 := time.Unix(1e9, 0)
	const warm, measured = 20000, 300
	for _, per := range []int{1, 64} {
		st, err := Open(filepath.Join(t.TempDir(), fmt.Sprintf("s%d.db", per)), &Options{NoSync: true})
		require.NoError(t, err)
		var pages, commits int64
		n := 0
		for round := range warm/per + measured {
			items := make([]webhook.EnqueueItem, per)
			for i := range items {
				id := fmt.Sprintf("%026d", n)
				n++
				items[i] = webhook.EnqueueItem{
					Event:      webhook.Event{ID: "evt_" + id, Type: "invoice.paid", Time: t0, Payload: payload},
					Deliveries: []webhook.Delivery{{ID: "dlv_" + id, EndpointID: "ep", NextAttemptAt: t0.Add(time.Duration(n))}},
				}
			}
			before := st.db.Stats()
			require.NoError(t, st.Enqueue(context.Background(), &webhook.EnqueueParams{Items: items, Now: t0}))
			after := st.db.Stats()
			if round >= warm/per {
				d := after.Sub(&before)
				pages += d.TxStats.GetPageCount()
				commits++
			}
		}
		// Drain part of the backlog, per at a time.
		var cpages, ccommits int64
		now := t0.Add(time.Hour)
		for range measured {
			ls, err := st.Lease(context.Background(), &webhook.LeaseParams{Now: now, Until: now.Add(time.Minute), Limit: per})
			require.NoError(t, err)
			outs := make([]webhook.Outcome, len(ls))
			for i, l := range ls {
				outs[i] = webhook.Outcome{Lease: webhook.LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token},
					Attempts: []webhook.Attempt{{StatusCode: 200}}, State: webhook.StateSucceeded}
			}
			before := st.db.Stats()
			_, err = st.Complete(context.Background(), &webhook.CompleteParams{Outcomes: outs, Now: now})
			require.NoError(t, err)
			after := st.db.Stats()
			d := after.Sub(&before)
			cpages += d.TxStats.GetPageCount()
			ccommits++
		}
		t.Logf("backlog, complete %d items: pages/commit=%.1f", per, float64(cpages)/float64(ccommits))
		require.NoError(t, st.Close())

		db, err := bolt.Open(filepath.Join(t.TempDir(), fmt.Sprintf("r%d.db", per)), 0o600, &bolt.Options{NoSync: true})
		require.NoError(t, err)
		require.NoError(t, db.Update(func(tx *bolt.Tx) error {
			if _, err := tx.CreateBucket([]byte("events")); err != nil {
				return err
			}
			_, err := tx.CreateBucket([]byte("deliveries"))
			return err
		}))
		var rawPages, rawCommits int64
		for round := range warm/per + measured {
			before := db.Stats()
			require.NoError(t, db.Update(func(tx *bolt.Tx) error {
				for range per {
					ev := tx.Bucket([]byte("events"))
					seq, _ := ev.NextSequence()
					k := binary.BigEndian.AppendUint64(nil, seq)
					if err := ev.Put(k, payload); err != nil {
						return err
					}
					if err := tx.Bucket([]byte("deliveries")).Put(k, []byte(`{"state":"pending","attempts":0,"next":1700000000}`)); err != nil {
						return err
					}
				}
				return nil
			}))
			after := db.Stats()
			if round >= warm/per {
				d := after.Sub(&before)
				rawPages += d.TxStats.GetPageCount()
				rawCommits++
			}
		}
		require.NoError(t, db.Close())
		t.Logf("backlog, enqueue %d items: pages/commit=%.1f, raw %.1f", per,
			float64(pages)/float64(commits), float64(rawPages)/float64(rawCommits))
	}
}

// TestLeaseWritesNothing checks that leasing and extending leases leave the
// file alone: leases live in memory.
func TestLeaseWritesNothing(t *testing.T) {
	t.Parallel()
	st, err := Open(filepath.Join(t.TempDir(), "x.db"), &Options{NoSync: true})
	require.NoError(t, err)
	defer st.Close()
	ctx := context.Background()
	t0 := time.Unix(1e9, 0)
	items := make([]webhook.EnqueueItem, 10)
	for i := range items {
		id := fmt.Sprintf("%026d", i)
		items[i] = webhook.EnqueueItem{Event: webhook.Event{ID: "evt_" + id, Type: "x"},
			Deliveries: []webhook.Delivery{{ID: "dlv_" + id, EndpointID: "ep_1", NextAttemptAt: t0}}}
	}
	require.NoError(t, st.Enqueue(ctx, &webhook.EnqueueParams{Items: items, Now: t0}))
	before := st.db.Stats()
	ls, err := st.Lease(ctx, &webhook.LeaseParams{Owner: "w", Now: t0, Until: t0.Add(time.Minute), Limit: 10})
	require.NoError(t, err)
	require.Len(t, ls, 10)
	refs := make([]webhook.LeaseRef, len(ls))
	for i, l := range ls {
		refs[i] = webhook.LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token}
	}
	res, err := st.ExtendLeases(ctx, &webhook.ExtendLeasesParams{Leases: refs, Now: t0, Until: t0.Add(time.Hour)})
	require.NoError(t, err)
	require.Empty(t, res.Stale)
	_, ok, err := st.NextDue(ctx, &webhook.NextDueParams{Now: t0})
	require.NoError(t, err)
	require.True(t, ok)
	after := st.db.Stats()
	d := after.Sub(&before)
	require.Zero(t, d.TxStats.GetWrite(), "pages written")
	require.Zero(t, d.TxStats.GetPageCount(), "pages allocated")
}
