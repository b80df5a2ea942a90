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

// TestMigrateBatchesReportsLocksKeepsData builds a schema at the version
// before batches, reports and locks (migrations 0011 to 0013) with an
// endpoint and deliveries in it, migrates it, and checks that every record
// reads back with the new fields at their zero values and that the pending
// deliveries are leased and completed as before.
func TestMigrateBatchesReportsLocksKeepsData(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := pgtest.ConnString(t)
	schema := pgtest.NewSchema(t)
	pool := pgtest.Pool(t, url, 4)
	q := pgx.Identifier{schema}.Sanitize()
	v := pgstore.MigrationVersion("_batches.sql")
	require.Positive(t, v)
	require.NoError(t, pgstore.MigrateTo(ctx, pool, &pgstore.Options{Schema: schema}, v-1))

	now := time.Now().UTC().Truncate(time.Microsecond)
	for _, sql := range []string{`
INSERT INTO ` + q + `.endpoints (id, url, secret_keys, secret_expires, rate_limit, rate_burst, created_at, updated_at)
VALUES ('ep_a', 'https://a.example/hook', '{whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw}', '{infinity}', 5, 2, $1, $1)`, `
INSERT INTO ` + q + `.events (id, type, tenant, time, payload, attributes, stored_at, ordering_key)
VALUES ('evt_1', 'order.paid', 'acme', $1, '{"n":1}', NULL, $1, '')`, `
INSERT INTO ` + q + `.deliveries (id, event_id, endpoint_id, state, attempts, next_attempt_at, due_at,
	last_status_code, last_error, lease_owner, lease_token, lease_until, created_at, updated_at,
	ordering_key, ordered, seq)
VALUES ('dlv_pending', 'evt_1', 'ep_a', 'pending', 1, $1, $1, 503, 'unavailable', NULL, NULL, NULL, $1, $1, '', false, 0),
       ('dlv_ok', 'evt_1', 'ep_b', 'succeeded', 1, $1, $1, 200, '', NULL, NULL, NULL, $1, $1, '', false, 0)`} {
		_, err := pool.Exec(ctx, sql, now)
		require.NoError(t, err)
	}

	st, err := pgstore.New(ctx, pool, &pgstore.Options{Schema: schema})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })

	ep, err := st.GetEndpoint(ctx, &webhook.GetEndpointParams{ID: "ep_a"})
	require.NoError(t, err)
	require.Equal(t, "https://a.example/hook", ep.URL)
	require.Equal(t, 5.0, ep.RateLimit)
	require.Zero(t, ep.Batch)
	require.Zero(t, ep.AckTimeout)

	done, err := st.GetDelivery(ctx, &webhook.GetDeliveryParams{ID: "dlv_ok"})
	require.NoError(t, err)
	require.Equal(t, webhook.StateSucceeded, done.State)
	require.Empty(t, done.BatchID)
	require.False(t, done.AwaitingReport)

	leases, err := st.Lease(ctx, &webhook.LeaseParams{Owner: "o", Now: now.Add(time.Second), Until: now.Add(time.Minute), Limit: 10})
	require.NoError(t, err)
	require.Len(t, leases, 1)
	l := leases[0]
	require.Equal(t, "dlv_pending", l.Delivery.ID)
	require.Equal(t, "evt_1", l.Event.ID)
	require.Empty(t, l.Delivery.BatchID)
	require.False(t, l.Delivery.AwaitingReport)

	res, err := st.Complete(ctx, &webhook.CompleteParams{Now: now.Add(2 * time.Second), Outcomes: []webhook.Outcome{{
		Lease:    webhook.LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token},
		Attempts: []webhook.Attempt{{DeliveryID: l.Delivery.ID, Number: 2, StartedAt: now.Add(time.Second), StatusCode: 200}},
		State:    webhook.StateSucceeded,
	}}})
	require.NoError(t, err)
	require.Empty(t, res.Stale)
	d, err := st.GetDelivery(ctx, &webhook.GetDeliveryParams{ID: "dlv_pending"})
	require.NoError(t, err)
	require.Equal(t, webhook.StateSucceeded, d.State)
	require.Equal(t, 2, d.Attempts)

	// The tables the migrations added are there and work.
	reports, err := st.ListReports(ctx, &webhook.ListReportsParams{DeliveryID: "dlv_pending"})
	require.NoError(t, err)
	require.Empty(t, reports.Items)
	ok, err := st.TryLock(ctx, &webhook.TryLockParams{Name: webhook.RetentionLockName, Owner: "o", Now: now, Until: now.Add(time.Minute)})
	require.NoError(t, err)
	require.True(t, ok)
}
