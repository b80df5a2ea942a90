package webhooktest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/memstore"
	"github.com/hooklet/webhook/webhooktest"
)

// newDispatcher returns a started Dispatcher on a memstore, with the
// given clock (nil: the system clock), closed when the test ends.
func newDispatcher(t *testing.T, clk webhook.Clock) *webhook.Dispatcher {
	t.Helper()
	st := memstore.New()
	d, err := webhook.New(webhook.Config{Store: st, AllowPrivateNetworks: true, Test: webhook.TestConfig{Clock: clk}})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		require.NoError(t, d.Close(ctx))
		require.NoError(t, st.Close())
	})
	require.NoError(t, d.Start(context.Background()))
	return d
}

// emitTo registers one endpoint for url with secret and emits one event
// with ID eventID.
func emitTo(t *testing.T, d *webhook.Dispatcher, url, secret, eventID string) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, d.PutEndpoint(ctx, webhook.Endpoint{ID: "ep_" + eventID, URL: url, Secrets: []webhook.Secret{{Key: secret}}}))
	require.NoError(t, d.Emit(ctx, webhook.Event{ID: eventID, Type: "invoice.paid", Payload: json.RawMessage(`{"id":"in_1"}`)}))
}

func TestWaitForEvent(t *testing.T) {
	t.Parallel()

	t.Run("Succeeded", func(t *testing.T) {
		t.Parallel()
		d := newDispatcher(t, nil)
		sec := webhook.NewSecret()
		rc := webhooktest.NewReceiver(t, sec.Key)
		emitTo(t, d, rc.URL, sec.Key, "evt_1")

		dels := webhooktest.WaitForEvent(t, d, "evt_1", waitTimeout)
		require.Len(t, dels, 1)
		require.Equal(t, webhook.StateSucceeded, dels[0].State)

		del := webhooktest.WaitForDelivery(t, d, dels[0].ID, waitTimeout)
		require.Equal(t, webhook.StateSucceeded, del.State)
		require.Equal(t, 1, del.Attempts)

		got := rc.WaitForRequests(t, 1, waitTimeout)
		require.True(t, got[0].Verified(), "%v", got[0].VerifyErr)
		require.Equal(t, "evt_1", got[0].ID())
	})

	t.Run("PendingTimesOut", func(t *testing.T) {
		t.Parallel()
		clk := webhooktest.NewClock(t0)
		d := newDispatcher(t, clk)
		sec := webhook.NewSecret()
		rc := webhooktest.NewReceiver(t, sec.Key)
		rc.SetNowFunc(clk.Now)
		rc.SetStatusFunc(func(webhooktest.Request) int { return http.StatusServiceUnavailable })
		emitTo(t, d, rc.URL, sec.Key, "evt_2")
		got := rc.WaitForRequests(t, 1, waitTimeout)
		require.True(t, got[0].Verified(), "%v", got[0].VerifyErr)

		// The retry waits for a clock nobody advances.
		ft := &fakeTB{TB: t}
		require.Nil(t, webhooktest.WaitForEvent(ft, d, "evt_2", 50*time.Millisecond))
		require.Contains(t, ft.failure(), "1 deliveries, 1 pending")

		page, err := d.Deliveries(context.Background(), &webhook.ListDeliveriesParams{EventID: "evt_2"})
		require.NoError(t, err)
		require.Len(t, page.Items, 1)
		ft = &fakeTB{TB: t}
		require.Zero(t, webhooktest.WaitForDelivery(ft, d, page.Items[0].ID, 50*time.Millisecond))
		require.Contains(t, ft.failure(), "not finished within")
		require.Contains(t, ft.failure(), "pending")
	})

	t.Run("UnknownEventTimesOut", func(t *testing.T) {
		t.Parallel()
		d := newDispatcher(t, nil)
		ft := &fakeTB{TB: t}
		require.Nil(t, webhooktest.WaitForEvent(ft, d, "evt_none", 20*time.Millisecond))
		require.Contains(t, ft.failure(), "0 deliveries")
		ft = &fakeTB{TB: t}
		webhooktest.WaitForDelivery(ft, d, "del_none", 20*time.Millisecond)
		require.Contains(t, ft.failure(), "not found")
	})
}
