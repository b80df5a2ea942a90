package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/memstore"
)

// batchStore is a signalStore that records batches, as memstore does.
type batchStore struct {
	*signalStore
}

func (s batchStore) FormBatch(ctx context.Context, p *webhook.FormBatchParams) (webhook.BatchResult, error) {
	return s.Store.(webhook.Batcher).FormBatch(ctx, p)
}

// setupBatch is setupTimers on a store that records batches.
func setupBatch(t *testing.T, cfg webhook.Config) (*testBundle, *timerClock) {
	t.Helper()
	st := newSignalStore(t)
	clk := newTimerClock()
	cfg.Store = batchStore{st}
	cfg.Test.Clock = clk
	cfg.AllowPrivateNetworks = true
	d := newDispatcher(t, cfg)
	ctx := context.Background()
	require.NoError(t, d.Start(ctx))
	return &testBundle{d: d, store: st, clock: clk.Clock, ctx: ctx}, clk
}

// emitBatchN emits n events of type typ in one call and returns them, each
// with payload {"n": i}.
func (b *testBundle) emitBatchN(t *testing.T, typ string, n int, mods ...func(i int, ev *webhook.Event)) []webhook.Event {
	t.Helper()
	evs := make([]webhook.Event, n)
	for i := range evs {
		evs[i] = webhook.Event{Type: typ, Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}
		for _, m := range mods {
			m(i, &evs[i])
		}
	}
	require.NoError(t, b.d.EmitBatch(b.ctx, evs))
	return evs
}

// batchLine is one line of a batch body with the default envelope.
type batchLine struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// lines checks a batch request and returns its lines.
func lines(t *testing.T, req request) []batchLine {
	t.Helper()
	require.Equal(t, webhook.BatchContentType, req.Header.Get("Content-Type"))
	require.True(t, bytes.HasSuffix(req.Body, []byte("\n")), "a batch body ends with a newline")
	var out []batchLine
	for _, l := range bytes.Split(bytes.TrimSuffix(req.Body, []byte("\n")), []byte("\n")) {
		var bl batchLine
		require.NoError(t, json.Unmarshal(l, &bl), "line %q", l)
		out = append(out, bl)
	}
	return out
}

// requireNoRequest checks the receiver holds no request now.
func (r *receiver) requireNoRequest(t *testing.T) {
	t.Helper()
	select {
	case q := <-r.reqs:
		t.Fatalf("unexpected request: %s", q.Body)
	default:
	}
}

func batched(p webhook.BatchPolicy) func(*webhook.Endpoint) {
	return func(e *webhook.Endpoint) { e.Batch = p }
}

func TestBatchByCount(t *testing.T) {
	t.Parallel()
	b, _ := setupBatch(t, webhook.Config{})
	rc := newReceiver(t, nil)
	b.addEndpoint(t, "ep", rc.URL, batched(webhook.BatchPolicy{MaxEvents: 5, MaxWait: 10 * time.Minute}))
	evs := b.emitBatchN(t, "a", 10)
	// Full batches go at once: no clock moves.
	seen := map[string]bool{}
	var ids []string
	for range 2 {
		req := rc.next(t)
		ls := lines(t, req)
		require.Len(t, ls, 5)
		for _, l := range ls {
			seen[l.ID] = true
			require.Equal(t, "a", l.Type)
			require.Equal(t, epoch.Format(time.RFC3339Nano), l.Timestamp)
		}
		require.NoError(t, webhook.VerifyAt(testSecret, req.Header, req.Body, time.Minute, epoch))
		id := req.Header.Get("webhook-id")
		require.True(t, strings.HasPrefix(id, "batch_"), "webhook-id %q", id)
		ids = append(ids, id)
	}
	require.NotEqual(t, ids[0], ids[1])
	for _, ev := range evs {
		require.True(t, seen[ev.ID], "event %s not sent", ev.ID)
	}
	for range 10 {
		o := b.nextOutcome(t)
		require.Equal(t, webhook.StateSucceeded, o.State)
		require.Len(t, o.Attempts, 1)
		require.Equal(t, 200, o.Attempts[0].StatusCode)
	}
	dls := b.waitDeliveries(t, "ep", 10, webhook.StateSucceeded)
	for _, dl := range dls {
		require.Contains(t, ids, dl.BatchID)
		require.Equal(t, 1, dl.Attempts)
	}
}

func TestBatchByBytes(t *testing.T) {
	t.Parallel()
	b, _ := setupBatch(t, webhook.Config{MaxPayloadBytes: 1024})
	rc := newReceiver(t, nil)
	b.addEndpoint(t, "ep", rc.URL, batched(webhook.BatchPolicy{MaxBytes: 1024, MaxWait: 10 * time.Minute}))
	pad := strings.Repeat("x", 300)
	b.emitBatchN(t, "a", 7, func(i int, ev *webhook.Event) {
		ev.Payload = json.RawMessage(fmt.Sprintf(`{"n":%d,"pad":%q}`, i, pad))
	})
	for range 3 {
		req := rc.next(t)
		require.LessOrEqual(t, len(req.Body), 1024)
		require.Len(t, lines(t, req), 2)
	}
}

func TestBatchByWait(t *testing.T) {
	t.Parallel()
	b, clk := setupBatch(t, webhook.Config{})
	rc := newReceiver(t, nil)
	b.addEndpoint(t, "ep", rc.URL, batched(webhook.BatchPolicy{MaxEvents: 100, MaxWait: 3 * time.Second}))
	b.emitBatchN(t, "a", 3)
	// The engine gathers the three and waits for MaxWait.
	clk.waitArmed(t, 3*time.Second)
	rc.requireNoRequest(t)
	b.clock.Advance(2 * time.Second)
	rc.requireNoRequest(t)
	b.clock.Advance(time.Second)
	require.Len(t, lines(t, rc.next(t)), 3)
}

// A failed batch is retried as a unit, on the endpoint's schedule, with
// the same webhook-id and body, verified by the Standard Webhooks library.
func TestBatchRetriedAsUnit(t *testing.T) {
	t.Parallel()
	b, clk := setupBatch(t, webhook.Config{Retry: webhook.RetryPolicy{Schedule: []time.Duration{time.Minute}, Jitter: -1}})
	rc := newReceiver(t, statusSequence(http.StatusServiceUnavailable))
	b.addEndpoint(t, "ep", rc.URL, batched(webhook.BatchPolicy{MaxEvents: 3}))
	b.emitBatchN(t, "a", 3)
	first := rc.next(t)
	for range 3 {
		o := b.nextOutcome(t)
		require.Equal(t, webhook.StatePending, o.State)
		require.Equal(t, epoch.Add(time.Minute), o.NextAttemptAt)
	}
	clk.waitArmed(t, time.Minute)
	b.clock.Advance(time.Minute)
	second := rc.next(t)
	require.Equal(t, first.Header.Get("webhook-id"), second.Header.Get("webhook-id"))
	require.Equal(t, first.Body, second.Body)
	wh, err := standardwebhooks.NewWebhook(testSecret)
	require.NoError(t, err)
	for _, req := range []request{first, second} {
		require.NoError(t, wh.VerifyIgnoringTimestamp(req.Body, req.Header))
		require.NoError(t, webhook.VerifyAt(testSecret, req.Header, req.Body, 5*time.Minute, epoch.Add(time.Minute)))
	}
	// The signature covers the whole body.
	require.Error(t, wh.VerifyIgnoringTimestamp(append(bytes.Clone(second.Body), '\n'), second.Header))
	dls := b.waitDeliveries(t, "ep", 3, webhook.StateSucceeded)
	for _, dl := range dls {
		require.Equal(t, 2, dl.Attempts)
		require.Equal(t, second.Header.Get("webhook-id"), dl.BatchID)
		page, err := b.d.Attempts(b.ctx, &webhook.ListAttemptsParams{DeliveryID: dl.ID})
		require.NoError(t, err)
		require.Len(t, page.Items, 2)
		require.Equal(t, 503, page.Items[0].StatusCode)
		require.Equal(t, 200, page.Items[1].StatusCode)
		require.Equal(t, 2, page.Items[1].Number)
	}
}

func TestBatchNullTemplateSkipsLine(t *testing.T) {
	t.Parallel()
	b, _ := setupBatch(t, webhook.Config{})
	rc := newReceiver(t, nil)
	b.addEndpoint(t, "ep", rc.URL, batched(webhook.BatchPolicy{MaxEvents: 4, MaxWait: 10 * time.Minute}), func(e *webhook.Endpoint) {
		e.Template = `local e = import "hooklet.libsonnet"; if e.data.n == 1 then null else {n: e.data.n, id: e.id}`
	})
	// The skipped event keeps its place in the count: four events, three
	// lines.
	evs := b.emitBatchN(t, "a", 4)
	req := rc.next(t)
	var got []string
	for _, l := range bytes.Split(bytes.TrimSuffix(req.Body, []byte("\n")), []byte("\n")) {
		got = append(got, string(l))
	}
	want := []string{
		fmt.Sprintf(`{"id":%q,"n":0}`, evs[0].ID),
		fmt.Sprintf(`{"id":%q,"n":2}`, evs[2].ID),
		fmt.Sprintf(`{"id":%q,"n":3}`, evs[3].ID),
	}
	require.Equal(t, want, got)
	require.Equal(t, webhook.StateSkipped, b.waitDelivery(t, evs[1].ID, webhook.StateSkipped).State)
	for _, i := range []int{0, 2, 3} {
		b.waitDelivery(t, evs[i].ID, webhook.StateSucceeded)
	}
}

// waitDelivery waits until the only delivery of event id is in state.
func (b *testBundle) waitDelivery(t *testing.T, eventID string, state webhook.DeliveryState) webhook.Delivery {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		dl := b.delivery(t, eventID)
		if dl.State == state {
			return dl
		}
		require.True(t, time.Now().Before(deadline), "delivery of %s is %s, not %s", eventID, dl.State, state)
		select {
		case <-b.clock.Changed():
		case <-time.After(time.Millisecond):
		}
	}
}

// An ordered, batched endpoint gets each key's events in order: at most
// one per key in a batch, the next in a later batch.
func TestBatchOrdered(t *testing.T) {
	t.Parallel()
	b, _ := setupBatch(t, webhook.Config{})
	rc := newReceiver(t, nil)
	b.addEndpoint(t, "ep", rc.URL, batched(webhook.BatchPolicy{MaxEvents: 2, MaxWait: time.Second}), func(e *webhook.Endpoint) {
		e.Ordered = true
	})
	evs := b.emitBatchN(t, "a", 6, func(i int, ev *webhook.Event) { ev.OrderingKey = fmt.Sprintf("k%d", i%2) })
	var order []string
	for len(order) < 6 {
		// A batch of two keys is full at once; the engine waits for the
		// previous batch to end before the next heads are due.
		select {
		case req := <-rc.reqs:
			ls := lines(t, req)
			require.Len(t, ls, 2)
			keys := map[string]bool{}
			for _, l := range ls {
				var p struct{ N int }
				require.NoError(t, json.Unmarshal(l.Data, &p))
				k := fmt.Sprintf("k%d", p.N%2)
				require.False(t, keys[k], "two events of key %s in one batch", k)
				keys[k] = true
				order = append(order, l.ID)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("got %d of 6 events", len(order))
		}
	}
	pos := map[string]int{}
	for i, id := range order {
		pos[id] = i
	}
	for i := 2; i < 6; i++ {
		require.Less(t, pos[evs[i-2].ID], pos[evs[i].ID], "key order broken")
	}
}

// A batch request takes one token of the endpoint's rate, whatever it
// holds.
func TestBatchRateLimitCountsRequests(t *testing.T) {
	t.Parallel()
	b, clk := setupBatch(t, webhook.Config{})
	rc := newReceiver(t, nil)
	b.addEndpoint(t, "ep", rc.URL, batched(webhook.BatchPolicy{MaxEvents: 5, MaxWait: 10 * time.Minute}), func(e *webhook.Endpoint) {
		e.RateLimit, e.RateBurst = 1, 1
	})
	b.emitBatchN(t, "a", 10)
	require.Len(t, lines(t, rc.next(t)), 5)
	// The second batch waits for one token: a second, not five.
	clk.waitArmed(t, time.Second)
	rc.requireNoRequest(t)
	b.clock.Advance(time.Second)
	require.Len(t, lines(t, rc.next(t)), 5)
}

func TestBatchValidation(t *testing.T) {
	t.Parallel()
	b, _ := setupBatch(t, webhook.Config{MaxPayloadBytes: 4096})
	for name, tc := range map[string]struct {
		p     webhook.BatchPolicy
		field string
	}{
		"NegativeEvents": {webhook.BatchPolicy{MaxEvents: -1}, "Batch.MaxEvents"},
		"TooManyEvents":  {webhook.BatchPolicy{MaxEvents: webhook.BatchMaxEventsMax + 1}, "Batch.MaxEvents"},
		"NegativeBytes":  {webhook.BatchPolicy{MaxBytes: -1}, "Batch.MaxBytes"},
		"BytesBelowPay":  {webhook.BatchPolicy{MaxBytes: 4095}, "Batch.MaxBytes"},
		"TooManyBytes":   {webhook.BatchPolicy{MaxBytes: webhook.BatchMaxBytesMax + 1}, "Batch.MaxBytes"},
		"NegativeWait":   {webhook.BatchPolicy{MaxWait: -time.Second}, "Batch.MaxWait"},
		"TooLongWait":    {webhook.BatchPolicy{MaxWait: webhook.BatchMaxWaitMax + 1}, "Batch.MaxWait"},
	} {
		err := b.d.PutEndpoint(b.ctx, webhook.Endpoint{ID: "ep", URL: "http://127.0.0.1:1/", Secrets: []webhook.Secret{{Key: testSecret}}, Batch: tc.p})
		require.ErrorIs(t, err, webhook.ErrInvalidEndpoint, name)
		var ve *webhook.ValidationError
		require.True(t, errors.As(err, &ve), name)
		require.Equal(t, tc.field, ve.Field, name)
	}
	require.NoError(t, b.d.PutEndpoint(b.ctx, webhook.Endpoint{ID: "ep", URL: "http://127.0.0.1:1/", Secrets: []webhook.Secret{{Key: testSecret}},
		Batch: webhook.BatchPolicy{MaxEvents: webhook.BatchMaxEventsMax, MaxBytes: 4096, MaxWait: webhook.BatchMaxWaitMax}}))

	// A store that cannot record batches refuses batched endpoints.
	plain := setup(t, webhook.Config{})
	err := plain.d.PutEndpoint(plain.ctx, webhook.Endpoint{ID: "ep", URL: "http://127.0.0.1:1/", Secrets: []webhook.Secret{{Key: testSecret}},
		Batch: webhook.BatchPolicy{MaxEvents: 10}})
	require.ErrorIs(t, err, webhook.ErrInvalidEndpoint)
	require.ErrorIs(t, err, webhook.ErrBatchingUnsupported)
}

// batchAckStore is a store that records batches and keeps reports.
type batchAckStore struct {
	*signalStore
	webhook.Reporter
	webhook.Batcher
}

// setupBatchAck is setupAck on a store that also records batches, with a
// timerClock.
func setupBatchAck(t *testing.T, cfg webhook.Config) (*ackBundle, *timerClock) {
	t.Helper()
	st := newSignalStore(t)
	ms := st.Store.(*memstore.Store)
	clk := newTimerClock()
	cfg.Store = &batchAckStore{signalStore: st, Reporter: ms, Batcher: ms}
	cfg.Test.Clock = clk
	return startAck(t, cfg, st, clk.Clock), clk
}

// A batch request carries one callback URL; the receiver's reports on it
// reach every delivery of the batch.
func TestBatchReportsReachEveryMember(t *testing.T) {
	t.Parallel()
	b, _ := setupBatchAck(t, webhook.Config{})
	rc := newReceiver(t, accepted)
	b.addEndpoint(t, "ep", rc.URL, batched(webhook.BatchPolicy{MaxEvents: 3}), withAck(10*time.Minute))
	evs := b.emitBatchN(t, "a", 3)
	req := rc.next(t)
	require.Len(t, lines(t, req), 3)
	u := callbackURL(t, req)
	for range 3 {
		o := b.nextOutcome(t)
		require.Equal(t, webhook.StatePending, o.State)
		require.NotEmpty(t, o.AwaitTokenHash)
	}
	for _, ev := range evs {
		require.True(t, b.waitDelivery(t, ev.ID, webhook.StatePending).AwaitingReport)
	}
	require.Equal(t, http.StatusNoContent, b.post(t, u, `{"status":"running","progress":0.5,"message":"half"}`))
	require.Equal(t, http.StatusNoContent, b.post(t, u, `{"status":"succeeded","message":"done"}`))
	// The token is used up.
	require.Equal(t, http.StatusUnauthorized, b.post(t, u, `{"status":"succeeded"}`))
	for _, ev := range evs {
		dl := b.waitDelivery(t, ev.ID, webhook.StateSucceeded)
		require.False(t, dl.AwaitingReport)
		require.Equal(t, 1, dl.Attempts)
		reps, err := b.d.Reports(b.ctx, &webhook.ListReportsParams{DeliveryID: dl.ID})
		require.NoError(t, err)
		require.Len(t, reps.Items, 2)
		require.Equal(t, webhook.ReportRunning, reps.Items[0].Status)
		require.Equal(t, 0.5, reps.Items[0].Progress)
		require.Equal(t, webhook.ReportSucceeded, reps.Items[1].Status)
	}
}

// No report within AckTimeout fails the batch's attempt for every member,
// and the batch is sent again whole, under the same webhook-id.
func TestBatchAckTimeoutRetriesBatch(t *testing.T) {
	t.Parallel()
	b, clk := setupBatchAck(t, webhook.Config{Retry: webhook.RetryPolicy{Schedule: []time.Duration{time.Minute}, Jitter: -1}})
	rc := newReceiver(t, statusSequence(http.StatusAccepted))
	b.addEndpoint(t, "ep", rc.URL, batched(webhook.BatchPolicy{MaxEvents: 2}), withAck(5*time.Minute))
	b.emitBatchN(t, "a", 2)
	first := rc.next(t)
	for range 2 {
		require.Equal(t, webhook.StatePending, b.nextOutcome(t).State)
	}
	clk.waitArmed(t, 5*time.Minute)
	b.clock.Advance(5 * time.Minute)
	for range 2 {
		o := b.nextOutcome(t)
		require.Equal(t, webhook.StatePending, o.State)
		require.NotNil(t, o.WaitEnded)
		require.Equal(t, webhook.ClassAckTimeout, o.WaitEnded.Class)
	}
	clk.waitArmed(t, time.Minute)
	b.clock.Advance(time.Minute)
	second := rc.next(t)
	require.Equal(t, first.Header.Get("webhook-id"), second.Header.Get("webhook-id"))
	require.Equal(t, first.Body, second.Body)
	dls := b.waitDeliveries(t, "ep", 2, webhook.StateSucceeded)
	for _, dl := range dls {
		require.Equal(t, 2, dl.Attempts)
	}
}

func TestBatchJSON(t *testing.T) {
	t.Parallel()
	d := webhook.Delivery{ID: "dlv_1", State: webhook.StateSucceeded, BatchID: "batch_1"}
	b, err := json.Marshal(d)
	require.NoError(t, err)
	require.Contains(t, string(b), `"batch_id":"batch_1"`)
	var back webhook.Delivery
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, d, back)
	p := webhook.BatchPolicy{MaxEvents: 500, MaxWait: 1500 * time.Millisecond}
	b, err = json.Marshal(p)
	require.NoError(t, err)
	require.JSONEq(t, `{"max_events":500,"max_wait":"1.5s"}`, string(b))
	var pb webhook.BatchPolicy
	require.NoError(t, json.Unmarshal(b, &pb))
	require.Equal(t, p, pb)
}
