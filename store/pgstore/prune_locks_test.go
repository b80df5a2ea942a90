package pgstore_test

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
)

// A partition drop takes the partitioned tables in the order Complete
// does (deliveries, then attempts): a Complete that has moved a delivery
// and goes on to move its attempts while a drop waits gets its locks,
// and the drop goes ahead once it commits, with no deadlock.
func TestPruneDropWaitsForCompleteWithoutDeadlock(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	yesterday := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -1).Add(time.Hour)
	require.NoError(t, b.store.Enqueue(ctx, &webhook.EnqueueParams{Now: yesterday, Items: []webhook.EnqueueItem{{
		Event: webhook.Event{ID: "evt_1", Type: "t", Time: yesterday, Payload: []byte(`{}`)},
		Deliveries: []webhook.Delivery{{ID: "dlv_1", EventID: "evt_1", EndpointID: "ep", State: webhook.StatePending,
			NextAttemptAt: yesterday, CreatedAt: yesterday, UpdatedAt: yesterday}},
	}}}))
	ls, err := b.store.Lease(ctx, &webhook.LeaseParams{Now: yesterday, Owner: "o", Until: yesterday.Add(time.Minute), Limit: 1})
	require.NoError(t, err)
	require.Len(t, ls, 1)
	_, err = b.store.Complete(ctx, &webhook.CompleteParams{Now: yesterday, Outcomes: []webhook.Outcome{{
		Lease: webhook.LeaseRef{DeliveryID: "dlv_1", Token: ls[0].Token}, State: webhook.StateSucceeded,
		Attempts: []webhook.Attempt{{StartedAt: yesterday, StatusCode: 200}},
	}}})
	require.NoError(t, err)

	q := pgx.Identifier{b.schema}.Sanitize()
	// A Complete in flight: it has moved a delivery into deliveries_done
	// (today's partition), which locks the partitioned table, not the
	// other partitions.
	tx, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, "LOCK TABLE ONLY "+q+".deliveries_done IN ROW EXCLUSIVE MODE")
	require.NoError(t, err)
	var pid int
	require.NoError(t, tx.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid))

	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := b.store.Prune(ctx, &webhook.PruneParams{Before: time.Now().UTC().Truncate(24 * time.Hour), Limit: 10})
		done <- result{n, err}
	}()
	// Wait until the prune waits behind the Complete.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting bool
		require.NoError(t, b.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE NOT granted AND $1::int = ANY(pg_blocking_pids(pid)))", pid).Scan(&waiting))
		if waiting {
			break
		}
		require.True(t, time.Now().Before(deadline), "the prune never waited for the Complete")
	}
	// The Complete moves the attempts now.
	_, err = tx.Exec(ctx, "LOCK TABLE ONLY "+q+".attempts_done IN ROW EXCLUSIVE MODE")
	require.NoError(t, err, "the Complete deadlocked with the drop")
	require.NoError(t, tx.Commit(ctx))
	select {
	case r := <-done:
		require.NoError(t, r.err)
		require.Equal(t, 1, r.n, "the partition was dropped")
	case <-time.After(10 * time.Second):
		t.Fatal("the prune did not end")
	}
	_, err = b.store.GetDelivery(ctx, &webhook.GetDeliveryParams{ID: "dlv_1"})
	require.ErrorIs(t, err, webhook.ErrNotFound)
}
