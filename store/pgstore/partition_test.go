package pgstore_test

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/internal/pgtest"
	"github.com/hooklet/webhook/store/pgstore"
)

// TestMigratePartitionedHistoryKeepsData builds a schema at the version
// before the partitioned history (one table of deliveries, one of attempts) with deliveries in every state,
// migrates it, and checks that every record survived where it belongs and
// that the pending deliveries are leased and delivered as before.
func TestMigratePartitionedHistoryKeepsData(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := pgtest.ConnString(t)
	schema := pgtest.NewSchema(t)
	pool := pgtest.Pool(t, url, 4)
	q := pgx.Identifier{schema}.Sanitize()
	v := pgstore.PartitionedHistoryVersion()
	require.Positive(t, v)
	require.NoError(t, pgstore.MigrateTo(ctx, pool, &pgstore.Options{Schema: schema}, v-1))

	// Finished ones today and long ago: each day gets its partition.
	today := time.Now().UTC().Truncate(time.Microsecond)
	old := time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)
	for _, sql := range []string{`
INSERT INTO ` + q + `.events (id, type, tenant, time, payload, attributes, stored_at, ordering_key)
VALUES ('evt_1', 'order.paid', 'acme', $1, '{"n":1}', '{"k":"v"}', $1, ''),
       ('evt_2', 'order.paid', '', $2, '{"n":2}', NULL, $2, 'key')`, `
INSERT INTO ` + q + `.deliveries (id, event_id, endpoint_id, state, attempts, next_attempt_at, due_at,
	last_status_code, last_error, lease_owner, lease_token, lease_until, created_at, updated_at,
	ordering_key, ordered, seq)
VALUES ('dlv_pending', 'evt_1', 'ep_a', 'pending', 1, $1, $1, 503, 'unavailable', NULL, NULL, NULL, $1, $1, '', false, 0),
       ('dlv_leased', 'evt_1', 'ep_b', 'pending', 0, $1, $1, 0, '', 'owner_x', 'tok_x', $1, $1, $1, '', false, 0),
       ('dlv_ok', 'evt_1', 'ep_c', 'succeeded', 1, $1, $1, 200, '', NULL, NULL, NULL, $1, $1, '', false, 0),
       ('dlv_failed', 'evt_1', 'ep_d', 'failed', 2, $1, $1, 500, 'boom', NULL, NULL, NULL, $1, $1, '', false, 0),
       ('dlv_old', 'evt_2', 'ep_a', 'succeeded', 1, $2, $2, 204, '', NULL, NULL, NULL, $2, $2, 'key', true, 0),
       ('dlv_skipped', 'evt_2', 'ep_b', 'skipped', 0, $2, $2, 0, '', NULL, NULL, NULL, $2, $2, '', false, 0)`, `
INSERT INTO ` + q + `.attempts (delivery_id, number, started_at, duration_ns, status_code, error_class,
	error, response_body, response_truncated)
VALUES ('dlv_pending', 1, $1, 1000, 503, 'status', 'unavailable', 'busy', false),
       ('dlv_ok', 1, $1, 2000, 200, '', '', 'ok', true),
       ('dlv_failed', 1, $1, 3000, 500, 'status', 'boom', NULL, false),
       ('dlv_failed', 2, $1, 4000, 500, 'status', 'boom', NULL, false),
       ('dlv_old', 1, $2, 5000, 204, '', '', NULL, false)`} {
		_, err := pool.Exec(ctx, sql, today, old)
		require.NoError(t, err)
	}

	st, err := pgstore.New(ctx, pool, &pgstore.Options{Schema: schema})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })

	want := map[string]struct {
		state    webhook.DeliveryState
		attempts int
		status   int
		at       time.Time
	}{
		"dlv_pending": {webhook.StatePending, 1, 503, today},
		"dlv_leased":  {webhook.StatePending, 0, 0, today},
		"dlv_ok":      {webhook.StateSucceeded, 1, 200, today},
		"dlv_failed":  {webhook.StateFailed, 2, 500, today},
		"dlv_old":     {webhook.StateSucceeded, 1, 204, old},
		"dlv_skipped": {webhook.StateSkipped, 0, 0, old},
	}
	for id, w := range want {
		d, err := st.GetDelivery(ctx, &webhook.GetDeliveryParams{ID: id})
		require.NoError(t, err, id)
		require.Equal(t, w.state, d.State, id)
		require.Equal(t, w.attempts, d.Attempts, id)
		require.Equal(t, w.status, d.LastStatusCode, id)
		require.True(t, w.at.Equal(d.UpdatedAt), id)
		as, err := st.ListAttempts(ctx, &webhook.ListAttemptsParams{DeliveryID: id})
		require.NoError(t, err, id)
		require.Len(t, as.Items, w.attempts, id)
	}
	d, err := st.GetDelivery(ctx, &webhook.GetDeliveryParams{ID: "dlv_old"})
	require.NoError(t, err)
	require.Equal(t, "key", d.OrderingKey)
	require.True(t, d.Ordered)
	ev, err := st.GetEvent(ctx, &webhook.GetEventParams{ID: "evt_1"})
	require.NoError(t, err)
	require.Equal(t, "acme", ev.Tenant)
	require.JSONEq(t, `{"n":1}`, string(ev.Payload))
	require.Equal(t, map[string]string{"k": "v"}, ev.Attributes)
	as, err := st.ListAttempts(ctx, &webhook.ListAttemptsParams{DeliveryID: "dlv_ok"})
	require.NoError(t, err)
	require.Equal(t, "ok", string(as.Items[0].ResponseBody))
	require.True(t, as.Items[0].ResponseTruncated)
	require.Equal(t, 2*time.Microsecond, as.Items[0].Duration)

	// Each row is in the partition of its state and day.
	for table, ids := range map[string][]string{
		"deliveries_pending":        {"dlv_leased", "dlv_pending"},
		"deliveries_failed":         {"dlv_failed"},
		"deliveries_done":           {"dlv_ok", "dlv_old", "dlv_skipped"},
		"deliveries_done_p20200506": {"dlv_old", "dlv_skipped"},
		"attempts_pending":          {"dlv_pending"},
		"attempts_failed":           {"dlv_failed", "dlv_failed"},
		"attempts_done_p20200506":   {"dlv_old"},
		"deliveries_done_default":   nil,
		"deliveries_failed_default": nil,
		"attempts_done_default":     nil,
	} {
		col := "id"
		if table[:8] == "attempts" {
			col = "delivery_id"
		}
		rows, _ := pool.Query(ctx, "SELECT "+col+" FROM "+q+"."+table+" ORDER BY "+col)
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err, table)
		if ids == nil {
			require.Empty(t, got, table)
		} else {
			require.Equal(t, ids, got, table)
		}
	}

	// The pending one is due; the leased one once its lease (ended at
	// today) is over. Both are leased and delivered.
	ls, err := st.Lease(ctx, &webhook.LeaseParams{Now: today, Owner: "o", Until: today.Add(time.Minute), Limit: 10})
	require.NoError(t, err)
	require.Len(t, ls, 2)
	var outs []webhook.Outcome
	for _, l := range ls {
		outs = append(outs, webhook.Outcome{Lease: webhook.LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token}, State: webhook.StateSucceeded,
			Attempts: []webhook.Attempt{{StartedAt: today, Duration: time.Millisecond, StatusCode: 200}}})
	}
	res, err := st.Complete(ctx, &webhook.CompleteParams{Now: today.Add(time.Second), Outcomes: outs})
	require.NoError(t, err)
	require.Empty(t, res.Stale)
	d, err = st.GetDelivery(ctx, &webhook.GetDeliveryParams{ID: "dlv_pending"})
	require.NoError(t, err)
	require.Equal(t, webhook.StateSucceeded, d.State)
	require.Equal(t, 2, d.Attempts)
	as, err = st.ListAttempts(ctx, &webhook.ListAttemptsParams{DeliveryID: "dlv_pending"})
	require.NoError(t, err)
	require.Len(t, as.Items, 2)
	require.Equal(t, 503, as.Items[0].StatusCode)
	require.Equal(t, 200, as.Items[1].StatusCode)
	var pending int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+q+".deliveries_pending").Scan(&pending))
	require.Zero(t, pending)
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+q+".attempts_pending").Scan(&pending))
	require.Zero(t, pending)
}

// TestPruneDropsPartitions checks that Prune drops the day partitions
// wholly before their cut-off (failed ones by FailedBefore), deletes rows
// only in the partition that straddles it, and removes the events the
// dropped partitions leave without deliveries.
func TestPruneDropsPartitions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	// Two days ahead of the database's day: their partitions exist.
	day2 := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 2)
	day3 := day2.AddDate(0, 0, 1)
	finish := func(id string, at time.Time, st webhook.DeliveryState) {
		t.Helper()
		require.NoError(t, b.store.Enqueue(ctx, &webhook.EnqueueParams{Now: day2, Items: []webhook.EnqueueItem{{
			Event: webhook.Event{ID: "evt_" + id, Type: "t", Time: day2, Payload: []byte(`{}`)},
			Deliveries: []webhook.Delivery{{ID: id, EventID: "evt_" + id, EndpointID: "ep", State: webhook.StatePending,
				NextAttemptAt: day2, CreatedAt: day2, UpdatedAt: day2}},
		}}}))
		ls, err := b.store.Lease(ctx, &webhook.LeaseParams{Now: at, Owner: "o", Until: at.Add(time.Minute), Limit: 1})
		require.NoError(t, err)
		require.Len(t, ls, 1)
		_, err = b.store.Complete(ctx, &webhook.CompleteParams{Now: at, Outcomes: []webhook.Outcome{{
			Lease: webhook.LeaseRef{DeliveryID: id, Token: ls[0].Token}, State: st,
			Attempts: []webhook.Attempt{{StartedAt: at, StatusCode: 200}},
		}}})
		require.NoError(t, err)
	}
	finish("dlv_1", day2.Add(time.Hour), webhook.StateSucceeded)
	finish("dlv_2", day2.Add(2*time.Hour), webhook.StateFailed)
	finish("dlv_3", day3.Add(time.Hour), webhook.StateSucceeded)
	finish("dlv_4", day3.Add(5*time.Hour), webhook.StateSucceeded)
	q := pgx.Identifier{b.schema}.Sanitize()
	exists := func(table string) bool {
		var ok bool
		require.NoError(t, b.pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", q+"."+table).Scan(&ok))
		return ok
	}
	sfx := day2.Format("20060102")
	for _, table := range []string{"deliveries_done_p", "deliveries_failed_p", "attempts_done_p", "attempts_failed_p"} {
		require.True(t, exists(table+sfx), table)
	}

	n, err := b.store.Prune(ctx, &webhook.PruneParams{Before: day3.Add(2 * time.Hour), FailedBefore: day2.Add(time.Hour), Limit: 10})
	require.NoError(t, err)
	require.Equal(t, 2, n, "dlv_1 with its partition, dlv_3 by row")
	require.False(t, exists("deliveries_done_p"+sfx))
	require.False(t, exists("attempts_done_p"+sfx))
	require.True(t, exists("deliveries_failed_p"+sfx), "failed deliveries are kept until FailedBefore")
	for id, kept := range map[string]bool{"dlv_1": false, "dlv_2": true, "dlv_3": false, "dlv_4": true} {
		_, err := b.store.GetDelivery(ctx, &webhook.GetDeliveryParams{ID: id})
		_, evErr := b.store.GetEvent(ctx, &webhook.GetEventParams{ID: "evt_" + id})
		if kept {
			require.NoError(t, err, id)
			require.NoError(t, evErr, id)
			continue
		}
		require.ErrorIs(t, err, webhook.ErrNotFound, id)
		require.ErrorIs(t, evErr, webhook.ErrNotFound, id)
	}
	as, err := b.store.ListAttempts(ctx, &webhook.ListAttemptsParams{DeliveryID: "dlv_2"})
	require.NoError(t, err)
	require.Len(t, as.Items, 1)

	n, err = b.store.Prune(ctx, &webhook.PruneParams{Before: day3.Add(2 * time.Hour), FailedBefore: day3, Limit: 10})
	require.NoError(t, err)
	require.Equal(t, 1, n, "dlv_2 with its partition")
	require.False(t, exists("deliveries_failed_p"+sfx))
	require.False(t, exists("attempts_failed_p"+sfx))
	_, err = b.store.GetDelivery(ctx, &webhook.GetDeliveryParams{ID: "dlv_2"})
	require.ErrorIs(t, err, webhook.ErrNotFound)
	_, err = b.store.GetDelivery(ctx, &webhook.GetDeliveryParams{ID: "dlv_4"})
	require.NoError(t, err)
}

// TestEnqueueDuplicateOfFinished checks that a delivery ID is unique
// across the hot table and the history: an ID already finished, or given
// twice in one call with different states, fails the call whole.
func TestEnqueueDuplicateOfFinished(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	finished := func(id, ev string, st webhook.DeliveryState) webhook.EnqueueItem {
		it := item(ev)
		it.Deliveries = []webhook.Delivery{{ID: id, EventID: ev, EndpointID: "ep", State: st,
			NextAttemptAt: t0, CreatedAt: t0, UpdatedAt: t0}}
		return it
	}
	require.NoError(t, b.store.Enqueue(ctx, &webhook.EnqueueParams{Now: t0, Items: []webhook.EnqueueItem{
		finished("dlv_done", "evt_1", webhook.StateSucceeded),
		finished("dlv_pending", "evt_2", webhook.StatePending),
	}}))
	for name, items := range map[string][]webhook.EnqueueItem{
		"pending after finished":   {finished("dlv_done", "evt_3", webhook.StatePending)},
		"finished after finished":  {finished("dlv_done", "evt_3", webhook.StateFailed)},
		"finished after pending":   {finished("dlv_pending", "evt_3", webhook.StateSucceeded)},
		"twice in one call":        {finished("dlv_x", "evt_3", webhook.StateSucceeded), finished("dlv_x", "evt_4", webhook.StateFailed)},
		"pending and finished one": {finished("dlv_y", "evt_3", webhook.StatePending), finished("dlv_y", "evt_4", webhook.StateFailed)},
	} {
		err := b.store.Enqueue(ctx, &webhook.EnqueueParams{Now: t0, Items: items})
		require.ErrorIs(t, err, webhook.ErrDuplicateDelivery, name)
		_, err = b.store.GetEvent(ctx, &webhook.GetEventParams{ID: "evt_3"})
		require.ErrorIs(t, err, webhook.ErrNotFound, name)
	}
}

// TestPruneDropsReportsWithPartition: the reports of the deliveries in a
// dropped history partition go with them; those of kept deliveries stay.
func TestPruneDropsReportsWithPartition(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	day2 := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 2)
	day3 := day2.AddDate(0, 0, 1)
	hash := []byte("0123456789abcdef0123456789abcdef")
	reported := func(id string, at time.Time) {
		t.Helper()
		require.NoError(t, b.store.Enqueue(ctx, &webhook.EnqueueParams{Now: day2, Items: []webhook.EnqueueItem{{
			Event: webhook.Event{ID: "evt_" + id, Type: "t", Time: day2, Payload: []byte(`{}`)},
			Deliveries: []webhook.Delivery{{ID: id, EventID: "evt_" + id, EndpointID: "ep", State: webhook.StatePending,
				NextAttemptAt: day2, CreatedAt: day2, UpdatedAt: day2}},
		}}}))
		ls, err := b.store.Lease(ctx, &webhook.LeaseParams{Now: at, Owner: "o", Until: at.Add(time.Minute), Limit: 1})
		require.NoError(t, err)
		require.Len(t, ls, 1)
		_, err = b.store.Complete(ctx, &webhook.CompleteParams{Now: at, Outcomes: []webhook.Outcome{{
			Lease: webhook.LeaseRef{DeliveryID: id, Token: ls[0].Token}, State: webhook.StatePending,
			Attempts: []webhook.Attempt{{StartedAt: at, StatusCode: 202}}, NextAttemptAt: at.Add(time.Hour), AwaitTokenHash: hash,
		}}})
		require.NoError(t, err)
		_, err = b.store.Report(ctx, &webhook.ReportParams{DeliveryID: id, TokenHash: hash, Now: at.Add(time.Minute),
			Report: webhook.Report{Status: webhook.ReportSucceeded}, State: webhook.StateSucceeded})
		require.NoError(t, err)
	}
	reported("dlv_1", day2.Add(time.Hour))
	reported("dlv_2", day3.Add(time.Hour))
	count := func(id string) int {
		var n int
		require.NoError(t, b.pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{b.schema}.Sanitize()+".reports WHERE delivery_id = $1", id).Scan(&n))
		return n
	}
	require.Equal(t, 1, count("dlv_1"))
	n, err := b.store.Prune(ctx, &webhook.PruneParams{Before: day3, Limit: 10})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Zero(t, count("dlv_1"), "the reports went with the partition")
	require.Equal(t, 1, count("dlv_2"))
}
