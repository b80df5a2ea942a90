package webhook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/memstore"
)

func TestDelivery(t *testing.T) {
	t.Parallel()

	t.Run("SendsSignedEnvelope", func(t *testing.T) {
		t.Parallel()
		b := setup(t, webhook.Config{})
		rc := newReceiver(t, nil)
		b.addEndpoint(t, "ep", rc.URL, func(e *webhook.Endpoint) {
			e.Headers = map[string]string{"Authorization": "Bearer abc"}
		})
		ev := webhook.Event{ID: "evt_1", Type: "invoice.paid", Time: time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC), Payload: json.RawMessage(`{"id":"in_1"}`)}
		require.NoError(t, b.d.Emit(b.ctx, ev))

		req := rc.next(t)
		require.JSONEq(t, `{"type":"invoice.paid","timestamp":"2026-05-06T07:08:09Z","data":{"id":"in_1"}}`, string(req.Body))
		require.Equal(t, "application/json", req.Header.Get("Content-Type"))
		require.Equal(t, "Bearer abc", req.Header.Get("Authorization"))
		require.Equal(t, "evt_1", req.Header.Get("webhook-id"))
		ts := req.Header.Get("webhook-timestamp")
		require.Equal(t, strconv.FormatInt(epoch.Unix(), 10), ts)
		key, _ := base64.StdEncoding.DecodeString(testSecret[len("whsec_"):])
		mac := hmac.New(sha256.New, key)
		fmt.Fprintf(mac, "evt_1.%s.%s", ts, req.Body)
		require.Equal(t, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)), req.Header.Get("webhook-signature"))

		o := b.nextOutcome(t)
		require.Equal(t, webhook.StateSucceeded, o.State)
		dl := b.delivery(t, "evt_1")
		require.Equal(t, webhook.StateSucceeded, dl.State)
		require.Equal(t, 1, dl.Attempts)
		require.Equal(t, http.StatusOK, dl.LastStatusCode)
		atts, err := b.d.Attempts(b.ctx, &webhook.ListAttemptsParams{DeliveryID: dl.ID})
		require.NoError(t, err)
		require.Len(t, atts.Items, 1)
		require.Equal(t, 1, atts.Items[0].Number)
		require.Equal(t, epoch, atts.Items[0].StartedAt)
	})

	t.Run("RetriesOn500OnSchedule", func(t *testing.T) {
		t.Parallel()
		b := setup(t, webhook.Config{Retry: webhook.RetryPolicy{Jitter: -1}})
		rc := newReceiver(t, statusSequence(500, 502))
		b.addEndpoint(t, "ep", rc.URL)
		ev := b.emit(t, "a")

		o := b.nextOutcome(t)
		require.Equal(t, webhook.StatePending, o.State)
		require.Equal(t, epoch.Add(5*time.Second), o.NextAttemptAt)
		require.Equal(t, 500, o.Attempts[0].StatusCode)

		b.clock.Advance(5 * time.Second)
		o = b.nextOutcome(t)
		require.Equal(t, webhook.StatePending, o.State)
		require.Equal(t, epoch.Add(5*time.Second+5*time.Minute), o.NextAttemptAt)

		b.clock.Advance(5 * time.Minute)
		o = b.nextOutcome(t)
		require.Equal(t, webhook.StateSucceeded, o.State)
		require.Len(t, rc.reqs, 3)
		for range 3 {
			require.Equal(t, ev.ID, rc.next(t).Header.Get("webhook-id"), "same webhook-id on every attempt")
		}
		dl := b.delivery(t, ev.ID)
		require.Equal(t, 3, dl.Attempts)
		atts, err := b.d.Attempts(b.ctx, &webhook.ListAttemptsParams{DeliveryID: dl.ID})
		require.NoError(t, err)
		require.Equal(t, []int{500, 502, 200}, []int{atts.Items[0].StatusCode, atts.Items[1].StatusCode, atts.Items[2].StatusCode})
	})

	t.Run("FailsWhenAttemptsRunOut", func(t *testing.T) {
		t.Parallel()
		b := setup(t, webhook.Config{Retry: webhook.RetryPolicy{Schedule: []time.Duration{time.Second}, Jitter: -1}})
		rc := newReceiver(t, statusSequence(503, 503))
		b.addEndpoint(t, "ep", rc.URL)
		ev := b.emit(t, "a")
		require.Equal(t, webhook.StatePending, b.nextOutcome(t).State)
		b.clock.Advance(time.Second)
		require.Equal(t, webhook.StateFailed, b.nextOutcome(t).State)
		dl := b.delivery(t, ev.ID)
		require.Equal(t, webhook.StateFailed, dl.State)
		require.Equal(t, 2, dl.Attempts)
		require.Equal(t, 503, dl.LastStatusCode)

		// A failed delivery can be replayed.
		require.NoError(t, b.d.Redeliver(b.ctx, dl.ID))
		require.Equal(t, webhook.StateSucceeded, b.nextOutcome(t).State)
		require.Equal(t, 3, b.delivery(t, ev.ID).Attempts)
	})

	t.Run("HonoursRetryAfter", func(t *testing.T) {
		t.Parallel()
		b := setup(t, webhook.Config{Retry: webhook.RetryPolicy{Jitter: -1, MaxRetryAfter: 10 * time.Minute}})
		var calls atomic.Int32
		rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) {
			switch calls.Add(1) {
			case 1:
				w.Header().Set("Retry-After", "120")
			case 2:
				w.Header().Set("Retry-After", "86400") // capped
			default:
				w.WriteHeader(http.StatusOK)
				return
			}
			w.WriteHeader(http.StatusTooManyRequests)
		})
		b.addEndpoint(t, "ep", rc.URL)
		b.emit(t, "a")
		o := b.nextOutcome(t)
		require.Equal(t, 429, o.Attempts[0].StatusCode)
		require.Equal(t, epoch.Add(120*time.Second), o.NextAttemptAt)
		b.clock.Advance(120 * time.Second)
		o = b.nextOutcome(t)
		require.Equal(t, epoch.Add(120*time.Second+10*time.Minute), o.NextAttemptAt)
		b.clock.Advance(10 * time.Minute)
		require.Equal(t, webhook.StateSucceeded, b.nextOutcome(t).State)
	})

	t.Run("GoneDisablesEndpoint", func(t *testing.T) {
		t.Parallel()
		disabled := make(chan webhook.Endpoint, 1)
		b := setup(t, webhook.Config{OnEndpointDisabled: func(_ context.Context, ep webhook.Endpoint) { disabled <- ep }})
		rc := newReceiver(t, statusSequence(http.StatusGone))
		b.addEndpoint(t, "ep", rc.URL)
		ev := b.emit(t, "a")
		require.Equal(t, webhook.StateFailed, b.nextOutcome(t).State)
		select {
		case ep := <-disabled:
			require.True(t, ep.Disabled)
			require.Equal(t, "410 Gone", ep.DisabledReason)
		case <-time.After(waitTimeout):
			t.Fatal("OnEndpointDisabled not called")
		}
		ep, err := b.d.Endpoint(b.ctx, "ep")
		require.NoError(t, err)
		require.True(t, ep.Disabled)
		require.Equal(t, 410, b.delivery(t, ev.ID).LastStatusCode)

		// New events no longer fan out to it.
		ev2 := b.emit(t, "a")
		page, err := b.d.Deliveries(b.ctx, &webhook.ListDeliveriesParams{EventID: ev2.ID})
		require.NoError(t, err)
		require.Empty(t, page.Items)
	})

	t.Run("ClientErrorRetriesUnlessStopped", func(t *testing.T) {
		t.Parallel()
		b := setup(t, webhook.Config{Retry: webhook.RetryPolicy{StopOnClientError: true}})
		o := b.deliverOnce(t, statusSequence(http.StatusBadRequest))
		require.Equal(t, webhook.StateFailed, o.State)
		require.Equal(t, 400, o.Attempts[0].StatusCode)

		b2 := setup(t, webhook.Config{})
		require.Equal(t, webhook.StatePending, b2.deliverOnce(t, statusSequence(http.StatusBadRequest)).State)
	})

	t.Run("HangingReceiverTimesOut", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		defer close(release)
		b := setup(t, webhook.Config{RequestTimeout: 100 * time.Millisecond})
		o := b.deliverOnce(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		require.Equal(t, webhook.StatePending, o.State)
		require.Equal(t, webhook.ClassTimeout, o.Attempts[0].ErrorClass)
		require.Zero(t, o.Attempts[0].StatusCode)
	})

	t.Run("ConnectionResetIsRetried", func(t *testing.T) {
		t.Parallel()
		b := setup(t, webhook.Config{})
		o := b.deliverOnce(t, func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.(*net.TCPConn).SetLinger(0)
				conn.Close()
			}
		})
		require.Equal(t, webhook.StatePending, o.State)
		require.Equal(t, webhook.ClassConnection, o.Attempts[0].ErrorClass)
		require.NotEmpty(t, o.Attempts[0].Error)
	})

	t.Run("HugeResponseBodyIsCapped", func(t *testing.T) {
		t.Parallel()
		b := setup(t, webhook.Config{MaxResponseBodyBytes: 1024})
		big := bytes.Repeat([]byte("z"), 10<<20)
		o := b.deliverOnce(t, func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write(big)
		})
		a := o.Attempts[0]
		require.Equal(t, 500, a.StatusCode)
		require.Len(t, a.ResponseBody, 1024)
		require.True(t, a.ResponseTruncated)
	})

	t.Run("DialGuardRefusesLoopback", func(t *testing.T) {
		t.Parallel()
		rc := newReceiver(t, nil)
		st := newSignalStore(t)
		d := newDispatcher(t, webhook.Config{Store: st})
		ctx := context.Background()
		require.NoError(t, d.Start(ctx))
		// A name, not the literal 127.0.0.1 that PutEndpoint would refuse:
		// the dial guard decides on the address it resolves to.
		u, err := url.Parse(rc.URL)
		require.NoError(t, err)
		u.Host = "localhost:" + u.Port()
		require.NoError(t, d.PutEndpoint(ctx, webhook.Endpoint{Secrets: []webhook.Secret{{Key: testSecret}}, ID: "ep", URL: u.String()}))
		require.NoError(t, d.Emit(ctx, webhook.Event{Type: "a", Payload: json.RawMessage(`{}`)}))
		o := st.nextOutcome(t)
		require.Equal(t, webhook.ClassBlocked, o.Attempts[0].ErrorClass)
		require.Empty(t, rc.reqs, "the receiver was never reached")
	})

	t.Run("DeletedEndpointFailsPending", func(t *testing.T) {
		t.Parallel()
		st := newSignalStore(t)
		d := newDispatcher(t, webhook.Config{Store: st})
		ctx := context.Background()
		require.NoError(t, d.PutEndpoint(ctx, webhook.Endpoint{Secrets: []webhook.Secret{{Key: testSecret}}, ID: "ep", URL: "https://hooks.example.com/"}))
		require.NoError(t, d.Emit(ctx, webhook.Event{Type: "a", Payload: json.RawMessage(`{}`)}))
		require.NoError(t, d.DeleteEndpoint(ctx, "ep"))
		require.NoError(t, d.Start(ctx))
		o := st.nextOutcome(t)
		require.Equal(t, webhook.StateFailed, o.State)
		require.Equal(t, webhook.ClassEndpointDisabled, o.Attempts[0].ErrorClass)
	})
}

// A slow endpoint fills only its own lane: deliveries to a healthy endpoint
// go on while every request to the slow one hangs, and the slow endpoint
// never has more requests in flight than its cap.
func TestSlowEndpointDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	b := setup(t, webhook.Config{Workers: 8, EndpointConcurrency: 2, RequestTimeout: time.Minute})
	var inFlight, most atomic.Int32
	slow := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // before the receiver closes, should the test fail
	fast := newReceiver(t, nil)
	b.addEndpoint(t, "slow", slow.URL, func(e *webhook.Endpoint) { e.EventTypes = []string{"slow"} })
	b.addEndpoint(t, "fast", fast.URL, func(e *webhook.Endpoint) { e.EventTypes = []string{"fast"} })
	const n = 50
	for range n {
		b.emit(t, "slow")
	}
	// Both slow lane slots are taken before the fast events arrive.
	slow.next(t)
	slow.next(t)
	for range n {
		b.emit(t, "fast")
	}
	// Every fast delivery is sent and recorded while the slow ones hang.
	for range n {
		fast.next(t)
	}
	for range n {
		require.Equal(t, webhook.StateSucceeded, b.nextOutcome(t).State)
	}
	require.Len(t, slow.reqs, 0, "no third request to the slow endpoint while its cap is in flight")
	free()
	// The slow ones finish too, and at no time did more than the cap run.
	for range n {
		require.Equal(t, webhook.StateSucceeded, b.nextOutcome(t).State)
	}
	require.LessOrEqual(t, most.Load(), int32(2), "the slow lane exceeded its cap")
	require.Len(t, slow.reqs, n-2, "each slow delivery sent once")
}

// Close waits for in-flight deliveries until its context ends, then
// cancels them and gives their leases back, recording no attempt.
func TestCloseReleasesInFlight(t *testing.T) {
	t.Parallel()
	ms := memstore.New()
	defer ms.Close()
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	d, err := webhook.New(webhook.Config{Store: ms, AllowPrivateNetworks: true})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, d.PutEndpoint(ctx, webhook.Endpoint{Secrets: []webhook.Secret{{Key: testSecret}}, ID: "ep", URL: rc.URL}))
	require.NoError(t, d.Start(ctx))
	require.NoError(t, d.Emit(ctx, webhook.Event{ID: "evt_1", Type: "a", Payload: json.RawMessage(`{}`)}))
	rc.next(t) // in flight

	closeCtx, cancel := context.WithCancel(ctx)
	cancel() // no patience: cancel in-flight work at once
	require.ErrorIs(t, d.Close(closeCtx), context.Canceled)

	page, err := ms.ListDeliveries(ctx, &webhook.ListDeliveriesParams{EventID: "evt_1"})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	dl := page.Items[0]
	require.Equal(t, webhook.StatePending, dl.State)
	require.Zero(t, dl.Attempts)
	// Released, not merely expiring: another owner can lease it right away.
	leases, err := ms.Lease(ctx, &webhook.LeaseParams{Owner: "other", Now: time.Now(), Until: time.Now().Add(time.Minute), Limit: 10})
	require.NoError(t, err)
	require.Len(t, leases, 1)
}

// Close with time to spare lets in-flight deliveries finish and records
// their outcome.
func TestCloseFinishesInFlight(t *testing.T) {
	t.Parallel()
	ms := memstore.New()
	defer ms.Close()
	release := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	d, err := webhook.New(webhook.Config{Store: ms, AllowPrivateNetworks: true})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, d.PutEndpoint(ctx, webhook.Endpoint{Secrets: []webhook.Secret{{Key: testSecret}}, ID: "ep", URL: rc.URL}))
	require.NoError(t, d.Start(ctx))
	require.NoError(t, d.Emit(ctx, webhook.Event{ID: "evt_1", Type: "a", Payload: json.RawMessage(`{}`)}))
	rc.next(t) // in flight

	closed := make(chan error, 1)
	go func() { closed <- d.Close(ctx) }()
	// Wait until Close has begun: Emit then fails. Events accepted before
	// that are delivered too. Close begins at once, so a bounded number of
	// emits sees it.
	const maxEmits = 1000
	for i := 0; ; i++ {
		require.Less(t, i, maxEmits, "Close never began")
		err := d.Emit(ctx, webhook.Event{Type: "a", Payload: json.RawMessage(`{}`)})
		if errors.Is(err, webhook.ErrClosed) {
			break
		}
		require.NoError(t, err)
	}
	close(release)
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(waitTimeout):
		t.Fatal("Close did not return")
	}
	first, err := ms.ListDeliveries(ctx, &webhook.ListDeliveriesParams{EventID: "evt_1"})
	require.NoError(t, err)
	require.Len(t, first.Items, 1)
	require.Equal(t, webhook.StateSucceeded, first.Items[0].State, "in flight at Close: finished")
	require.Equal(t, 1, first.Items[0].Attempts)
	pending := 0
	for p := (&webhook.ListDeliveriesParams{Limit: 100}); ; {
		dl, err := ms.ListDeliveries(ctx, p)
		require.NoError(t, err)
		for _, it := range dl.Items {
			if it.EventID == "evt_1" || it.State != webhook.StatePending {
				require.Equal(t, webhook.StateSucceeded, it.State, "in flight at Close: finished")
				require.Equal(t, 1, it.Attempts)
				continue
			}
			require.Zero(t, it.Attempts, "never leased before Close")
			pending++
		}
		if dl.Next == "" {
			break
		}
		p.Cursor = dl.Next
	}
	// Whatever stayed pending is not held by a lease.
	now := time.Now() // past every NextAttemptAt, before any lease deadline
	leases, err := ms.Lease(ctx, &webhook.LeaseParams{Owner: "other", Now: now, Until: now.Add(time.Minute), Limit: maxEmits + 1})
	require.NoError(t, err)
	require.Len(t, leases, pending)
}

// An endpoint whose attempts all fail for DisableAfter is disabled and the
// host is told; a success in between starts the count anew.
func TestFailingEndpointIsDisabled(t *testing.T) {
	t.Parallel()
	disabled := make(chan webhook.Endpoint, 1)
	step := 10 * time.Minute
	sched := make([]time.Duration, 20)
	for i := range sched {
		sched[i] = step
	}
	b := setup(t, webhook.Config{
		DisableAfter:       time.Hour,
		Retry:              webhook.RetryPolicy{Schedule: sched, Jitter: -1},
		OnEndpointDisabled: func(_ context.Context, ep webhook.Endpoint) { disabled <- ep },
	})
	// 500 three times, one success (another event), then 500 for ever.
	var calls atomic.Int32
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 4 {
			return // 200
		}
		w.WriteHeader(http.StatusInternalServerError)
	})
	b.addEndpoint(t, "ep", rc.URL)
	b.emit(t, "a")
	for range 3 { // failures at 0, 10m, 20m
		require.Equal(t, webhook.StatePending, b.nextOutcome(t).State)
		b.clock.Advance(step)
	}
	require.Equal(t, webhook.StateSucceeded, b.nextOutcome(t).State) // at 30m
	b.emit(t, "a")
	for i := range 7 { // failures from 30m on: the run reaches 1h at 90m
		o := b.nextOutcome(t)
		require.Equal(t, webhook.StatePending, o.State)
		if i < 6 {
			require.Empty(t, disabled, "disabled after only %d failing minutes", i*10)
			b.clock.Advance(step)
		}
	}
	select {
	case ep := <-disabled:
		require.True(t, ep.Disabled)
		require.Contains(t, ep.DisabledReason, "no successful delivery")
	case <-time.After(waitTimeout):
		t.Fatal("endpoint not disabled")
	}
}
