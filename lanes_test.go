package webhook_test

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/webhooktest"
)

// timerClock is a manual clock that reports the duration of every timer
// armed on it, so that a test can advance exactly when the code under it
// waits.
type timerClock struct {
	*webhooktest.Clock
	armed chan time.Duration
}

func newTimerClock() *timerClock {
	return &timerClock{Clock: webhooktest.NewClock(epoch), armed: make(chan time.Duration, 10000)}
}

func (c *timerClock) NewTimer(d time.Duration) webhook.Timer {
	// The timer is set on the clock before it is reported, so that a test
	// that advances the clock once it hears of the timer never advances
	// before the timer counts from the clock's time.
	t := c.Clock.NewTimer(d)
	select {
	case c.armed <- d:
	default:
	}
	return t
}

// waitArmed waits until a timer of exactly d is armed.
func (c *timerClock) waitArmed(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case got := <-c.armed:
			if got == d {
				return
			}
		case <-deadline:
			t.Fatalf("no timer of %v armed in time", d)
		}
	}
}

// setupTimers is setup with a timerClock.
func setupTimers(t *testing.T, cfg webhook.Config) (*testBundle, *timerClock) {
	t.Helper()
	st := newSignalStore(t)
	clk := newTimerClock()
	cfg.Store = st
	cfg.Test.Clock = clk
	cfg.AllowPrivateNetworks = true
	d := newDispatcher(t, cfg)
	ctx := context.Background()
	require.NoError(t, d.Start(ctx))
	return &testBundle{d: d, store: st, clock: clk.Clock, ctx: ctx}, clk
}

// syncer is a healthy endpoint that receives only "sync" events: a round
// trip to it proves that the engine has leased again since.
type syncer struct{ rc *receiver }

func newSyncer(t *testing.T, b *testBundle) *syncer {
	t.Helper()
	s := &syncer{rc: newReceiver(t, nil)}
	b.addEndpoint(t, "sync", s.rc.URL, func(e *webhook.Endpoint) { e.EventTypes = []string{"sync"} })
	return s
}

// roundTrip delivers two sync events, one after the other.
func (s *syncer) roundTrip(t *testing.T, b *testBundle) {
	t.Helper()
	for range 2 {
		b.emit(t, "sync")
		s.rc.next(t)
	}
}

// waitDeliveries waits until every delivery to endpointID is in state.
func (b *testBundle) waitDeliveries(t *testing.T, endpointID string, want int, state webhook.DeliveryState) []webhook.Delivery {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		page, err := b.d.Deliveries(b.ctx, &webhook.ListDeliveriesParams{EndpointID: endpointID, Limit: 1000})
		require.NoError(t, err)
		done := len(page.Items) == want
		for _, dl := range page.Items {
			done = done && dl.State == state
		}
		if done {
			return page.Items
		}
		require.True(t, time.Now().Before(deadline), "deliveries to %s not %s in time: %+v", endpointID, state, page.Items)
		select {
		case <-b.store.outcomes:
		case <-time.After(waitTimeout):
		}
	}
}

// The circuit opens after Failures consecutive failed attempts: the
// endpoint's deliveries then wait, unattempted, until a probe at the end
// of the cooldown; a failed probe doubles the pause, a successful one
// closes the circuit, and no delivery has lost an attempt to the pause.
func TestCircuitBreaker(t *testing.T) {
	t.Parallel()
	var opened, closed atomic.Int32
	openUntil := make(chan time.Time, 10)
	b, _ := setupTimers(t, webhook.Config{
		Breaker: webhook.BreakerPolicy{Failures: 3, Cooldown: 30 * time.Second},
		Retry:   webhook.RetryPolicy{Schedule: []time.Duration{time.Second, time.Second, time.Second, time.Second}, Jitter: -1},
		Hooks: webhook.Hooks{
			OnCircuitOpen:  func(_ context.Context, _ string, until time.Time) { opened.Add(1); openUntil <- until },
			OnCircuitClose: func(context.Context, string) { closed.Add(1) },
		},
	})
	sy := newSyncer(t, b)
	// Three failures open the circuit, the first probe fails too, then 200.
	sent := &idCounter{}
	rc := newReceiver(t, sent.wrap(statusSequence(500, 500, 500, 503)))
	b.addEndpoint(t, "ep", rc.URL, func(e *webhook.Endpoint) { e.EventTypes = []string{"a"} })
	for range 3 {
		b.emit(t, "a")
		rc.next(t)
		require.Equal(t, webhook.StatePending, b.nextOutcome(t).State)
	}
	select {
	case until := <-openUntil:
		require.Equal(t, epoch.Add(30*time.Second), until)
	case <-time.After(waitTimeout):
		t.Fatal("OnCircuitOpen not called")
	}

	// Open: new deliveries and due retries wait.
	b.emit(t, "a")
	b.emit(t, "a")
	b.clock.Advance(time.Second) // the retries are due
	sy.roundTrip(t, b)
	require.Empty(t, rc.reqs, "an attempt while the circuit is open")

	// The cooldown ends: exactly one probe, which fails. Its pause counts
	// from its answer, so the clock waits for its outcome.
	b.clock.Advance(29 * time.Second)
	rc.next(t)
	for o := b.nextOutcome(t); len(o.Attempts) == 0 || o.Attempts[0].StatusCode != http.StatusServiceUnavailable; o = b.nextOutcome(t) {
	}
	sy.roundTrip(t, b)
	require.Empty(t, rc.reqs, "more than one probe")

	// The pause doubles: nothing at 30 s, one probe at 60 s that succeeds
	// and closes the circuit; then everything goes.
	b.clock.Advance(30 * time.Second)
	sy.roundTrip(t, b)
	require.Empty(t, rc.reqs, "a probe before the doubled cooldown")
	b.clock.Advance(30 * time.Second)
	dls := b.waitDeliveries(t, "ep", 5, webhook.StateSucceeded)
	require.Equal(t, int32(1), opened.Load())
	require.Eventually(t, func() bool { return closed.Load() == 1 }, waitTimeout, time.Millisecond)

	// Every attempt recorded is a request the receiver got: the pause
	// took no attempt from any delivery.
	total := 0
	for _, dl := range dls {
		require.Equal(t, sent.get(dl.EventID), dl.Attempts, "delivery %s", dl.ID)
		total += dl.Attempts
	}
	require.Equal(t, 3+1+5, total)
}

// idCounter counts the requests a receiver gets per webhook-id.
type idCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *idCounter) wrap(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		if c.n == nil {
			c.n = map[string]int{}
		}
		c.n[r.Header.Get("webhook-id")]++
		c.mu.Unlock()
		h(w, r)
	}
}

func (c *idCounter) get(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[id]
}

// A 429 with Retry-After pauses the whole lane until then, not only the
// delivery that got it.
func TestRetryAfterPausesLane(t *testing.T) {
	t.Parallel()
	b, _ := setupTimers(t, webhook.Config{Retry: webhook.RetryPolicy{Jitter: -1}})
	sy := newSyncer(t, b)
	sent := &idCounter{}
	var calls atomic.Int32
	rc := newReceiver(t, sent.wrap(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "60")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	b.addEndpoint(t, "ep", rc.URL, func(e *webhook.Endpoint) { e.EventTypes = []string{"a"} })
	first := b.emit(t, "a")
	rc.next(t)
	require.Equal(t, epoch.Add(time.Minute), b.nextOutcome(t).NextAttemptAt)

	second := b.emit(t, "a")
	sy.roundTrip(t, b)
	b.clock.Advance(59 * time.Second)
	sy.roundTrip(t, b)
	require.Empty(t, rc.reqs, "an attempt during the Retry-After pause")

	b.clock.Advance(time.Second)
	b.waitDeliveries(t, "ep", 2, webhook.StateSucceeded)
	require.Equal(t, 2, sent.get(first.ID))
	require.Equal(t, 1, sent.get(second.ID), "the paused delivery lost an attempt")
	require.Equal(t, 1, b.delivery(t, second.ID).Attempts)
}

// A rate-limited lane sends its burst at once, then one request per
// token, by the Dispatcher's clock; while it waits it holds no worker, so
// another endpoint's deliveries go on beside it even with one worker.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	b, clk := setupTimers(t, webhook.Config{Workers: 1})
	sy := newSyncer(t, b)
	rc := newReceiver(t, nil)
	b.addEndpoint(t, "ep", rc.URL, func(e *webhook.Endpoint) {
		e.EventTypes = []string{"a"}
		e.RateLimit, e.RateBurst = 2, 2 // a token every 500 ms
	})
	const n = 6
	for range n {
		b.emit(t, "a")
	}
	rc.next(t)
	rc.next(t) // the burst
	clk.waitArmed(t, 500*time.Millisecond)
	for range 5 {
		sy.roundTrip(t, b) // the one worker is free for others
	}
	require.Empty(t, rc.reqs, "a request beyond the burst before a token")
	for i := 2; i < n; i++ {
		b.clock.Advance(500 * time.Millisecond)
		rc.next(t)
		sy.roundTrip(t, b)
		require.Empty(t, rc.reqs, "more than one request per token (request %d)", i+1)
	}
	b.waitDeliveries(t, "ep", n, webhook.StateSucceeded)
}

// Over ten seconds of real time, a 50/s limit holds within 10 %.
func TestRateLimitRealTime(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 10 s of real time; TestRateLimit covers the limiter with a manual clock")
	}
	t.Parallel()
	const (
		rps    = 50
		burst  = 5
		window = 10 * time.Second
	)
	var (
		mu    sync.Mutex
		times []time.Time
	)
	rc := newReceiver(t, func(http.ResponseWriter, *http.Request) {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
	})
	st := newSignalStore(t)
	d := newDispatcher(t, webhook.Config{Store: st, AllowPrivateNetworks: true})
	ctx := context.Background()
	require.NoError(t, d.PutEndpoint(ctx, webhook.Endpoint{ID: "ep", URL: rc.URL, RateLimit: rps, RateBurst: burst, Secrets: []webhook.Secret{{Key: testSecret}}}))
	// More than the window can take, so the lane never runs dry.
	evs := make([]webhook.Event, rps*int(window/time.Second)*3/2)
	for i := range evs {
		evs[i] = webhook.Event{Type: "a", Payload: json.RawMessage(`{}`)}
	}
	require.NoError(t, d.EmitBatch(ctx, evs))
	require.NoError(t, d.Start(ctx))
	// Wait for as many requests as the limit allows in the window, then
	// compare them with what it allows in the time they took.
	want := rps*int(window/time.Second) + burst
	for range want {
		rc.next(t)
	}
	mu.Lock()
	start, last, count := times[0], times[len(times)-1], len(times)
	mu.Unlock()
	elapsed := last.Sub(start).Seconds()
	allowed := rps*elapsed + burst
	ratio := float64(count) / allowed
	t.Logf("%d requests in %.2f s: %.1f/s; %.0f allowed, ratio %.3f", count, elapsed, float64(count-burst)/elapsed, allowed, ratio)
	require.Greater(t, elapsed, 0.9*window.Seconds()-float64(burst)/rps, "the limit let requests through too fast")
	require.InDelta(t, 1, ratio, 0.1)
}

// A hook that blocks for ever drops calls beyond its queue but slows no
// delivery, and Close does not wait for it past its ctx.
func TestHookThatBlocks(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	var calls atomic.Int32
	st := newSignalStore(t)
	d, err := webhook.New(webhook.Config{
		Store: st, AllowPrivateNetworks: true,
		Hooks: webhook.Hooks{OnAttempt: func(context.Context, webhook.AttemptInfo) {
			calls.Add(1)
			<-block
		}},
	})
	require.NoError(t, err)
	rc := newReceiver(t, nil)
	ctx := context.Background()
	require.NoError(t, d.PutEndpoint(ctx, webhook.Endpoint{ID: "ep", URL: rc.URL, Secrets: []webhook.Secret{{Key: testSecret}}}))
	require.NoError(t, d.Start(ctx))
	n := webhook.HookQueueSize + 200
	evs := make([]webhook.Event, n)
	for i := range evs {
		evs[i] = webhook.Event{Type: "a", Payload: json.RawMessage(`{}`)}
	}
	require.NoError(t, d.EmitBatch(ctx, evs))
	for range n {
		require.Equal(t, webhook.StateSucceeded, st.nextOutcome(t).State)
	}
	require.Equal(t, int32(1), calls.Load(), "the hook goroutine runs one call at a time")
	require.Positive(t, d.DroppedHooks())

	closeCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- d.Close(closeCtx) }()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(waitTimeout):
		t.Fatal("Close waited for a blocked hook")
	}
	close(block) // the abandoned hook returns; goleak sees its goroutine end
}

// A hook that panics is recovered: the engine and the other hooks go on.
func TestHookThatPanics(t *testing.T) {
	t.Parallel()
	failed := make(chan webhook.Delivery, 10)
	var attempts atomic.Int32
	b := setup(t, webhook.Config{
		Retry: webhook.RetryPolicy{Schedule: []time.Duration{}},
		Hooks: webhook.Hooks{
			OnAttempt: func(context.Context, webhook.AttemptInfo) {
				attempts.Add(1)
				panic("hook bug")
			},
			OnDeliveryFailed: func(_ context.Context, dl webhook.Delivery) { failed <- dl },
		},
	})
	rc := newReceiver(t, statusSequence(500))
	b.addEndpoint(t, "ep", rc.URL)
	ev := b.emit(t, "a")
	require.Equal(t, webhook.StateFailed, b.nextOutcome(t).State)
	select {
	case dl := <-failed:
		require.Equal(t, ev.ID, dl.EventID)
		require.Equal(t, webhook.StateFailed, dl.State)
		require.Equal(t, 1, dl.Attempts)
		require.Equal(t, 500, dl.LastStatusCode)
	case <-time.After(waitTimeout):
		t.Fatal("OnDeliveryFailed not called after a panicking hook")
	}
	b.emit(t, "a")
	require.Equal(t, webhook.StateSucceeded, b.nextOutcome(t).State)
	require.Eventually(t, func() bool { return attempts.Load() == 2 }, waitTimeout, time.Millisecond)
}

// Hooks hear of attempts and of an endpoint disabled, then enabled again.
func TestHooksEndpointDisabledEnabled(t *testing.T) {
	t.Parallel()
	infos := make(chan webhook.AttemptInfo, 10)
	disabled := make(chan webhook.Endpoint, 1)
	enabled := make(chan webhook.Endpoint, 1)
	b := setup(t, webhook.Config{Hooks: webhook.Hooks{
		OnAttempt:          func(_ context.Context, info webhook.AttemptInfo) { infos <- info },
		OnEndpointDisabled: func(_ context.Context, ep webhook.Endpoint) { disabled <- ep },
		OnEndpointEnabled:  func(_ context.Context, ep webhook.Endpoint) { enabled <- ep },
	}})
	rc := newReceiver(t, statusSequence(http.StatusGone))
	b.addEndpoint(t, "ep", rc.URL)
	ev := b.emit(t, "a")
	require.Equal(t, webhook.StateFailed, b.nextOutcome(t).State)
	info := <-infos
	require.Equal(t, "ep", info.EndpointID)
	require.Equal(t, ev.ID, info.EventID)
	require.Equal(t, http.StatusGone, info.Attempt.StatusCode)
	require.Equal(t, webhook.StateFailed, info.State)
	select {
	case got := <-disabled:
		require.True(t, got.Disabled)
	case <-time.After(waitTimeout):
		t.Fatal("OnEndpointDisabled not called")
	}
	stored, err := b.d.Endpoint(b.ctx, "ep")
	require.NoError(t, err)
	stored.Disabled, stored.DisabledReason = false, ""
	stored.FailingSince = epoch.Add(-time.Hour)        // as a failing run would have left it
	require.NoError(t, b.d.PutEndpoint(b.ctx, stored)) // enabled again
	select {
	case got := <-enabled:
		require.False(t, got.Disabled)
		require.Zero(t, got.FailingSince, "enabling starts the failing run anew")
	case <-time.After(waitTimeout):
		t.Fatal("OnEndpointEnabled not called")
	}
}

// The quick stage tries again at once, by the Dispatcher's clock, every
// try recorded as an attempt of one outcome; the schedule then goes on
// from the last try.
func TestQuickRetries(t *testing.T) {
	t.Parallel()
	quick := webhook.QuickRetryDefault()
	quick.Jitter = -1
	cfg := webhook.Config{Retry: webhook.RetryPolicy{Jitter: -1, Quick: quick}}

	t.Run("SucceedsOnThirdTry", func(t *testing.T) {
		t.Parallel()
		b, clk := setupTimers(t, cfg)
		rc := newReceiver(t, statusSequence(500, 502))
		b.addEndpoint(t, "ok", rc.URL, func(e *webhook.Endpoint) { e.EventTypes = []string{"ok"} })
		b.emit(t, "ok")
		rc.next(t)
		clk.waitArmed(t, 100*time.Millisecond)
		b.clock.Advance(100 * time.Millisecond)
		rc.next(t)
		clk.waitArmed(t, 200*time.Millisecond)
		b.clock.Advance(200 * time.Millisecond)
		rc.next(t)
		o := b.nextOutcome(t)
		require.Equal(t, webhook.StateSucceeded, o.State)
		require.Len(t, o.Attempts, 3)
		for i, a := range o.Attempts {
			require.Equal(t, i+1, a.Number)
		}
		require.Equal(t, []int{500, 502, 200}, []int{o.Attempts[0].StatusCode, o.Attempts[1].StatusCode, o.Attempts[2].StatusCode})
		require.Equal(t, epoch.Add(300*time.Millisecond), o.Attempts[2].StartedAt)
	})

	t.Run("ThenTheSchedule", func(t *testing.T) {
		t.Parallel()
		b, clk := setupTimers(t, cfg)
		rc := newReceiver(t, statusSequence(503, 503, 503, http.StatusBadRequest))
		b.addEndpoint(t, "down", rc.URL, func(e *webhook.Endpoint) { e.EventTypes = []string{"down"} })
		start := b.clock.Now()
		b.emit(t, "down")
		rc.next(t)
		clk.waitArmed(t, 100*time.Millisecond)
		b.clock.Advance(100 * time.Millisecond)
		rc.next(t)
		clk.waitArmed(t, 200*time.Millisecond)
		b.clock.Advance(200 * time.Millisecond)
		rc.next(t)
		o := b.nextOutcome(t)
		require.Len(t, o.Attempts, 3)
		require.Equal(t, webhook.StatePending, o.State)
		// The first delay of the schedule, from the last try.
		require.Equal(t, start.Add(300*time.Millisecond+5*time.Second), o.NextAttemptAt)
		// A later attempt makes no quick tries (400 is not one to retry
		// at once anyway); the schedule goes on with its second delay.
		b.clock.Advance(5 * time.Second)
		o = b.nextOutcome(t)
		require.Len(t, o.Attempts, 1)
		require.Equal(t, 4, o.Attempts[0].Number)
		require.Equal(t, start.Add(300*time.Millisecond+5*time.Second+5*time.Minute), o.NextAttemptAt)
	})
}

// Endpoints that hang cannot starve one that answers: however many lanes
// hang, they hold at most three quarters of the workers (half once they
// are known to be slow), so a healthy endpoint's deliveries go on.
func TestHangingLanesDoNotStarveHealthy(t *testing.T) {
	t.Parallel()
	const (
		workers = 8
		hanging = 6
		perLane = 5
	)
	b, healthy, release, free := setupHealthyBesideHanging(t, workers)

	var inFlight, most atomic.Int32
	hang := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(free) // before the receiver closes, should the test fail
	for i := range hanging {
		b.addEndpoint(t, "hang"+string(rune('a'+i)), hang.URL, func(e *webhook.Endpoint) { e.EventTypes = []string{"hang"} })
	}
	for range perLane {
		b.emit(t, "hang") // one delivery to every hanging endpoint
	}
	// Unproven lanes take their share: three quarters of the workers.
	for range workers * 3 / 4 {
		hang.next(t)
	}
	for range 20 {
		b.emit(t, "healthy")
		healthy.next(t)
		require.Equal(t, webhook.StateSucceeded, b.nextOutcome(t).State)
	}
	// Once slow, they get no more workers while they hold half.
	b.clock.Advance(15 * time.Second)
	for range 20 {
		b.emit(t, "healthy")
		healthy.next(t)
		require.Equal(t, webhook.StateSucceeded, b.nextOutcome(t).State)
	}
	require.Empty(t, hang.reqs, "hanging lanes took more than their share")
	require.LessOrEqual(t, most.Load(), int32(workers*3/4))
	free()
	for range hanging*perLane - workers*3/4 {
		hang.next(t)
	}
	for range hanging * perLane {
		require.Equal(t, webhook.StateSucceeded, b.nextOutcome(t).State)
	}
}

// The start of an endpoint's failing run is kept in the store, written
// when the run begins and cleared by a success, so a restarted
// Dispatcher (or another replica) goes on counting towards DisableAfter.
func TestFailingSinceIsStored(t *testing.T) {
	t.Parallel()
	t.Run("WrittenAndCleared", func(t *testing.T) {
		t.Parallel()
		b := setup(t, webhook.Config{Retry: webhook.RetryPolicy{Schedule: []time.Duration{time.Minute}, Jitter: -1}})
		rc := newReceiver(t, statusSequence(500))
		b.addEndpoint(t, "ep", rc.URL)
		b.emit(t, "a")
		require.Equal(t, webhook.StatePending, b.nextOutcome(t).State)
		require.Eventually(t, func() bool {
			ep, err := b.d.Endpoint(b.ctx, "ep")
			return err == nil && ep.FailingSince.Equal(epoch)
		}, waitTimeout, time.Millisecond, "FailingSince not stored")
		b.clock.Advance(time.Minute)
		require.Equal(t, webhook.StateSucceeded, b.nextOutcome(t).State)
		require.Eventually(t, func() bool {
			ep, err := b.d.Endpoint(b.ctx, "ep")
			return err == nil && ep.FailingSince.IsZero()
		}, waitTimeout, time.Millisecond, "FailingSince not cleared")
	})

	t.Run("CountsAcrossRestarts", func(t *testing.T) {
		t.Parallel()
		disabled := make(chan webhook.Endpoint, 1)
		st := newSignalStore(t)
		rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
		// A previous run of the service saw the endpoint fail for two hours.
		require.NoError(t, st.PutEndpoint(context.Background(), &webhook.PutEndpointParams{Endpoint: webhook.Endpoint{
			ID: "ep", URL: rc.URL, FailingSince: epoch.Add(-2 * time.Hour), CreatedAt: epoch, UpdatedAt: epoch,
		}}))
		d := newDispatcher(t, webhook.Config{
			Store: st, AllowPrivateNetworks: true, Test: webhook.TestConfig{Clock: webhooktest.NewClock(epoch)},
			DisableAfter: 3 * time.Hour,
			Hooks:        webhook.Hooks{OnEndpointDisabled: func(_ context.Context, ep webhook.Endpoint) { disabled <- ep }},
		})
		ctx := context.Background()
		require.NoError(t, d.Start(ctx))
		require.NoError(t, d.Emit(ctx, webhook.Event{Type: "a", Payload: json.RawMessage(`{}`)}))
		require.Equal(t, webhook.StatePending, st.nextOutcome(t).State)
		require.Empty(t, disabled, "disabled before DisableAfter")

		// Restarted an hour later: one more failure ends the three hours.
		closeCtx, cancel := context.WithTimeout(ctx, waitTimeout)
		defer cancel()
		require.NoError(t, d.Close(closeCtx))
		clk := webhooktest.NewClock(epoch.Add(time.Hour))
		d2 := newDispatcher(t, webhook.Config{
			Store: st, AllowPrivateNetworks: true, Test: webhook.TestConfig{Clock: clk},
			DisableAfter: 3 * time.Hour, Retry: webhook.RetryPolicy{Jitter: -1},
			Hooks: webhook.Hooks{OnEndpointDisabled: func(_ context.Context, ep webhook.Endpoint) { disabled <- ep }},
		})
		require.NoError(t, d2.Start(ctx))
		clk.Advance(time.Minute) // the retry is due
		st.nextOutcome(t)
		select {
		case ep := <-disabled:
			require.Contains(t, ep.DisabledReason, "no successful delivery")
		case <-time.After(waitTimeout):
			ep, _ := d2.Endpoint(ctx, "ep")
			t.Fatalf("the failing run was not counted across the restart: %+v", ep)
		}
	})
}

// Lane settings are validated when the endpoint or the Config is given.
func TestLaneSettingsValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, webhook.Config{})
	good := b.addEndpoint(t, "ep", "https://hooks.example.com/in", func(e *webhook.Endpoint) { e.RateLimit = 50 })
	bad := map[string]func(*webhook.Endpoint){
		"RateNegative":  func(e *webhook.Endpoint) { e.RateLimit = -1 },
		"RateNaN":       func(e *webhook.Endpoint) { e.RateLimit = math.NaN() },
		"RateInf":       func(e *webhook.Endpoint) { e.RateLimit = math.Inf(1) },
		"BurstNegative": func(e *webhook.Endpoint) { e.RateBurst = -1 },
		"BurstNoRate":   func(e *webhook.Endpoint) { e.RateLimit, e.RateBurst = 0, 2 },
		"QuickNegative": func(e *webhook.Endpoint) { e.Retry = &webhook.RetryPolicy{Quick: webhook.QuickRetry{Tries: -1}} },
		"QuickTooMany":  func(e *webhook.Endpoint) { e.Retry = &webhook.RetryPolicy{Quick: webhook.QuickRetry{Tries: 11}} },
		"QuickJitter": func(e *webhook.Endpoint) {
			e.Retry = &webhook.RetryPolicy{Quick: webhook.QuickRetry{Tries: 3, Jitter: 2}}
		},
		"QuickNegPause": func(e *webhook.Endpoint) {
			e.Retry = &webhook.RetryPolicy{Quick: webhook.QuickRetry{Tries: 3, Initial: -1}}
		},
		"QuickNegGiveUp": func(e *webhook.Endpoint) {
			e.Retry = &webhook.RetryPolicy{Quick: webhook.QuickRetry{Tries: 3, GiveUpAfter: -1}}
		},
	}
	for name, mod := range bad {
		ep := good.Clone()
		mod(&ep)
		err := b.d.PutEndpoint(b.ctx, ep)
		require.ErrorIs(t, err, webhook.ErrInvalidEndpoint, name)
	}
	for name, bp := range map[string]webhook.BreakerPolicy{
		"Failures":    {Failures: -1},
		"Cooldown":    {Cooldown: -time.Second},
		"MaxCooldown": {Cooldown: time.Minute, MaxCooldown: time.Second},
	} {
		_, err := webhook.New(webhook.Config{Store: newSignalStore(t), Breaker: bp})
		require.ErrorIs(t, err, webhook.ErrInvalidConfig, name)
	}
}

func TestQuickRetryPolicy(t *testing.T) {
	t.Parallel()
	p := webhook.RetryPolicy{Quick: webhook.QuickRetryDefault()}
	require.Equal(t, 8+2, p.MaxAttempts(), "quick tries add to the schedule's attempts")
	require.Equal(t, 8, webhook.RetryPolicy{Quick: webhook.QuickRetry{Tries: 1}}.MaxAttempts(), "one try is no quick stage")
	q := webhook.QuickRetry{Tries: 5, Initial: 100 * time.Millisecond, Max: 300 * time.Millisecond, Jitter: -1}
	for try, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 300 * time.Millisecond, 4: 300 * time.Millisecond} {
		require.Equal(t, want, webhook.QuickPause(q, try, 0.9), "try %d", try)
	}
	q.Jitter = 0.5
	require.Equal(t, 50*time.Millisecond, webhook.QuickPause(q, 1, 0))
	require.InDelta(t, float64(150*time.Millisecond), float64(webhook.QuickPause(q, 1, 0.999999999)), float64(time.Microsecond))
}

// setupHealthyBesideHanging starts a Dispatcher of the given workers (4 per
// endpoint, a minute's request timeout) with an endpoint "healthy" that
// has answered once, for tests that then add endpoints whose receivers
// hang until release is closed; free closes it once, at cleanup too.
func setupHealthyBesideHanging(t *testing.T, workers int) (b *testBundle, healthy *receiver, release chan struct{}, free func()) {
	t.Helper()
	release = make(chan struct{})
	var once sync.Once
	free = func() { once.Do(func() { close(release) }) }
	b = setup(t, webhook.Config{Workers: workers, EndpointConcurrency: 4, RequestTimeout: time.Minute})
	healthy = newReceiver(t, nil)
	b.addEndpoint(t, "healthy", healthy.URL, func(e *webhook.Endpoint) { e.EventTypes = []string{"healthy"} })
	b.emit(t, "healthy")
	healthy.next(t)
	require.Equal(t, webhook.StateSucceeded, b.nextOutcome(t).State)
	return b, healthy, release, free
}
