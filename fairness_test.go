package webhook_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
)

// The lanes of many hanging endpoints cost a healthy endpoint's deliveries
// nothing: while the slow lanes hold their share of the workers and wait
// with deliveries queued, an attempt that ends in the healthy lane starts
// that lane's next delivery without the engine looking at every other
// lane, so the work of an attempt's end does not grow with the number of
// hanging endpoints.
func TestHealthyLaneCostIndependentOfHangingLanes(t *testing.T) {
	t.Parallel()
	const (
		workers    = 8
		hanging    = 40
		perLane    = 3
		deliveries = 200
	)
	b, healthy, release, free := setupHealthyBesideHanging(t, workers)

	hang := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(free)
	for i := range hanging {
		b.addEndpoint(t, "hang"+string(rune('A'+i)), hang.URL, func(e *webhook.Endpoint) { e.EventTypes = []string{"hang"} })
	}
	for range perLane {
		b.emit(t, "hang")
	}
	for range workers * 3 / 4 {
		hang.next(t)
	}
	// The hanging lanes turn slow; healthy deliveries still go through.
	b.clock.Advance(15 * time.Second)
	for range 3 {
		b.emit(t, "healthy")
		healthy.next(t)
		require.Equal(t, webhook.StateSucceeded, b.nextOutcome(t).State)
	}

	before := webhook.LaneLooksOnEnd(b.d)
	evs := make([]webhook.Event, deliveries)
	for i := range evs {
		evs[i] = webhook.Event{Type: "healthy", Payload: []byte(`{"n":1}`)}
	}
	require.NoError(t, b.d.EmitBatch(b.ctx, evs))
	for range deliveries {
		healthy.next(t)
		require.Equal(t, webhook.StateSucceeded, b.nextOutcome(t).State)
	}
	looks := webhook.LaneLooksOnEnd(b.d) - before
	t.Logf("%d looks at lanes as %d healthy attempts ended beside %d hanging lanes", looks, deliveries, hanging)
	require.Empty(t, hang.reqs, "hanging lanes took more than their share")
	// A look at every waiting lane would be more than hanging looks each.
	require.LessOrEqual(t, looks, 2*deliveries)
	free()
}
