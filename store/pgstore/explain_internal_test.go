package pgstore

import (
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook/internal/pgtest"
)

// EnvScaleRows sets how many deliveries [TestPlansAtScale] generates.
// CI uses the default of 200,000; set it to 1000000 (or more) for the
// figure the documentation quotes.
const EnvScaleRows = "HOOKLET_PG_SCALE_ROWS"

// scaleRows is the number of deliveries of TestPlansAtScale.
func scaleRows(t *testing.T) int {
	t.Helper()
	n := 200_000
	if v := os.Getenv(EnvScaleRows); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(t, err, EnvScaleRows)
	}
	return n
}

// seedScale fills a store's schema with n deliveries straight in SQL, one
// event and one attempt each: 1% pending, 10% failed, the rest succeeded,
// finished over the nine days of partitions around the database's day.
func seedScale(ctx context.Context, t *testing.T, s *Store, n int) {
	t.Helper()
	sch := s.q.schema
	for _, sql := range []string{
		`INSERT INTO ` + sch + `.events (id, type, tenant, time, payload, attributes, stored_at)
		SELECT 'evt_' || lpad(i::text, 9, '0'), 'order.paid', '', now(), '{"n":1}', NULL, now() - interval '3 days'
		FROM generate_series(1, $1) AS i`,
		`INSERT INTO ` + sch + `.deliveries (id, event_id, endpoint_id, state, attempts, next_attempt_at, due_at,
			last_status_code, created_at, updated_at)
		SELECT 'dlv_' || lpad(i::text, 9, '0'), 'evt_' || lpad(i::text, 9, '0'), 'ep_' || (i % 50),
			CASE WHEN i % 100 = 0 THEN 'pending' WHEN i % 10 = 1 THEN 'failed' ELSE 'succeeded' END,
			1, now(), now() + (i % 600) * interval '1 second', 200, now() - interval '3 days',
			date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
				+ ((i % 9) - 1) * interval '1 day' + (i % 86400) * interval '1 second'
		FROM generate_series(1, $1) AS i`,
		`INSERT INTO ` + sch + `.attempts (delivery_id, number, started_at, duration_ns, status_code, state, finished_at)
		SELECT id, 1, created_at, 1000000, 200, state, CASE WHEN state <> 'pending' THEN updated_at END
		FROM ` + sch + `.deliveries`,
		`ANALYZE ` + sch + `.deliveries`,
		`ANALYZE ` + sch + `.attempts`,
		`ANALYZE ` + sch + `.events`,
	} {
		var err error
		if strings.Contains(sql, "$1") {
			_, err = s.pool.Exec(ctx, sql, n)
		} else {
			_, err = s.pool.Exec(ctx, sql)
		}
		require.NoError(t, err, sql)
	}
}

// seqScan matches a sequential scan of a table (or partition) of
// deliveries, attempts or events.
var seqScan = regexp.MustCompile(`Seq Scan on ((?:deliveries|attempts|events)\w*)`)

// TestPlansAtScale checks the plan of every statement of the store but
// Prune's on a schema of scaleRows deliveries: none reads a whole table
// (or partition) of deliveries, attempts or events. (Prune drops the
// partitions wholly before its cut-offs and reads by row only the ones
// that straddle them; TestPruneDropsPartitions tests it.)
func TestPlansAtScale(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := pgtest.ConnString(t)
	pool := pgtest.Pool(t, url, 4)
	s, err := New(ctx, pool, &Options{Schema: pgtest.NewSchema(t)})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	n := scaleRows(t)
	start := time.Now()
	seedScale(ctx, t, s, n)
	t.Logf("%d deliveries seeded in %v", n, time.Since(start))

	now := time.Now().UTC()
	id := "dlv_" + strings.Repeat("0", 6) + "500"  // pending
	fin := "dlv_" + strings.Repeat("0", 6) + "501" // failed
	ids, tokens := []string{id}, []string{"tok"}
	none := []string{}
	one := func(v string) []string { return []string{v} }
	cols := "SELECT " + deliveryColumns + " FROM " + s.q.schema + ".deliveries WHERE id > $1"
	for name, c := range map[string]struct {
		sql  string
		args []any
	}{
		"lease":   {s.q.lease, []any{now, "o", now.Add(time.Minute), 100, none}},
		"extend":  {s.q.extend, []any{ids, tokens, now}},
		"release": {s.q.release, []any{ids, tokens, now, s.channel}},
		"complete": {s.q.complete, []any{ids, tokens, one("succeeded"), []time.Time{now}, []int32{1}, []int32{200}, one(""),
			ids, []int32{1}, []time.Time{now}, []int64{1}, []int32{200}, one(""), one(""), [][]byte{nil}, []bool{false}, now,
			[][]byte{nil}, one("")}},
		"report":            {s.q.report, []any{fin, []byte("h"), now, "running", "", 0.5, "pending", now, "", "", s.channel, false}},
		"report to a batch": {s.q.report, []any{fin, []byte("h"), now, "running", "", 0.5, "pending", now, "", "", s.channel, true}},
		"form batch":        {s.q.formBatch, []any{ids, tokens, "batch_1", now}},
		"advance":           {s.q.advance, []any{s.channel}},
		"next due":          {s.q.nextDue, []any{none}},
		"poll":              {s.q.poll, nil},
		"redeliver":         {s.q.redeliver, []any{fin, now, s.channel, false}},
		"enqueue": {s.q.enqueue, []any{one("evt_new"), one("t"), one(""), []time.Time{now}, [][]byte{[]byte("{}")}, []*string{nil}, now,
			one("dlv_new"), one("evt_new"), one("ep_1"), one("pending"), []int32{0}, []time.Time{now}, []int32{0}, one(""),
			[]time.Time{now}, []time.Time{now}, s.channel, "x", one(""), one(""), one(""), one(""), []bool{false}}},
		"get delivery":     {"SELECT " + deliveryColumns + " FROM " + s.q.schema + ".deliveries WHERE id = $1", []any{fin}},
		"list by endpoint": {cols + " AND endpoint_id = $2 ORDER BY id LIMIT $3", []any{"", "ep_7", 101}},
		"list by state":    {cols + " AND state = $2 ORDER BY id LIMIT $3", []any{"", "failed", 101}},
		"list pending":     {cols + " AND state = $2 ORDER BY id LIMIT $3", []any{"", "pending", 101}},
		"list by endpoint and state": {cols + " AND endpoint_id = $2 AND state = $3 ORDER BY id LIMIT $4",
			[]any{"", "ep_7", "succeeded", 101}},
		"list by event": {cols + " AND event_id = $2 ORDER BY id LIMIT $3", []any{"", "evt_000000501", 101}},
		"list attempts": {`SELECT delivery_id, number FROM ` + s.q.schema + `.attempts
			WHERE delivery_id = $1 AND number > $2 ORDER BY number LIMIT $3`, []any{fin, 0, 101}},
	} {
		rows, _ := pool.Query(ctx, "EXPLAIN "+c.sql, c.args...)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err, name)
		plan := strings.Join(lines, "\n")
		// The DEFAULT partitions are empty here, as they are whenever
		// every day has its partition: scanning them reads nothing.
		for _, m := range seqScan.FindAllStringSubmatch(plan, -1) {
			require.True(t, strings.HasSuffix(m[1], "_default"), "%s:\n%s", name, plan)
		}
	}
}
