package webhook_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
)

// emitN emits n events of type typ (and tenant, when set) and returns
// their IDs.
func (b *testBundle) emitN(t *testing.T, n int, typ, tenant string) []string {
	t.Helper()
	evs := make([]webhook.Event, n)
	for i := range evs {
		evs[i] = webhook.Event{Type: typ, Tenant: tenant, Payload: json.RawMessage(`{"n":1}`)}
	}
	require.NoError(t, b.d.EmitBatch(b.ctx, evs))
	ids := make([]string, n)
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	return ids
}

// endpointDeliveries lists every delivery of endpoint id.
func (b *testBundle) endpointDeliveries(t *testing.T, id string) []webhook.Delivery {
	t.Helper()
	var all []webhook.Delivery
	p := &webhook.ListDeliveriesParams{EndpointID: id}
	for {
		page, err := b.d.Deliveries(b.ctx, p)
		require.NoError(t, err)
		all = append(all, page.Items...)
		if page.Next == "" {
			return all
		}
		p.Cursor = page.Next
	}
}

func TestBackfill(t *testing.T) {
	t.Parallel()

	t.Run("EndpointCreatedAfterTheEvents", func(t *testing.T) {
		t.Parallel()
		b := setup(t, webhook.Config{})
		evIDs := b.emitN(t, 5, "invoice.paid", "")
		rc := newReceiver(t, nil)
		b.addEndpoint(t, "ep", rc.URL)
		require.Empty(t, b.endpointDeliveries(t, "ep"))

		n, err := b.d.Backfill(b.ctx, "ep", time.Time{})
		require.NoError(t, err)
		require.Equal(t, 5, n)
		got := map[string]bool{}
		for range 5 {
			got[rc.next(t).Header.Get("webhook-id")] = true
			require.Equal(t, webhook.StateSucceeded, b.nextOutcome(t).State)
		}
		for _, id := range evIDs {
			require.True(t, got[id], "event %s delivered", id)
		}

		n, err = b.d.Backfill(b.ctx, "ep", time.Time{})
		require.NoError(t, err)
		require.Zero(t, n, "a second backfill creates nothing")
		require.Len(t, b.endpointDeliveries(t, "ep"), 5)
	})

	t.Run("DisabledThenEnabled", func(t *testing.T) {
		t.Parallel()
		b := setup(t, webhook.Config{})
		rc := newReceiver(t, nil)
		ep := b.addEndpoint(t, "ep", rc.URL, func(ep *webhook.Endpoint) {
			ep.EventTypes = []string{"invoice.*"}
			ep.Tenant = "acme"
		})
		ep.Disabled = true
		require.NoError(t, b.d.PutEndpoint(b.ctx, ep))

		b.emitN(t, 2, "invoice.paid", "acme") // before since
		b.clock.Advance(time.Hour)
		since := b.clock.Now()
		want := b.emitN(t, 3, "invoice.paid", "acme")
		b.emitN(t, 2, "customer.created", "acme") // another type
		b.emitN(t, 2, "invoice.paid", "globex")   // another tenant
		want = append(want, b.emitN(t, 1, "invoice.created", "")...)
		require.Empty(t, b.endpointDeliveries(t, "ep"))

		n, err := b.d.Backfill(b.ctx, "ep", since)
		require.NoError(t, err)
		require.Zero(t, n, "a disabled endpoint matches nothing")

		ep.Disabled = false
		require.NoError(t, b.d.PutEndpoint(b.ctx, ep))
		n, err = b.d.Backfill(b.ctx, "ep", since)
		require.NoError(t, err)
		require.Equal(t, len(want), n)
		var got []string
		for _, dl := range b.endpointDeliveries(t, "ep") {
			got = append(got, dl.EventID)
		}
		require.ElementsMatch(t, want, got)
		for range want {
			require.Equal(t, webhook.StateSucceeded, b.nextOutcome(t).State)
		}

		// From the start: the two earlier events now, and nothing twice.
		n, err = b.d.Backfill(b.ctx, "ep", time.Time{})
		require.NoError(t, err)
		require.Equal(t, 2, n)
	})

	t.Run("Filter", func(t *testing.T) {
		t.Parallel()
		b := setup(t, webhook.Config{})
		var want []string
		for _, amount := range []int{50, 150, 99, 200} {
			evs := []webhook.Event{{Type: "invoice.paid", Payload: json.RawMessage(fmt.Sprintf(`{"amount":%d}`, amount))}}
			require.NoError(t, b.d.EmitBatch(b.ctx, evs))
			if amount >= 100 {
				want = append(want, evs[0].ID)
			}
		}
		rc := newReceiver(t, nil)
		b.addEndpoint(t, "ep", rc.URL, func(ep *webhook.Endpoint) {
			ep.Filter = json.RawMessage(`{"data.amount": {"$gte": 100}}`)
		})
		n, err := b.d.Backfill(b.ctx, "ep", time.Time{})
		require.NoError(t, err)
		require.Equal(t, 2, n)
		var got []string
		for _, dl := range b.endpointDeliveries(t, "ep") {
			got = append(got, dl.EventID)
		}
		require.ElementsMatch(t, want, got)
	})

	t.Run("MissingEndpoint", func(t *testing.T) {
		t.Parallel()
		b := setup(t, webhook.Config{})
		_, err := b.d.Backfill(b.ctx, "ep_missing", time.Time{})
		require.ErrorIs(t, err, webhook.ErrNotFound)
		_, err = b.d.Backfill(b.ctx, "", time.Time{})
		require.ErrorIs(t, err, webhook.ErrInvalidParams)
	})

	t.Run("ManyBatches", func(t *testing.T) {
		t.Parallel()
		b := setup(t, webhook.Config{})
		const n = 1234
		b.emitN(t, n, "a", "")
		rc := newReceiver(t, nil)
		b.addEndpoint(t, "ep", rc.URL, func(ep *webhook.Endpoint) { ep.Disabled = true })
		ep, err := b.d.Endpoint(b.ctx, "ep")
		require.NoError(t, err)
		ep.Disabled = false
		require.NoError(t, b.d.PutEndpoint(b.ctx, ep))
		got, err := b.d.Backfill(b.ctx, "ep", time.Time{})
		require.NoError(t, err)
		require.Equal(t, n, got)
		require.Len(t, b.endpointDeliveries(t, "ep"), n)
	})
}

func TestRedeliverFailed(t *testing.T) {
	t.Parallel()

	// failAll sets up an endpoint whose policy allows two attempts and
	// whose receiver fails every one, emits n events and runs their
	// deliveries out to failed.
	failAll := func(t *testing.T, n int) (*testBundle, *receiver) {
		t.Helper()
		b := setup(t, webhook.Config{Retry: webhook.RetryPolicy{Schedule: []time.Duration{time.Minute}, Jitter: -1}})
		rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
		b.addEndpoint(t, "ep", rc.URL)
		b.emitN(t, n, "a", "")
		for range n {
			require.Equal(t, webhook.StatePending, b.nextOutcome(t).State)
		}
		b.clock.Advance(time.Minute)
		for range n {
			require.Equal(t, webhook.StateFailed, b.nextOutcome(t).State)
		}
		return b, rc
	}

	t.Run("OneAttemptOnceTheScheduleIsUsedUp", func(t *testing.T) {
		t.Parallel()
		b, _ := failAll(t, 3)
		n, err := b.d.RedeliverFailed(b.ctx, "ep", time.Time{}, nil)
		require.NoError(t, err)
		require.Equal(t, 3, n)
		for range 3 {
			o := b.nextOutcome(t)
			require.Equal(t, webhook.StateFailed, o.State, "no retry left")
			require.Equal(t, 3, o.Attempts[0].Number)
		}
		for _, dl := range b.endpointDeliveries(t, "ep") {
			require.Equal(t, webhook.StateFailed, dl.State)
			require.Equal(t, 3, dl.Attempts)
		}
	})

	t.Run("FreshSchedule", func(t *testing.T) {
		t.Parallel()
		b, _ := failAll(t, 2)
		n, err := b.d.RedeliverFailed(b.ctx, "ep", time.Time{}, &webhook.RedeliverOptions{FreshSchedule: true})
		require.NoError(t, err)
		require.Equal(t, 2, n)
		now := b.clock.Now()
		for range 2 {
			o := b.nextOutcome(t)
			require.Equal(t, webhook.StatePending, o.State, "the schedule restarted")
			require.Equal(t, 3, o.Attempts[0].Number, "attempt numbers go on")
			require.Equal(t, now.Add(time.Minute), o.NextAttemptAt)
		}
		b.clock.Advance(time.Minute)
		for range 2 {
			o := b.nextOutcome(t)
			require.Equal(t, webhook.StateFailed, o.State)
			require.Equal(t, 4, o.Attempts[0].Number)
		}
		for _, dl := range b.endpointDeliveries(t, "ep") {
			require.Equal(t, 4, dl.Attempts)
			require.Equal(t, 2, dl.ScheduleStart)
		}
	})

	t.Run("Since", func(t *testing.T) {
		t.Parallel()
		b, _ := failAll(t, 2)
		b.clock.Advance(time.Hour)
		n, err := b.d.RedeliverFailed(b.ctx, "ep", b.clock.Now(), nil)
		require.NoError(t, err)
		require.Zero(t, n, "both failed before since")
		n, err = b.d.RedeliverFailed(b.ctx, "ep", b.clock.Now().Add(-time.Hour), nil)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		for range 2 {
			require.Equal(t, webhook.StateFailed, b.nextOutcome(t).State)
		}
	})

	t.Run("SecondRunFindsNothing", func(t *testing.T) {
		t.Parallel()
		b, _ := failAll(t, 2)
		// A redelivery that succeeds leaves nothing failed behind.
		ep, err := b.d.Endpoint(b.ctx, "ep")
		require.NoError(t, err)
		ok := newReceiver(t, nil)
		ep.URL = ok.URL
		require.NoError(t, b.d.PutEndpoint(b.ctx, ep))
		n, err := b.d.RedeliverFailed(b.ctx, "ep", time.Time{}, nil)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		for range 2 {
			require.Equal(t, webhook.StateSucceeded, b.nextOutcome(t).State)
		}
		n, err = b.d.RedeliverFailed(b.ctx, "ep", time.Time{}, nil)
		require.NoError(t, err)
		require.Zero(t, n)
	})

	t.Run("MissingEndpoint", func(t *testing.T) {
		t.Parallel()
		b := setup(t, webhook.Config{})
		_, err := b.d.RedeliverFailed(b.ctx, "ep_missing", time.Time{}, nil)
		require.ErrorIs(t, err, webhook.ErrNotFound)
		_, err = b.d.RedeliverFailed(b.ctx, "", time.Time{}, nil)
		require.ErrorIs(t, err, webhook.ErrInvalidParams)
		require.NoError(t, b.d.Close(b.ctx))
		_, err = b.d.RedeliverFailed(b.ctx, "ep", time.Time{}, nil)
		require.ErrorIs(t, err, webhook.ErrClosed)
		_, err = b.d.Backfill(b.ctx, "ep", time.Time{})
		require.ErrorIs(t, err, webhook.ErrClosed)
	})
}

func TestDeliveriesFilters(t *testing.T) {
	t.Parallel()
	b := setup(t, webhook.Config{})
	rc := newReceiver(t, nil)
	b.addEndpoint(t, "ep", rc.URL)
	b.emitN(t, 2, "invoice.paid", "")
	want := b.emitN(t, 3, "customer.created", "")
	for range 5 {
		require.Equal(t, webhook.StateSucceeded, b.nextOutcome(t).State)
	}
	page, err := b.d.Deliveries(b.ctx, &webhook.ListDeliveriesParams{EventType: "customer.created", State: webhook.StateSucceeded})
	require.NoError(t, err)
	var got []string
	for _, dl := range page.Items {
		got = append(got, dl.EventID)
	}
	require.ElementsMatch(t, want, got)
	_, err = b.d.Deliveries(b.ctx, &webhook.ListDeliveriesParams{State: "broken"})
	require.ErrorIs(t, err, webhook.ErrInvalidParams)
}
