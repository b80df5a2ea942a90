package pgstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/internal/pgtest"
)

// EnvFigures, when set, runs TestScaleFigures, which measures the figures
// the README quotes under "PostgreSQL at scale" (minutes of work at ten
// million rows, and about 15 GB of disk; not part of CI):
//
//	HOOKLET_PG_FIGURES=1 HOOKLET_PG_SCALE_ROWS=10000000 \
//		go test -run TestScaleFigures -v -timeout 3h ./store/pgstore/
const EnvFigures = "HOOKLET_PG_FIGURES"

// figureRounds is how many times the paced lease and complete run on
// each schema, alternating, so that the machine's noise shows.
const figureRounds = 3

// TestScaleFigures measures lease and complete latencies at 1,000
// deliveries a second on an empty schema and on one holding
// HOOKLET_PG_SCALE_ROWS finished deliveries written with COPY, then the
// prune of one day's partitions: its wall time, the locks it takes, the
// hot path's latencies while it runs, the tables' size after it and what
// it leaves for VACUUM.
func TestScaleFigures(t *testing.T) {
	if os.Getenv(EnvFigures) == "" {
		t.Skip("set " + EnvFigures + "=1 to measure the scale figures")
	}
	ctx := t.Context()
	url := pgtest.ConnString(t)
	pool := pgtest.Pool(t, url, 2*pacedWorkers+2)
	var version string
	require.NoError(t, pool.QueryRow(ctx, "SHOW server_version").Scan(&version))
	open := func() *Store {
		s, err := New(ctx, pool, &Options{Schema: pgtest.NewSchema(t)})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	}
	empty, full := open(), open()
	n := scaleRows(t)
	start := time.Now()
	copyFinished(ctx, t, full, n)
	t.Logf("PostgreSQL %s: %d finished deliveries (%d failed), one event and one attempt each, written with COPY in %v; tables %d MB",
		version, n, (n+9)/10, time.Since(start).Round(time.Second), schemaBytes(ctx, t, full)>>20)

	for r := range figureRounds {
		for _, c := range []struct {
			name string
			s    *Store
		}{{"empty", empty}, {fmt.Sprintf("%d finished", n), full}} {
			prefix := fmt.Sprintf("r%d", r)
			pacedEnqueue(ctx, t, c.s, prefix, 3000)
			lease, complete, rate, err := pacedRun(ctx, c.s, 3000, nil)
			require.NoError(t, err)
			t.Logf("round %d, %s: %.0f deliveries/s in batches of 10; lease p50 %v p99 %v; complete p50 %v p99 %v", r+1, c.name, rate,
				pct(lease, 50), pct(lease, 99), pct(complete, 50), pct(complete, 99))
		}
	}

	// Retention: the day before the database's day, both classes, while
	// the hot path runs at 1,000 deliveries a second.
	pacedEnqueue(ctx, t, full, "during", 120_000)
	before := schemaBytes(ctx, t, full)
	var history int64
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+full.q.schema+".deliveries WHERE state <> 'pending'").Scan(&history))
	sampler := sampleLocks(ctx, t, pool, full)
	stop := make(chan struct{})
	type paced struct {
		lease, complete []time.Duration
		rate            float64
		err             error
	}
	load := make(chan paced, 1)
	go func() {
		l, c, r, err := pacedRun(ctx, full, 120_000, stop)
		load <- paced{l, c, r, err}
	}()
	day := time.Now().UTC().Truncate(24 * time.Hour)
	start = time.Now()
	got, err := full.Prune(ctx, &webhook.PruneParams{Before: day, Limit: 1000})
	require.NoError(t, err)
	elapsed := time.Since(start)
	close(stop)
	during := <-load
	locks := sampler()
	after := schemaBytes(ctx, t, full)
	t.Logf("prune of one day: %d of %d finished deliveries (their partitions, attempts and events) in %v; tables %d MB before, %d MB after (the load below adds to them)",
		got, history, elapsed.Round(time.Millisecond), before>>20, after>>20)
	t.Logf("during the prune, %d batches at %.0f deliveries/s: lease p50 %v p99 %v max %v; complete p50 %v p99 %v max %v",
		len(during.lease), during.rate, pct(during.lease, 50), pct(during.lease, 99), pct(during.lease, 100),
		pct(during.complete, 50), pct(during.complete, 99), pct(during.complete, 100))
	t.Logf("locks stronger than ROW EXCLUSIVE on the schema's tables during the prune (sampled every millisecond):")
	for _, l := range locks {
		t.Logf("  %s", l)
	}
	t.Logf("leases that failed on rows moved under them (an engine leases again): %d", pacedMoved.Load())
	require.NoError(t, during.err)
	_, err = pool.Exec(ctx, "SELECT pg_stat_force_next_flush()")
	require.NoError(t, err)
	rows, _ := pool.Query(ctx, `SELECT CASE WHEN relname IN ('deliveries_pending', 'attempts_pending') THEN relname || ' (the hot table)'
			WHEN relname LIKE 'deliveries%' THEN 'deliveries history' WHEN relname LIKE 'attempts%' THEN 'attempts history' ELSE relname END,
		sum(n_dead_tup), sum(n_live_tup) FROM pg_stat_user_tables WHERE schemaname = $1 GROUP BY 1 ORDER BY 1`, schemaName(full))
	type deadRow struct {
		Table      string
		Dead, Live int64
	}
	dead, err := pgx.CollectRows(rows, pgx.RowToStructByPos[deadRow])
	require.NoError(t, err)
	for _, d := range dead {
		if d.Dead+d.Live > 0 {
			t.Logf("after the prune, %s: %d dead rows, %d live", d.Table, d.Dead, d.Live)
		}
	}
}

// schemaName is the unquoted name of the store's schema.
func schemaName(s *Store) string { return s.q.schema[1 : len(s.q.schema)-1] }

// schemaBytes is the size of the store's tables, with their indexes and
// TOAST.
func schemaBytes(ctx context.Context, t *testing.T, s *Store) int64 {
	t.Helper()
	var b int64
	require.NoError(t, s.pool.QueryRow(ctx, "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class AS c "+
		"JOIN pg_namespace AS n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'", schemaName(s)).Scan(&b))
	return b
}

// copyFinished writes n finished deliveries with COPY, one event and one
// attempt each: 10% failed, the rest succeeded, finished over the nine
// days of partitions around the database's day (the day before it to
// seven after), their events stored three days ago.
func copyFinished(ctx context.Context, t *testing.T, s *Store, n int) {
	t.Helper()
	now := time.Now().UTC()
	today := now.Truncate(24 * time.Hour)
	stored := now.Add(-72 * time.Hour)
	payload := []byte(`{"id":"in_1","amount":100}`)
	id := func(prefix string, i int) string { return fmt.Sprintf("%s_%09d", prefix, i) }
	state := func(i int) string {
		if i%10 == 1 {
			return string(webhook.StateFailed)
		}
		return string(webhook.StateSucceeded)
	}
	finished := func(i int) time.Time {
		return today.AddDate(0, 0, i%9-1).Add(time.Duration(i%86400) * time.Second)
	}
	source := func(row func(i int) []any) pgx.CopyFromSource {
		i := 0
		return pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			i++
			return row(i), nil
		})
	}
	for _, c := range []struct {
		table string
		cols  []string
		row   func(i int) []any
	}{
		{"events", []string{"id", "type", "tenant", "time", "payload", "stored_at"}, func(i int) []any {
			return []any{id("evt", i), "order.paid", "", stored, payload, stored}
		}},
		{"deliveries", []string{"id", "event_id", "endpoint_id", "state", "attempts", "next_attempt_at", "due_at",
			"last_status_code", "created_at", "updated_at"}, func(i int) []any {
			return []any{id("dlv", i), id("evt", i), fmt.Sprintf("ep_%d", i%50), state(i), 1, stored, stored,
				200, stored, finished(i)}
		}},
		{"attempts", []string{"delivery_id", "number", "started_at", "duration_ns", "status_code", "state", "finished_at"},
			func(i int) []any {
				return []any{id("dlv", i), 1, stored, int64(time.Millisecond), 200, state(i), finished(i)}
			}},
	} {
		start := time.Now()
		got, err := s.pool.CopyFrom(ctx, pgx.Identifier{schemaName(s), c.table}, c.cols, source(c.row))
		require.NoError(t, err, c.table)
		require.Equal(t, int64(n), got)
		_, err = s.pool.Exec(ctx, "ANALYZE "+s.q.schema+"."+c.table)
		require.NoError(t, err)
		t.Logf("COPY %d rows into %s in %v", n, c.table, time.Since(start).Round(time.Second))
	}
}

// pacedEnqueue enqueues m due deliveries to one endpoint, 500 per call.
func pacedEnqueue(ctx context.Context, t *testing.T, s *Store, prefix string, m int) {
	t.Helper()
	now := time.Now().UTC()
	for i := 0; i < m; i += 500 {
		var items []webhook.EnqueueItem
		for j := i; j < i+500 && j < m; j++ {
			id := fmt.Sprintf("p_%s_%06d", prefix, j)
			items = append(items, webhook.EnqueueItem{
				Event: webhook.Event{ID: "evt_" + id, Type: "t", Time: now, Payload: []byte(`{}`)},
				Deliveries: []webhook.Delivery{{ID: "dlv_" + id, EventID: "evt_" + id, EndpointID: "ep_1",
					State: webhook.StatePending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}},
			})
		}
		require.NoError(t, s.Enqueue(ctx, &webhook.EnqueueParams{Now: now, Items: items}))
	}
}

// pacedRun leases and completes deliveries at 1,000 a second, as an
// engine does: every 10 ms a worker leases a batch of pacedBatch and
// completes it in one call, up to pacedWorkers batches at once. It stops
// once m deliveries are done, none is left or stop is closed (nil:
// never), and returns each call's latency and the rate it kept. It runs
// on any goroutine: it returns errors rather than fail the test.
func pacedRun(ctx context.Context, s *Store, m int, stop <-chan struct{}) (lease, complete []time.Duration, rate float64, err error) {
	var (
		mu    sync.Mutex
		errs  []error
		wg    sync.WaitGroup
		slots = make(chan struct{}, pacedWorkers)
		empty = make(chan struct{})
		once  sync.Once
		n     int
		moved atomic.Int64
	)
	batch := func() {
		defer func() { <-slots; wg.Done() }()
		at := time.Now().UTC()
		t0 := time.Now()
		ls, err := s.Lease(ctx, &webhook.LeaseParams{Now: at, Owner: "o", Until: at.Add(time.Minute), Limit: pacedBatch})
		dl := time.Since(t0)
		if isCode(err, serializationFailed) {
			// Rows moved under the lease by concurrent Completes, past the
			// store's retries: an engine backs off and leases again.
			moved.Add(1)
			return
		}
		if err != nil || len(ls) == 0 {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
			once.Do(func() { close(empty) })
			return
		}
		outs := make([]webhook.Outcome, len(ls))
		for i, l := range ls {
			outs[i] = webhook.Outcome{Lease: webhook.LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token}, State: webhook.StateSucceeded,
				Attempts: []webhook.Attempt{{StartedAt: at, Duration: time.Millisecond, StatusCode: 200}}}
		}
		t0 = time.Now()
		_, err = s.Complete(ctx, &webhook.CompleteParams{Now: at, Outcomes: outs})
		dc := time.Since(t0)
		mu.Lock()
		defer mu.Unlock()
		lease, complete = append(lease, dl), append(complete, dc)
		n += len(ls)
		errs = append(errs, err)
	}
	tick := time.NewTicker(pacedBatch * time.Millisecond)
	defer tick.Stop()
	begin := time.Now()
loop:
	for range (m + pacedBatch - 1) / pacedBatch {
		select {
		case <-stop:
			break loop
		case <-empty:
			break loop
		case <-tick.C:
		}
		slots <- struct{}{}
		wg.Add(1)
		go batch()
	}
	wg.Wait()
	rate = float64(n) / time.Since(begin).Seconds()
	pacedMoved.Add(moved.Load())
	return lease, complete, rate, errors.Join(errs...)
}

// pacedMoved counts the leases of pacedRun that failed because rows moved
// under them, past the store's retries.
var pacedMoved atomic.Int64

// pacedBatch is the size of pacedRun's leases, one every pacedBatch ms;
// pacedWorkers is how many it runs at once at most.
const (
	pacedBatch   = 10
	pacedWorkers = 4
)

// sampleLocks polls pg_locks every millisecond, on a connection of its
// own, for the locks stronger than ROW EXCLUSIVE that anyone holds or
// waits for on the store's tables (the hot path takes none: those are the
// prune's), until
// the returned function is called; that returns one line per relation and
// mode: how long it was seen held and how many waited behind it.
func sampleLocks(ctx context.Context, t *testing.T, pool *pgxpool.Pool, s *Store) func() []string {
	t.Helper()
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	type key struct{ rel, mode string }
	type seen struct {
		first, last time.Time
		waiters     int
		by          map[string]bool // the statements seen holding it
	}
	var (
		mu    sync.Mutex
		locks = map[key]*seen{}
		done  = make(chan struct{})
		ended = make(chan error, 1)
	)
	go func() {
		defer conn.Release()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				ended <- nil
				return
			case <-tick.C:
			}
			rows, _ := conn.Query(ctx, `SELECT c.relname, l.mode, l.granted,
					CASE WHEN a.backend_type = 'client backend' THEN coalesce(substring(a.query FROM '^\s*(\S+(?:\s+\S+)?)'), '?') ELSE a.backend_type END
				FROM pg_locks AS l
				JOIN pg_class AS c ON c.oid = l.relation JOIN pg_namespace AS n ON n.oid = c.relnamespace
				JOIN pg_stat_activity AS a ON a.pid = l.pid
				WHERE n.nspname = $1 AND l.locktype = 'relation' AND c.relkind IN ('r', 'p')
					AND l.mode NOT IN ('AccessShareLock', 'RowShareLock', 'RowExclusiveLock')`,
				schemaName(s))
			now := time.Now()
			var (
				rel, mode, by string
				granted       bool
			)
			_, err := pgx.ForEachRow(rows, []any{&rel, &mode, &granted, &by}, func() error {
				mu.Lock()
				defer mu.Unlock()
				k := key{rel, mode}
				v := locks[k]
				if v == nil {
					v = &seen{first: now, by: map[string]bool{}}
					locks[k] = v
				}
				v.by[by] = true
				v.last = now
				if !granted {
					v.waiters++
				}
				return nil
			})
			if err != nil {
				ended <- err
				return
			}
		}
	}()
	return func() []string {
		close(done)
		require.NoError(t, <-ended)
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for k, v := range locks {
			out = append(out, fmt.Sprintf("%s on %s, seen for %v (waiting in %d samples), by %s",
				k.mode, k.rel, v.last.Sub(v.first).Round(time.Millisecond), v.waiters, strings.Join(slices.Sorted(maps.Keys(v.by)), ", ")))
		}
		sort.Strings(out)
		return out
	}
}

// pct returns the p-th percentile of ds (100: the maximum).
func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)].Round(time.Microsecond)
}
