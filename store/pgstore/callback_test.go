package pgstore_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/webhooktest"
)

// TestCallbackAcrossReplicas: replica 1 sends the request, the receiver's
// report reaches replica 2, and its effect (a failed report, so a retry
// on schedule) is carried out by whichever replica leases the delivery.
func TestCallbackAcrossReplicas(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r2 := b.replica(t)
	ctx := context.Background()
	const base = "https://api.example.test/hooklet/callback"

	var calls atomic.Int32
	urls := make(chan string, 4)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		urls <- r.Header.Get("webhook-callback-url")
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rc.Close)

	newDispatcher := func(st webhook.Store, owner string) *webhook.Dispatcher {
		d, err := webhook.New(webhook.Config{Store: st, CallbackURL: base, AllowPrivateNetworks: true, Owner: owner})
		require.NoError(t, err)
		t.Cleanup(func() {
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			require.NoError(t, d.Close(cctx))
		})
		require.NoError(t, d.Start(ctx))
		return d
	}
	d1 := newDispatcher(b.store, "replica-1")
	require.NoError(t, d1.PutEndpoint(ctx, webhook.Endpoint{ID: "ep", URL: rc.URL, Unsigned: true, AckTimeout: time.Hour,
		Retry: &webhook.RetryPolicy{Schedule: []time.Duration{10 * time.Millisecond}, Jitter: -1}}))
	d2 := newDispatcher(r2, "replica-2")

	evs := []webhook.Event{{Type: "a", Payload: []byte(`{}`)}}
	require.NoError(t, d1.EmitBatch(ctx, evs))
	var u string
	select {
	case u = <-urls:
	case <-time.After(30 * time.Second):
		t.Fatal("no request in time")
	}
	require.True(t, strings.HasPrefix(u, base+"/"), u)
	page, err := d1.Deliveries(ctx, &webhook.ListDeliveriesParams{EventID: evs[0].ID})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	id := page.Items[0].ID
	require.Eventually(t, func() bool {
		d, err := d2.Delivery(ctx, id)
		return err == nil && d.AwaitingReport
	}, 30*time.Second, 10*time.Millisecond, "the 202 is recorded as a wait")

	post := func(body string) int {
		rec := httptest.NewRecorder()
		d2.CallbackHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, u, strings.NewReader(body)))
		return rec.Code
	}
	require.Equal(t, http.StatusNoContent, post(`{"status": "failed", "message": "try again"}`))
	dl := webhooktest.WaitForDelivery(t, d1, id, 30*time.Second)
	require.Equal(t, webhook.StateSucceeded, dl.State)
	require.Equal(t, 2, dl.Attempts)
	atts, err := d1.Attempts(ctx, &webhook.ListAttemptsParams{DeliveryID: id})
	require.NoError(t, err)
	require.Equal(t, webhook.ClassAckFailed, atts.Items[0].ErrorClass)
	require.Equal(t, "try again", atts.Items[0].Error)
	reps, err := d1.Reports(ctx, &webhook.ListReportsParams{DeliveryID: id})
	require.NoError(t, err)
	require.Len(t, reps.Items, 1)
	require.Equal(t, webhook.ReportFailed, reps.Items[0].Status)
	require.Equal(t, http.StatusUnauthorized, post(`{"status": "succeeded"}`), "the token died with its wait")
}
