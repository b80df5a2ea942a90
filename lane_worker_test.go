package webhook_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
)

// A proven lane whose attempt ends with its next delivery queued runs that
// delivery on the goroutine it has, instead of starting one per attempt.
func TestProvenLaneKeepsItsWorker(t *testing.T) {
	t.Parallel()
	const deliveries = 100
	b := setup(t, webhook.Config{Workers: 1, EndpointConcurrency: 1})
	rcv := newReceiver(t, nil)
	b.addEndpoint(t, "ep", rcv.URL)
	b.emit(t, "invoice.paid")
	rcv.next(t)
	require.Equal(t, webhook.StateSucceeded, b.nextOutcome(t).State)

	before := webhook.AttemptGoroutines(b.d)
	evs := make([]webhook.Event, deliveries)
	for i := range evs {
		evs[i] = webhook.Event{Type: "invoice.paid", Payload: []byte(`{"n":1}`)}
	}
	require.NoError(t, b.d.EmitBatch(b.ctx, evs))
	for range deliveries {
		rcv.next(t)
		require.Equal(t, webhook.StateSucceeded, b.nextOutcome(t).State)
	}
	started := webhook.AttemptGoroutines(b.d) - before
	t.Logf("%d goroutines started for %d attempts", started, deliveries)
	require.Less(t, started, deliveries*3/4)
}
