package webhook_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/memstore"
	"github.com/hooklet/webhook/webhooktest"
)

// callbackBase is the Config.CallbackURL of these tests; the handler is
// called directly, so nothing listens there.
const callbackBase = "https://api.example.test/hooklet/callback"

// reportingStore is a signalStore that keeps reports.
type reportingStore struct {
	*signalStore
	webhook.Reporter
}

// ackBundle is a started Dispatcher whose receivers may report back.
type ackBundle struct {
	*testBundle
	handler http.Handler
}

// setupAck returns a started Dispatcher on a memstore with a manual clock
// and Config.CallbackURL set.
func setupAck(t *testing.T, cfg webhook.Config) *ackBundle {
	t.Helper()
	st := newSignalStore(t)
	clk := webhooktest.NewClock(epoch)
	cfg.Store = &reportingStore{signalStore: st, Reporter: st.Store.(webhook.Reporter)}
	cfg.Test.Clock = clk
	return startAck(t, cfg, st, clk)
}

// startAck starts a Dispatcher with cfg, whose Store wraps st and whose
// Test.Clock is clk or wraps it, with Config.CallbackURL set and private
// networks allowed, and returns its bundle.
func startAck(t *testing.T, cfg webhook.Config, st *signalStore, clk *webhooktest.Clock) *ackBundle {
	t.Helper()
	cfg.AllowPrivateNetworks = true
	cfg.CallbackURL = callbackBase
	d := newDispatcher(t, cfg)
	ctx := context.Background()
	require.NoError(t, d.Start(ctx))
	return &ackBundle{testBundle: &testBundle{d: d, store: st, clock: clk, ctx: ctx}, handler: d.CallbackHandler()}
}

// withAck sets an endpoint's AckTimeout.
func withAck(d time.Duration) func(*webhook.Endpoint) {
	return func(ep *webhook.Endpoint) { ep.AckTimeout = d }
}

// accepted answers 202 Accepted.
func accepted(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) }

// post posts body to the callback URL u through the handler and returns
// the status of the answer.
func (b *ackBundle) post(t *testing.T, u, body string) int {
	t.Helper()
	require.True(t, strings.HasPrefix(u, callbackBase+"/"), "callback URL %q is not under Config.CallbackURL", u)
	rec := httptest.NewRecorder()
	b.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, u, strings.NewReader(body)))
	return rec.Code
}

// callbackURL returns the callback URL a request carried.
func callbackURL(t *testing.T, q request) string {
	t.Helper()
	u := q.Header.Get("webhook-callback-url")
	require.NotEmpty(t, u, "the request carries no webhook-callback-url")
	return u
}

// reports lists every report of a delivery.
func (b *ackBundle) reports(t *testing.T, id string) []webhook.Report {
	t.Helper()
	pg, err := b.d.Reports(b.ctx, &webhook.ListReportsParams{DeliveryID: id})
	require.NoError(t, err)
	require.Empty(t, pg.Next)
	return pg.Items
}

func (b *ackBundle) attempts(t *testing.T, id string) []webhook.Attempt {
	t.Helper()
	pg, err := b.d.Attempts(b.ctx, &webhook.ListAttemptsParams{DeliveryID: id})
	require.NoError(t, err)
	return pg.Items
}

// awaiting emits one event to a new endpoint whose receiver answers 202,
// and returns its delivery, awaiting a report, and the request's
// callback URL.
func (b *ackBundle) awaiting(t *testing.T, ack time.Duration) (webhook.Delivery, string, *receiver) {
	t.Helper()
	rc := newReceiver(t, accepted)
	b.addEndpoint(t, "ep", rc.URL, withAck(ack))
	ev := b.emit(t, "a")
	o := b.nextOutcome(t)
	require.Equal(t, webhook.StatePending, o.State)
	require.NotEmpty(t, o.AwaitTokenHash)
	dl := b.delivery(t, ev.ID)
	require.True(t, dl.AwaitingReport)
	return dl, callbackURL(t, rc.next(t)), rc
}

func TestCallback(t *testing.T) {
	t.Parallel()

	t.Run("RunningThenSucceeded", func(t *testing.T) {
		t.Parallel()
		b := setupAck(t, webhook.Config{})
		dl, u, _ := b.awaiting(t, 15*time.Minute)
		require.Equal(t, 1, dl.Attempts)
		require.Equal(t, 202, dl.LastStatusCode)
		require.Equal(t, epoch.Add(15*time.Minute), dl.NextAttemptAt)

		b.clock.Advance(10 * time.Minute)
		require.Equal(t, http.StatusNoContent, b.post(t, u, `{"status": "running", "message": "half way", "progress": 0.5}`))
		got, err := b.d.Delivery(b.ctx, dl.ID)
		require.NoError(t, err)
		require.Equal(t, webhook.StatePending, got.State)
		require.True(t, got.AwaitingReport)
		require.Equal(t, epoch.Add(25*time.Minute), got.NextAttemptAt, "running resets the wait")

		b.clock.Advance(10 * time.Minute) // past the first deadline, within the second
		require.Equal(t, http.StatusNoContent, b.post(t, u, `{"status": "succeeded", "message": "done", "progress": 1}`))
		got, err = b.d.Delivery(b.ctx, dl.ID)
		require.NoError(t, err)
		require.Equal(t, webhook.StateSucceeded, got.State)
		require.False(t, got.AwaitingReport)
		require.Equal(t, 1, got.Attempts)

		reps := b.reports(t, dl.ID)
		require.Len(t, reps, 2)
		require.Equal(t, webhook.ReportRunning, reps[0].Status)
		require.Equal(t, "half way", reps[0].Message)
		require.InDelta(t, 0.5, reps[0].Progress, 1e-9)
		require.Equal(t, epoch.Add(10*time.Minute), reps[0].ReceivedAt.UTC())
		require.Equal(t, webhook.ReportSucceeded, reps[1].Status)
		require.Equal(t, 1, reps[1].Attempt)

		// Replayed after success: refused, nothing changes.
		require.Equal(t, http.StatusUnauthorized, b.post(t, u, `{"status": "failed"}`))
		after, err := b.d.Delivery(b.ctx, dl.ID)
		require.NoError(t, err)
		require.Equal(t, got, after)
		require.Len(t, b.reports(t, dl.ID), 2)
	})

	t.Run("FailedRetriesOnSchedule", func(t *testing.T) {
		t.Parallel()
		b := setupAck(t, webhook.Config{Retry: webhook.RetryPolicy{Jitter: -1}})
		var second atomic.Int32
		second.Store(http.StatusAccepted)
		rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(int(second.Load())) })
		b.addEndpoint(t, "ep", rc.URL, withAck(time.Hour))
		ev := b.emit(t, "a")
		require.NotEmpty(t, b.nextOutcome(t).AwaitTokenHash)
		u1 := callbackURL(t, rc.next(t))
		dl := b.delivery(t, ev.ID)

		require.Equal(t, http.StatusNoContent, b.post(t, u1, `{"status": "failed", "message": "rows rejected"}`))
		got, err := b.d.Delivery(b.ctx, dl.ID)
		require.NoError(t, err)
		require.Equal(t, webhook.StatePending, got.State)
		require.False(t, got.AwaitingReport)
		require.Equal(t, 1, got.Attempts)
		require.Equal(t, "rows rejected", got.LastError)
		require.Equal(t, epoch.Add(5*time.Second), got.NextAttemptAt, "the first retry of the default schedule")
		atts := b.attempts(t, dl.ID)
		require.Len(t, atts, 1)
		require.Equal(t, 202, atts[0].StatusCode)
		require.Equal(t, webhook.ClassAckFailed, atts[0].ErrorClass)

		second.Store(http.StatusOK)
		b.clock.Advance(5 * time.Second)
		o := b.nextOutcome(t)
		require.Equal(t, webhook.StateSucceeded, o.State)
		u2 := callbackURL(t, rc.next(t))
		require.NotEqual(t, u1, u2, "every attempt has a token of its own")
		require.Equal(t, http.StatusUnauthorized, b.post(t, u1, `{"status": "succeeded"}`))
		require.Equal(t, http.StatusUnauthorized, b.post(t, u2, `{"status": "succeeded"}`), "200 ends the delivery: nothing awaits")
		got, err = b.d.Delivery(b.ctx, dl.ID)
		require.NoError(t, err)
		require.Equal(t, webhook.StateSucceeded, got.State)
		require.Equal(t, 2, got.Attempts)
		require.Len(t, b.reports(t, dl.ID), 1)
	})

	t.Run("TimeoutIsAnAckTimeoutAttempt", func(t *testing.T) {
		t.Parallel()
		b := setupAck(t, webhook.Config{Retry: webhook.RetryPolicy{Jitter: -1}})
		dl, u, rc := b.awaiting(t, 15*time.Minute)

		b.clock.Advance(15 * time.Minute)
		o := b.nextOutcome(t)
		require.Empty(t, o.Attempts, "the timeout sends nothing and adds no attempt")
		require.NotNil(t, o.WaitEnded)
		require.Equal(t, webhook.ClassAckTimeout, o.WaitEnded.Class)
		require.Equal(t, webhook.StatePending, o.State)
		got, err := b.d.Delivery(b.ctx, dl.ID)
		require.NoError(t, err)
		require.False(t, got.AwaitingReport)
		require.Equal(t, 1, got.Attempts)
		require.Equal(t, epoch.Add(15*time.Minute+5*time.Second), got.NextAttemptAt)
		atts := b.attempts(t, dl.ID)
		require.Len(t, atts, 1)
		require.Equal(t, 202, atts[0].StatusCode)
		require.Equal(t, webhook.ClassAckTimeout, atts[0].ErrorClass)
		require.Equal(t, "no report within 15m0s", atts[0].Error)
		require.Empty(t, rc.reqs, "nothing is sent when the wait ends")

		// Late: refused, nothing changes.
		require.Equal(t, http.StatusUnauthorized, b.post(t, u, `{"status": "succeeded"}`))
		after, err := b.d.Delivery(b.ctx, dl.ID)
		require.NoError(t, err)
		require.Equal(t, got, after)
		require.Empty(t, b.reports(t, dl.ID))

		// The retry is the second attempt, with a new callback URL.
		b.clock.Advance(5 * time.Second)
		require.NotEmpty(t, b.nextOutcome(t).AwaitTokenHash)
		u2 := callbackURL(t, rc.next(t))
		require.NotEqual(t, u, u2)
		require.Equal(t, http.StatusNoContent, b.post(t, u2, `{"status": "succeeded"}`))
		got, err = b.d.Delivery(b.ctx, dl.ID)
		require.NoError(t, err)
		require.Equal(t, webhook.StateSucceeded, got.State)
		require.Equal(t, 2, got.Attempts)
		require.Equal(t, 2, b.reports(t, dl.ID)[0].Attempt)
	})

	t.Run("BadReportsChangeNothing", func(t *testing.T) {
		t.Parallel()
		b := setupAck(t, webhook.Config{})
		rc := newReceiver(t, accepted)
		b.addEndpoint(t, "ep", rc.URL, withAck(time.Hour))
		ev1, ev2 := b.emit(t, "a"), b.emit(t, "b")
		b.nextOutcome(t)
		b.nextOutcome(t)
		urls := map[string]string{}
		for range 2 {
			q := rc.next(t)
			var env struct {
				Type string `json:"type"`
			}
			require.NoError(t, json.Unmarshal(q.Body, &env))
			urls[env.Type] = callbackURL(t, q)
		}
		dl1, dl2 := b.delivery(t, ev1.ID), b.delivery(t, ev2.ID)
		u1, u2 := urls["a"], urls["b"]
		token2 := u2[strings.LastIndexByte(u2, '.')+1:]
		var forged [32]byte
		_, _ = rand.Read(forged[:])

		tooBig := `{"status": "running", "message": "` + strings.Repeat("x", webhook.ReportMaxBytes) + `"}`
		for _, c := range []struct {
			name, url, body string
			want            int
		}{
			{"Forged", callbackBase + "/" + url.PathEscape(dl1.ID) + "." + base64.RawURLEncoding.EncodeToString(forged[:]), `{"status": "succeeded"}`, 401},
			{"OtherDeliverysToken", callbackBase + "/" + url.PathEscape(dl1.ID) + "." + token2, `{"status": "succeeded"}`, 401},
			{"UnknownDelivery", callbackBase + "/dlv_nope." + token2, `{"status": "succeeded"}`, 401},
			{"NoToken", callbackBase + "/", `{"status": "succeeded"}`, 404},
			{"ShortToken", u1[:len(u1)-2], `{"status": "succeeded"}`, 404},
			{"TooBig", u1, tooBig, 413},
			{"NotJSON", u1, `status=succeeded`, 400},
			{"Array", u1, `[{"status": "succeeded"}]`, 400},
			{"TwoObjects", u1, `{"status": "running"} {"status": "succeeded"}`, 400},
			{"Null", u1, `null`, 400},
			{"NoStatus", u1, `{"message": "hi"}`, 400},
			{"UnknownStatus", u1, `{"status": "done"}`, 400},
			{"ProgressAboveOne", u1, `{"status": "running", "progress": 1.5}`, 400},
			{"ProgressNegative", u1, `{"status": "running", "progress": -0.1}`, 400},
			{"MessageNotText", u1, `{"status": "running", "message": 3}`, 400},
		} {
			require.Equal(t, c.want, b.post(t, c.url, c.body), c.name)
		}
		rec := httptest.NewRecorder()
		b.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, u1, nil))
		require.Equal(t, http.StatusMethodNotAllowed, rec.Code)

		for _, dl := range []webhook.Delivery{dl1, dl2} {
			got, err := b.d.Delivery(b.ctx, dl.ID)
			require.NoError(t, err)
			require.Equal(t, dl, got, "a refused report changed the delivery")
			require.Empty(t, b.reports(t, dl.ID))
		}
		// The real tokens still work, each for its own delivery.
		require.Equal(t, http.StatusNoContent, b.post(t, u1, `{"status": "succeeded", "unknown": [1]}`))
		require.Equal(t, http.StatusNoContent, b.post(t, u2, `{"status": "running"}`))
	})

	t.Run("OtherSuccessEndsTheDelivery", func(t *testing.T) {
		t.Parallel()
		b := setupAck(t, webhook.Config{})
		rc := newReceiver(t, statusSequence(http.StatusOK))
		b.addEndpoint(t, "ep", rc.URL, withAck(time.Hour))
		ev := b.emit(t, "a")
		o := b.nextOutcome(t)
		require.Equal(t, webhook.StateSucceeded, o.State)
		require.Empty(t, o.AwaitTokenHash)
		u := callbackURL(t, rc.next(t))
		require.Equal(t, http.StatusUnauthorized, b.post(t, u, `{"status": "failed"}`))
		require.Equal(t, webhook.StateSucceeded, b.delivery(t, ev.ID).State)
	})

	t.Run("HooksHearTheEndOfEveryWait", func(t *testing.T) {
		t.Parallel()
		infos := make(chan webhook.AttemptInfo, 16)
		failed := make(chan webhook.Delivery, 4)
		b := setupAck(t, webhook.Config{Retry: webhook.RetryPolicy{Schedule: []time.Duration{time.Second}, Jitter: -1},
			Hooks: webhook.Hooks{
				OnAttempt:        func(_ context.Context, info webhook.AttemptInfo) { infos <- info },
				OnDeliveryFailed: func(_ context.Context, dl webhook.Delivery) { failed <- dl },
			}})
		next := func() webhook.AttemptInfo {
			t.Helper()
			select {
			case info := <-infos:
				return info
			case <-time.After(waitTimeout):
				t.Fatal("no OnAttempt call in time")
				return webhook.AttemptInfo{}
			}
		}
		dl, u, rc := b.awaiting(t, time.Hour)
		info := next()
		require.Equal(t, 202, info.Attempt.StatusCode)
		require.Equal(t, webhook.StatePending, info.State)

		// The wait runs out: the attempt fails with ack_timeout, a retry follows.
		b.clock.Advance(time.Hour)
		b.nextOutcome(t)
		info = next()
		require.Equal(t, 1, info.Attempt.Number)
		require.Equal(t, webhook.ClassAckTimeout, info.Attempt.ErrorClass)
		require.Equal(t, webhook.StatePending, info.State)
		require.Equal(t, http.StatusUnauthorized, b.post(t, u, `{"status": "succeeded"}`))

		// The retry, the last of the schedule, reported failed: failed for good.
		b.clock.Advance(time.Second)
		b.nextOutcome(t)
		u2 := callbackURL(t, rc.next(t))
		require.Equal(t, 202, next().Attempt.StatusCode)
		require.Equal(t, http.StatusNoContent, b.post(t, u2, `{"status": "failed", "message": "no space left"}`))
		info = next()
		require.Equal(t, 2, info.Attempt.Number)
		require.Equal(t, webhook.ClassAckFailed, info.Attempt.ErrorClass)
		require.Equal(t, "no space left", info.Attempt.Error)
		require.Equal(t, webhook.StateFailed, info.State)
		select {
		case got := <-failed:
			require.Equal(t, dl.ID, got.ID)
			require.Equal(t, "no space left", got.LastError)
		case <-time.After(waitTimeout):
			t.Fatal("OnDeliveryFailed not called")
		}
	})

	t.Run("EchoedTokenNotRecorded", func(t *testing.T) {
		t.Parallel()
		b := setupAck(t, webhook.Config{})
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte("will report to " + r.Header.Get("webhook-callback-url")))
		})
		b.addEndpoint(t, "ep", rc.URL, withAck(time.Hour))
		ev := b.emit(t, "a")
		b.nextOutcome(t)
		u := callbackURL(t, rc.next(t))
		atts := b.attempts(t, b.delivery(t, ev.ID).ID)
		require.Len(t, atts, 1)
		body := string(atts[0].ResponseBody)
		require.Contains(t, body, "will report to "+callbackBase)
		require.NotContains(t, body, u[strings.LastIndexByte(u, '.')+1:], "the token is recorded")
		require.Contains(t, body, webhook.Redacted)
	})

	t.Run("NoCallbackWithoutAckTimeout", func(t *testing.T) {
		t.Parallel()
		b := setupAck(t, webhook.Config{})
		rc := newReceiver(t, accepted)
		b.addEndpoint(t, "ep", rc.URL)
		ev := b.emit(t, "a")
		require.Equal(t, webhook.StateSucceeded, b.nextOutcome(t).State, "202 is a success without AckTimeout")
		require.Empty(t, rc.next(t).Header.Get("webhook-callback-url"))
		require.False(t, b.delivery(t, ev.ID).AwaitingReport)
	})

	t.Run("TemplateReadsItsOwnCallbackURL", func(t *testing.T) {
		t.Parallel()
		b := setupAck(t, webhook.Config{})
		const tmpl = `local event = import "hooklet.libsonnet"; {id: event.id, callback: event.callback_url}`
		rcs := map[string]*receiver{}
		for _, id := range []string{"ep_a", "ep_b", "ep_plain"} {
			rcs[id] = newReceiver(t, accepted)
			b.addEndpoint(t, id, rcs[id].URL, func(ep *webhook.Endpoint) {
				ep.Template = tmpl
				if id != "ep_plain" {
					ep.AckTimeout = time.Hour
				}
			})
		}
		b.emit(t, "a")
		for range 3 {
			b.nextOutcome(t)
		}
		seen := map[string]bool{}
		for _, id := range []string{"ep_a", "ep_b"} {
			q := rcs[id].next(t)
			var body struct {
				Callback *string `json:"callback"`
			}
			require.NoError(t, json.Unmarshal(q.Body, &body))
			require.NotNil(t, body.Callback, id)
			require.Equal(t, callbackURL(t, q), *body.Callback, "%s: the body carries the attempt's own callback URL", id)
			require.False(t, seen[*body.Callback], "a rendering with a callback URL was shared")
			seen[*body.Callback] = true
		}
		q := rcs["ep_plain"].next(t)
		require.Empty(t, q.Header.Get("webhook-callback-url"))
		require.Contains(t, string(q.Body), `"callback":null`, "without AckTimeout, callback_url is null")
	})
}

func TestCallbackConfig(t *testing.T) {
	t.Parallel()
	ms := memstore.New()
	t.Cleanup(func() { require.NoError(t, ms.Close()) })

	t.Run("AckTimeoutNeedsCallbackURL", func(t *testing.T) {
		t.Parallel()
		d := newDispatcher(t, webhook.Config{Store: ms, AllowPrivateNetworks: true})
		err := d.PutEndpoint(context.Background(), webhook.Endpoint{ID: "ep", URL: "http://127.0.0.1:1/",
			Secrets: []webhook.Secret{{Key: testSecret}}, AckTimeout: time.Minute})
		require.ErrorIs(t, err, webhook.ErrInvalidEndpoint)
		var ve *webhook.ValidationError
		require.True(t, errors.As(err, &ve))
		require.Equal(t, "AckTimeout", ve.Field)
		require.Contains(t, err.Error(), "Config.CallbackURL")
		rec := httptest.NewRecorder()
		d.CallbackHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/x", bytes.NewReader(nil)))
		require.Equal(t, http.StatusNotFound, rec.Code)
	})
	t.Run("NegativeAckTimeout", func(t *testing.T) {
		t.Parallel()
		d := newDispatcher(t, webhook.Config{Store: ms, AllowPrivateNetworks: true, CallbackURL: callbackBase})
		err := d.PutEndpoint(context.Background(), webhook.Endpoint{ID: "ep", URL: "http://127.0.0.1:1/",
			Secrets: []webhook.Secret{{Key: testSecret}}, AckTimeout: -time.Second})
		require.ErrorIs(t, err, webhook.ErrInvalidEndpoint)
	})
	t.Run("BadCallbackURL", func(t *testing.T) {
		t.Parallel()
		for _, u := range []string{"/relative", "ftp://x/y", "https://x/cb?k=1", "https://x/cb#f", "https://u:p@x/cb", "https:///cb"} {
			_, err := webhook.New(webhook.Config{Store: ms, CallbackURL: u})
			require.ErrorIs(t, err, webhook.ErrInvalidConfig, u)
			var ve *webhook.ValidationError
			require.True(t, errors.As(err, &ve))
			require.Equal(t, "CallbackURL", ve.Field)
		}
	})
	t.Run("StoreWithoutReports", func(t *testing.T) {
		t.Parallel()
		_, err := webhook.New(webhook.Config{Store: struct{ webhook.Store }{ms}, CallbackURL: callbackBase})
		require.ErrorIs(t, err, webhook.ErrInvalidConfig)
		require.Contains(t, err.Error(), "Reporter")
	})
}

// completeGateStore holds every Complete until the test opens its gate, and
// reports each GetDelivery.
type completeGateStore struct {
	*reportingStore
	gets chan string
	gate chan struct{}
}

func (g *completeGateStore) GetDelivery(ctx context.Context, p *webhook.GetDeliveryParams) (webhook.Delivery, error) {
	select {
	case g.gets <- p.ID:
	default:
	}
	return g.reportingStore.GetDelivery(ctx, p)
}

func (g *completeGateStore) Complete(ctx context.Context, p *webhook.CompleteParams) (webhook.BatchResult, error) {
	<-g.gate
	return g.reportingStore.Complete(ctx, p)
}

// TestCallbackOvertakesItsAccepted: a receiver that reports before its 202
// is recorded is not refused: the report waits for the outcome.
func TestCallbackOvertakesItsAccepted(t *testing.T) {
	t.Parallel()
	ms := memstore.New()
	t.Cleanup(func() { require.NoError(t, ms.Close()) })
	sig := &signalStore{Store: ms, outcomes: make(chan webhook.Outcome, 100), enqueues: make(chan int, 100)}
	gs := &completeGateStore{reportingStore: &reportingStore{signalStore: sig, Reporter: ms},
		gets: make(chan string, 100), gate: make(chan struct{})}
	clk := webhooktest.NewClock(epoch)
	d := newDispatcher(t, webhook.Config{Store: gs, CallbackURL: callbackBase, AllowPrivateNetworks: true,
		Test: webhook.TestConfig{Clock: clk}})
	var open sync.Once
	openGate := func() { open.Do(func() { close(gs.gate) }) }
	t.Cleanup(openGate) // before the Dispatcher closes, should the test fail
	ctx := context.Background()
	require.NoError(t, d.Start(ctx))
	b := &ackBundle{testBundle: &testBundle{d: d, store: sig, clock: clk, ctx: ctx}, handler: d.CallbackHandler()}
	rc := newReceiver(t, accepted)
	b.addEndpoint(t, "ep", rc.URL, withAck(time.Hour))
	ev := b.emit(t, "a")
	u := callbackURL(t, rc.next(t))
	for len(gs.gets) > 0 {
		<-gs.gets
	}

	// The 202 is answered, its outcome held at the gate: the report comes first.
	codes := make(chan int, 1)
	go func() { codes <- b.post(t, u, `{"status": "succeeded"}`) }()
	for range 2 { // the handler read the delivery in flight, then again while it waits
		select {
		case <-gs.gets:
		case <-time.After(waitTimeout):
			t.Fatal("the report did not read the delivery")
		}
	}
	select {
	case code := <-codes:
		t.Fatalf("the report was answered %d before its 202 was recorded", code)
	default:
	}
	openGate()
	select {
	case code := <-codes:
		require.Equal(t, http.StatusNoContent, code)
	case <-time.After(waitTimeout):
		t.Fatal("the report was not answered once its 202 was recorded")
	}
	dl := b.delivery(t, ev.ID)
	require.Equal(t, webhook.StateSucceeded, dl.State)
	require.Len(t, b.reports(t, dl.ID), 1)
}
