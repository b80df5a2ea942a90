package webhook_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
)

// batchReportingStore records batches and keeps reports, as memstore does.
type batchReportingStore struct {
	batchStore
	webhook.Reporter
}

// TestCallbackBatch: a batched request carries one callback URL; its
// report applies to every member; a batch whose wait runs out fails its
// members' attempt without sending, and is retried as a unit with a new
// URL.
func TestCallbackBatch(t *testing.T) {
	t.Parallel()
	st := newSignalStore(t)
	clk := newTimerClock()
	b := startAck(t, webhook.Config{
		Store: batchReportingStore{batchStore{st}, st.Store.(webhook.Reporter)},
		Retry: webhook.RetryPolicy{Schedule: []time.Duration{time.Minute}, Jitter: -1},
		Test:  webhook.TestConfig{Clock: clk},
	}, st, clk.Clock)
	rc := newReceiver(t, accepted)
	b.addEndpoint(t, "ep", rc.URL, batched(webhook.BatchPolicy{MaxEvents: 3}), withAck(15*time.Minute))
	evs := b.emitBatchN(t, "a", 3)

	first := rc.next(t)
	require.Len(t, lines(t, first), 3)
	u1 := callbackURL(t, first)
	for range 3 {
		o := b.nextOutcome(t)
		require.Equal(t, webhook.StatePending, o.State)
		require.NotEmpty(t, o.AwaitTokenHash)
		require.Equal(t, epoch.Add(15*time.Minute), o.NextAttemptAt)
	}
	dls := make([]webhook.Delivery, len(evs))
	for i, ev := range evs {
		dls[i] = b.delivery(t, ev.ID)
		require.True(t, dls[i].AwaitingReport)
	}
	named := 0
	for _, dl := range dls {
		if strings.Contains(u1, "/"+dl.ID+".") {
			named++
		}
	}
	require.Equal(t, 1, named, "the callback URL names one member of the batch")

	b.clock.Advance(time.Minute)
	require.Equal(t, http.StatusNoContent, b.post(t, u1, `{"status": "running", "progress": 0.3}`))
	for _, dl := range dls {
		got, err := b.d.Delivery(b.ctx, dl.ID)
		require.NoError(t, err)
		require.Equal(t, epoch.Add(16*time.Minute), got.NextAttemptAt, "running extends every member's wait")
		require.Len(t, b.reports(t, dl.ID), 1)
	}

	// The wait runs out: every member's attempt fails, nothing is sent.
	b.clock.Advance(15 * time.Minute)
	for range 3 {
		o := b.nextOutcome(t)
		require.NotNil(t, o.WaitEnded)
		require.Equal(t, webhook.ClassAckTimeout, o.WaitEnded.Class)
		require.Empty(t, o.Attempts)
		require.Equal(t, webhook.StatePending, o.State)
	}
	rc.requireNoRequest(t)
	require.Equal(t, http.StatusUnauthorized, b.post(t, u1, `{"status": "succeeded"}`))

	// Retried as a unit, with a new callback URL.
	b.clock.Advance(time.Minute)
	second := rc.next(t)
	require.Equal(t, first.Header.Get("webhook-id"), second.Header.Get("webhook-id"))
	require.Equal(t, first.Body, second.Body)
	u2 := callbackURL(t, second)
	require.NotEqual(t, u1, u2)
	for range 3 {
		require.NotEmpty(t, b.nextOutcome(t).AwaitTokenHash)
	}
	require.Equal(t, http.StatusNoContent, b.post(t, u2, `{"status": "succeeded", "message": "3 rows"}`))
	for _, dl := range dls {
		got, err := b.d.Delivery(b.ctx, dl.ID)
		require.NoError(t, err)
		require.Equal(t, webhook.StateSucceeded, got.State)
		require.Equal(t, 2, got.Attempts)
		atts := b.attempts(t, dl.ID)
		require.Equal(t, webhook.ClassAckTimeout, atts[0].ErrorClass)
		require.Equal(t, 202, atts[1].StatusCode)
		reps := b.reports(t, dl.ID)
		require.Len(t, reps, 2)
		require.Equal(t, "3 rows", reps[1].Message)
		require.Equal(t, 2, reps[1].Attempt)
	}
}
