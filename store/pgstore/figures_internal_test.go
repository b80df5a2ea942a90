package pgstore

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/internal/pgtest"
)

// EnvFigures, when set, runs TestScaleFigures, which measures the figures
// docs/pg-scale.md quotes (minutes of work; not part of CI):
//
//	HOOKLET_PG_FIGURES=1 HOOKLET_PG_SCALE_ROWS=1000000 \
//		go test -run TestScaleFigures -v ./store/pgstore/
const EnvFigures = "HOOKLET_PG_FIGURES"

// TestScaleFigures measures lease and complete latencies at 1,000
// deliveries a second on an empty schema and on one of scaleRows finished
// deliveries, then the prune of one day's partitions.
func TestScaleFigures(t *testing.T) {
	if os.Getenv(EnvFigures) == "" {
		t.Skip("set " + EnvFigures + "=1 to measure the scale figures")
	}
	ctx := t.Context()
	url := pgtest.ConnString(t)
	pool := pgtest.Pool(t, url, 4)
	open := func() *Store {
		s, err := New(ctx, pool, &Options{Schema: pgtest.NewSchema(t)})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	}
	empty, full := open(), open()
	n := scaleRows(t)
	start := time.Now()
	seedScale(ctx, t, full, n)
	t.Logf("seeded %d deliveries (%d finished) in %v", n, n-n/100, time.Since(start))
	// Leave only the deliveries this test leases pending.
	_, err := pool.Exec(ctx, "DELETE FROM "+full.q.schema+".deliveries_pending")
	require.NoError(t, err)
	_, err = pool.Exec(ctx, "DELETE FROM "+full.q.schema+".attempts_pending")
	require.NoError(t, err)

	for _, c := range []struct {
		name string
		s    *Store
	}{{"empty", empty}, {fmt.Sprintf("%d finished", n-n/100), full}} {
		lease, complete := paced(ctx, t, c.s, 3000)
		t.Logf("%s: lease p50 %v p99 %v; complete p50 %v p99 %v", c.name,
			pct(lease, 50), pct(lease, 99), pct(complete, 50), pct(complete, 99))
	}

	// Retention: the day before the database's day, both classes.
	var before int64
	require.NoError(t, pool.QueryRow(ctx, "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class AS c "+
		"JOIN pg_namespace AS n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'",
		full.q.schema[1:len(full.q.schema)-1]).Scan(&before))
	day := time.Now().UTC().Truncate(24 * time.Hour)
	start = time.Now()
	got, err := full.Prune(ctx, &webhook.PruneParams{Before: day, Limit: 1000})
	require.NoError(t, err)
	elapsed := time.Since(start)
	var after int64
	require.NoError(t, pool.QueryRow(ctx, "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class AS c "+
		"JOIN pg_namespace AS n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'",
		full.q.schema[1:len(full.q.schema)-1]).Scan(&after))
	t.Logf("prune of one day: %d deliveries in %v; tables %d MB before, %d MB after", got, elapsed, before>>20, after>>20)
}

// paced enqueues m deliveries, then leases and completes them one at a
// time at 1,000 a second, and returns each call's latency.
func paced(ctx context.Context, t *testing.T, s *Store, m int) (lease, complete []time.Duration) {
	t.Helper()
	now := time.Now().UTC()
	for i := 0; i < m; i += 500 {
		var items []webhook.EnqueueItem
		for j := i; j < i+500 && j < m; j++ {
			id := fmt.Sprintf("p_%06d", j)
			items = append(items, webhook.EnqueueItem{
				Event: webhook.Event{ID: "evt_" + id, Type: "t", Time: now, Payload: []byte(`{}`)},
				Deliveries: []webhook.Delivery{{ID: "dlv_" + id, EventID: "evt_" + id, EndpointID: "ep_1",
					State: webhook.StatePending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}},
			})
		}
		require.NoError(t, s.Enqueue(ctx, &webhook.EnqueueParams{Now: now, Items: items}))
	}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for range m {
		<-tick.C
		at := time.Now().UTC()
		t0 := time.Now()
		ls, err := s.Lease(ctx, &webhook.LeaseParams{Now: at, Owner: "o", Until: at.Add(time.Minute), Limit: 1})
		lease = append(lease, time.Since(t0))
		require.NoError(t, err)
		require.Len(t, ls, 1)
		t0 = time.Now()
		_, err = s.Complete(ctx, &webhook.CompleteParams{Now: at, Outcomes: []webhook.Outcome{{
			Lease: webhook.LeaseRef{DeliveryID: ls[0].Delivery.ID, Token: ls[0].Token}, State: webhook.StateSucceeded,
			Attempts: []webhook.Attempt{{StartedAt: at, Duration: time.Millisecond, StatusCode: 200}},
		}}})
		complete = append(complete, time.Since(t0))
		require.NoError(t, err)
	}
	return lease, complete
}

// pct returns the p-th percentile of ds.
func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)].Round(time.Microsecond)
}
