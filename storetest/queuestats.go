package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook"
)

func queueStats(t *testing.T, s webhook.Store, now time.Time) webhook.QueueStats {
	t.Helper()
	st, err := s.(webhook.QueueStatser).QueueStats(t.Context(), &webhook.QueueStatsParams{Now: now})
	require.NoError(t, err)
	return st
}

func queueStatsCases() []testCase {
	return []testCase{
		{"Empty", func(t *testing.T, s webhook.Store) {
			require.Equal(t, webhook.QueueStats{}, queueStats(t, s, base))
		}},
		{"CountsPendingDueAndDelayed", func(t *testing.T, s webhook.Store) {
			seedOne(t, s, 0, "ep_a", at(-time.Minute)) // due, oldest
			seedOne(t, s, 1, "ep_b", base)             // due at the instant
			seedOne(t, s, 2, "ep_a", at(time.Second))  // delayed
			seedOne(t, s, 3, "ep_c", at(time.Hour))    // delayed
			seedOne(t, s, 4, "ep_c", at(-time.Second)) // due, then finished
			finish(t, s, deliveryID(4), base, webhook.StateSucceeded, 200)
			seedOne(t, s, 5, "ep_d", at(-2*time.Minute)) // due, leased
			leaseOne(t, s, "a", at(-2*time.Minute), farFuture, deliveryID(5))

			st := queueStats(t, s, base)
			require.Equal(t, int64(5), st.Pending)
			require.Equal(t, int64(3), st.Due)
			require.Equal(t, int64(2), st.Delayed)
			requireSameInstant(t, at(-2*time.Minute), st.OldestDue, "OldestDue")

			st = queueStats(t, s, at(2*time.Hour))
			require.Equal(t, webhook.QueueStats{Pending: 5, Due: 5, OldestDue: st.OldestDue}, st)
		}},
		{"CancelledContext", func(t *testing.T, s webhook.Store) {
			seedOne(t, s, 0, "ep_a", base)
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			_, err := s.(webhook.QueueStatser).QueueStats(ctx, &webhook.QueueStatsParams{Now: base})
			require.ErrorIs(t, err, context.Canceled)
		}},
	}
}
