package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook"
)

// awaitBatch forms a batch of n deliveries (see seedBatch) and completes
// every member with one attempt answered 202 that awaits a report
// carrying hash until ackDeadline, as a batch request does.
func awaitBatch(t *testing.T, s webhook.Store, n int, hash []byte) []string {
	t.Helper()
	ls := seedBatch(t, s, n, at(time.Minute))
	outs := make([]webhook.Outcome, n)
	ids := make([]string, n)
	for i, l := range ls {
		ids[i] = l.Delivery.ID
		outs[i] = webhook.Outcome{Lease: ref(l), State: webhook.StatePending, NextAttemptAt: ackDeadline, AwaitTokenHash: hash,
			Attempts: []webhook.Attempt{attempt(l.Delivery.ID, 1, base, 202)}}
	}
	res, err := s.Complete(t.Context(), &webhook.CompleteParams{Outcomes: outs, Now: at(time.Second)})
	require.NoError(t, err)
	require.Empty(t, res.Stale)
	return ids
}

func batchReport(t *testing.T, s webhook.Store, id string, hash []byte, now time.Time, st webhook.ReportStatus,
	state webhook.DeliveryState, next time.Time) (webhook.Delivery, error) {
	t.Helper()
	return reporter(t, s).Report(t.Context(), &webhook.ReportParams{
		DeliveryID: id, TokenHash: hash, Now: now, Batch: true,
		Report: webhook.Report{Status: st, Message: "m-" + string(st), Progress: 0.5},
		State:  state, NextAttemptAt: next,
	})
}

// batchReporterCases run on stores that are both a Batcher and a
// Reporter: a report with Batch set reaches every member of the batch.
func batchReporterCases() []testCase {
	return []testCase{
		{"Report/BatchReachesEveryMember", func(t *testing.T, s webhook.Store) {
			h := tokenHash("batch")
			ids := awaitBatch(t, s, 3, h)
			d, err := batchReport(t, s, ids[0], h, at(time.Minute), webhook.ReportRunning, webhook.StatePending, at(30*time.Minute))
			require.NoError(t, err)
			require.Equal(t, ids[0], d.ID)
			for _, id := range ids {
				got := getDelivery(t, s, id)
				require.True(t, got.AwaitingReport, id)
				requireSameInstant(t, at(30*time.Minute), got.NextAttemptAt, "running moves every member's wait")
				require.Len(t, allReports(t, s, id, 0), 1, id)
			}
			_, err = batchReport(t, s, ids[1], h, at(2*time.Minute), webhook.ReportSucceeded, webhook.StateSucceeded, time.Time{})
			require.NoError(t, err)
			for _, id := range ids {
				got := getDelivery(t, s, id)
				require.Equal(t, webhook.StateSucceeded, got.State, id)
				require.False(t, got.AwaitingReport, id)
				require.Equal(t, "batch_1", got.BatchID)
				reps := allReports(t, s, id, 0)
				require.Len(t, reps, 2, id)
				require.Equal(t, webhook.ReportSucceeded, reps[1].Status)
			}
			// The wait has ended: the token is dead for every member.
			_, err = batchReport(t, s, ids[2], h, at(3*time.Minute), webhook.ReportFailed, webhook.StateFailed, time.Time{})
			require.ErrorIs(t, err, webhook.ErrReportRefused)
		}},
		{"Report/WithoutBatchOneMember", func(t *testing.T, s webhook.Store) {
			h := tokenHash("batch")
			ids := awaitBatch(t, s, 2, h)
			_, err := report(t, s, ids[0], h, at(time.Minute), webhook.ReportSucceeded, webhook.StateSucceeded, time.Time{}, nil)
			require.NoError(t, err)
			require.Equal(t, webhook.StateSucceeded, getDelivery(t, s, ids[0]).State)
			require.True(t, getDelivery(t, s, ids[1]).AwaitingReport)
		}},
		{"Report/BatchForeignTokenChangesNothing", func(t *testing.T, s webhook.Store) {
			h := tokenHash("batch")
			ids := awaitBatch(t, s, 2, h)
			before := getDelivery(t, s, ids[1])
			_, err := batchReport(t, s, ids[0], tokenHash("other"), at(time.Minute), webhook.ReportSucceeded, webhook.StateSucceeded, time.Time{})
			require.ErrorIs(t, err, webhook.ErrReportRefused)
			require.Equal(t, normDelivery(before), normDelivery(getDelivery(t, s, ids[1])))
			require.Empty(t, allReports(t, s, ids[1], 0))
		}},
	}
}
