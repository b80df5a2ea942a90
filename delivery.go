package webhook

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// deliveryEngine leases due deliveries from the store and runs them in
// per-endpoint lanes. One loop goroutine leases; one goroutine per running
// lane slot attempts; the recorder writes outcomes back in batches; the
// extender keeps held leases alive.
//
// A lane that may not start another delivery now (full, paused by its
// circuit breaker or a Retry-After, waiting for its rate, or slow while
// slow lanes hold their share of the workers; see lane) is excluded from
// leasing, so a slow endpoint holds at most its share of workers plus what
// one lease batch handed it, and never delays deliveries to other
// endpoints.
//
// The engine knows nothing of the Dispatcher: it is built with the store,
// the clock, the logger, its limits and the funcs it calls.
type deliveryEngine struct {
	store  Store
	clock  Clock
	log    *slog.Logger
	limits engineLimits
	// laneConfig returns an endpoint's lane settings.
	laneConfig func(endpointID string) laneConfig
	// attempt makes one attempt (with its quick tries); release reports
	// that it was cut short by cancellation and nothing is to be recorded.
	attempt func(ctx context.Context, l *Lease) (out Outcome, rep attemptReport, release bool)
	// attemptBatch makes one attempt at a batch; see
	// attempter.attemptBatch.
	attemptBatch func(ctx context.Context, u *batchUnit, maxBytes int, form formFunc) batchResult
	// hooks tells the host of circuit changes.
	hooks *hookRunner
	// endpointsChanged is called when another process reports changed
	// endpoints.
	endpointsChanged func(ctx context.Context) error
	// afterRecorded, when set, is told of the leases whose outcomes are
	// written (or given up on); see callbacks.recorded.
	afterRecorded func(refs []LeaseRef)

	wakeCh   chan struct{} // cap 1: a pending wake-up
	stopCh   chan struct{} // closed: stop leasing
	extStop  chan struct{} // closed: stop extending, once nothing runs
	loopDone chan struct{}
	extDone  chan struct{}

	// runCtx is cancelled when Close runs out of patience: in-flight
	// requests abort and their leases are released.
	runCtx    context.Context
	cancelRun context.CancelFunc

	// txPollUntil is when, in Unix nanoseconds of the clock, the engine
	// stops polling for events committed in host transactions; see
	// txEmitted.
	txPollUntil atomic.Int64

	rec *recorder
	wg  sync.WaitGroup // running lane goroutines

	mu      sync.Mutex
	lanes   map[string]*lane
	busy    map[string]*lane    // lanes running or queueing deliveries (and some idle ones, dropped lazily)
	running int                 // deliveries being attempted, all lanes
	held    map[string]LeaseRef // every lease this engine holds, by delivery ID
	// active holds the deliveries queued or being attempted here, whose
	// outcome is not yet handed to the recorder.
	active   map[string]struct{}
	stopping bool
	pass     passState // what the latest pass over the waiting lanes found
	// looks counts the lanes examined to start queued deliveries, and
	// endLooks those examined when attempts ended, for tests.
	looks, endLooks int
	// releases are leases that ending attempts took from their lanes
	// (paused or slow) for the loop to give back.
	releases []LeaseRef
}

// engineLimits are the Config values that bound the engine.
type engineLimits struct {
	owner          string
	workers        int
	leaseBatchSize int
	leaseDuration  time.Duration
	// slowAfter is how long an attempt runs before its lane counts as
	// slow; see lane.
	slowAfter time.Duration
	breaker   BreakerPolicy // with defaults
}

// Polling after [Dispatcher.EmitTx] on a store without notifications: the
// engine looks for due deliveries every txPollMin at first, backing off to
// txPollMax, until txPollWindow after the last EmitTx.
const (
	txPollMin    = 20 * time.Millisecond
	txPollMax    = time.Second
	txPollWindow = 10 * time.Minute
)

func newDeliveryEngine(store Store, clock Clock, log *slog.Logger, limits engineLimits,
	laneConfig func(string) laneConfig,
	attempt func(context.Context, *Lease) (Outcome, attemptReport, bool),
	endpointsChanged func(context.Context) error,
	hooks *hookRunner,
) *deliveryEngine {
	ctx, cancel := context.WithCancel(context.Background())
	e := &deliveryEngine{
		store:            store,
		clock:            clock,
		log:              log,
		limits:           limits,
		laneConfig:       laneConfig,
		attempt:          attempt,
		hooks:            hooks,
		endpointsChanged: endpointsChanged,
		wakeCh:           make(chan struct{}, 1),
		stopCh:           make(chan struct{}),
		extStop:          make(chan struct{}),
		loopDone:         make(chan struct{}),
		extDone:          make(chan struct{}),
		runCtx:           ctx,
		cancelRun:        cancel,
		lanes:            map[string]*lane{},
		busy:             map[string]*lane{},
		held:             map[string]LeaseRef{},
		active:           map[string]struct{}{},
	}
	e.rec = newRecorder(store, clock, log, limits.workers*2, e.recorded, e.stopCh)
	return e
}

// wake makes the loop look for due work again. It never blocks.
func (e *deliveryEngine) wake() {
	select {
	case e.wakeCh <- struct{}{}:
	default:
	}
}

// txEmitted tells the engine that events were written in a host
// transaction that commits later, on a store that will not notify it: the
// loop then polls for a while.
func (e *deliveryEngine) txEmitted() {
	e.txPollUntil.Store(e.clock.Now().Add(txPollWindow).UnixNano())
	e.wake()
}

func (e *deliveryEngine) start() {
	e.rec.start()
	go e.loop()
	go e.extendLoop()
}

// loop leases due deliveries and waits, without polling, for the next
// reason to lease again: a wake-up, the next due time, or a notification
// from another process.
func (e *deliveryEngine) loop() {
	defer close(e.loopDone)
	var notes <-chan Notification
	if n, ok := e.store.(Notifier); ok {
		notes = n.Notifications()
	}
	retry := newStoreBackoff(e.clock)
	poll := txPollMin
	for !e.isStopping() {
		r := e.lease()
		if r.err == nil && r.more {
			retry.Reset()
			continue
		}
		var wait waitFor
		if r.err == nil && r.leasing {
			var again bool
			wait, again, r.err = e.nextWake(r)
			if again {
				continue
			}
		}
		if r.err != nil {
			if e.runCtx.Err() != nil {
				return
			}
			e.log.Warn("webhook: store error while leasing", "error", r.err)
			wait = e.timer(retry.NextBackOff())
		} else {
			retry.Reset()
		}
		if !r.laneWake.IsZero() {
			if d := r.laneWake.Sub(e.clock.Now()); wait.timer == nil || d < wait.delay {
				wait.stop()
				wait = e.timer(d)
			}
		}
		if e.clock.Now().UnixNano() < e.txPollUntil.Load() {
			if wait.timer == nil || poll < wait.delay {
				wait.stop()
				wait = e.timer(poll)
			}
			poll = min(2*poll, txPollMax)
		} else {
			poll = txPollMin
		}
		notes = e.wait(wait, notes)
	}
}

// leaseResult is what one round of leasing found.
type leaseResult struct {
	now  time.Time
	excl []string // endpoints whose lanes may not take more now
	// laneWake is when a lane waiting for time (a pause, its rate) may
	// start again; zero when none waits.
	laneWake time.Time
	leasing  bool // a lease call was made
	got      int  // deliveries leased
	more     bool // a full batch: more may be due at once
	err      error
}

// lease leases as many due deliveries as there are free slots, and some
// ahead, in batches: while deliveries run and enough wait leased ahead, it
// waits until a quarter of a batch of slots is free rather than paying a
// store call for every slot that frees up.
func (e *deliveryEngine) lease() leaseResult {
	e.releasePending()
	r := leaseResult{now: e.clock.Now()}
	free, running, ahead, excl, wake := e.plan()
	r.excl, r.laneWake = excl, wake
	// Lease a little ahead: up to workers more than run, queued in lanes
	// that cannot take them at once, so that a lane's next deliveries are
	// at hand when its slots free up. While deliveries run, lease once a
	// quarter batch of slots is free, or once what was leased ahead runs
	// low (slots held by slow lanes must not starve the others' queues).
	limit := min(free+max(0, e.limits.workers-ahead), e.limits.leaseBatchSize)
	r.leasing = free > 0 && (running == 0 || free >= e.minLease() || ahead < e.minLease())
	if !r.leasing {
		return r
	}
	leases, err := e.store.Lease(e.runCtx, &LeaseParams{
		Owner: e.limits.owner, Now: r.now, Until: r.now.Add(e.limits.leaseDuration),
		Limit: limit, ExcludeEndpoints: excl,
	})
	if err != nil {
		r.err = err
		return r
	}
	e.dispatch(leases)
	r.got, r.more = len(leases), len(leases) == limit
	if w := e.gatherWake(); !w.IsZero() && (r.laneWake.IsZero() || w.Before(r.laneWake)) {
		r.laneWake = w
	}
	return r
}

// waitFor is a timer that ends the loop's wait; without one, the loop
// waits until something wakes it.
type waitFor struct {
	timer Timer // nil: no timeout
	delay time.Duration
}

func (e *deliveryEngine) timer(d time.Duration) waitFor {
	return waitFor{timer: e.clock.NewTimer(d), delay: d}
}

func (w waitFor) stop() {
	if w.timer != nil {
		w.timer.Stop()
	}
}

// nextWake asks the store when the next delivery is due after a lease
// round r and arms a timer for it. It reports again when the loop should
// lease at once. A running delivery wakes the loop when it ends, so only
// after a lease call, when every slot might stay free, does the loop need
// the next due time.
func (e *deliveryEngine) nextWake(r leaseResult) (w waitFor, again bool, err error) {
	next, ok, err := e.store.NextDue(e.runCtx, &NextDueParams{Now: r.now, ExcludeEndpoints: r.excl})
	if err != nil || !ok {
		return waitFor{}, false, err
	}
	delay := next.Sub(e.clock.Now())
	if delay <= 0 {
		if r.got > 0 {
			return waitFor{}, true, nil
		}
		// Due now, yet nothing was leased: another owner won the race.
		// Look again shortly rather than spin.
		delay = e.limits.leaseDuration / 64
	}
	w = e.timer(delay)
	if next.After(r.now) && !e.clock.Now().Before(next) {
		// The clock passed next while the timer was armed.
		w.stop()
		return waitFor{}, true, nil
	}
	return w, false, nil
}

// wait waits for a wake-up, the end of w, a notification from another
// process, or stop, and stops w's timer. It returns the notification
// channel, nil once closed.
func (e *deliveryEngine) wait(w waitFor, notes <-chan Notification) <-chan Notification {
	defer w.stop()
	var timeout <-chan time.Time
	if w.timer != nil {
		timeout = w.timer.C()
	}
	select {
	case <-e.stopCh:
	case <-e.wakeCh:
	case <-timeout:
	case n, ok := <-notes:
		if !ok {
			return nil
		}
		if n.EndpointsChanged {
			if err := e.endpointsChanged(e.runCtx); err != nil {
				e.log.Warn("webhook: reloading endpoints", "error", err)
			}
		}
	}
	return notes
}

// newStoreBackoff paces retries of failing store calls on clock.
func newStoreBackoff(clock Clock) *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 50 * time.Millisecond
	b.MaxInterval = 5 * time.Second
	b.MaxElapsedTime = 0 // never give up while running
	b.Clock = clock
	b.Reset()
	return b
}

// minLease is the fewest free slots worth a lease call while deliveries
// are running.
func (e *deliveryEngine) minLease() int {
	return max(1, min(e.limits.leaseBatchSize, e.limits.workers)/4)
}

// recorded is told by the recorder that outcomes are written (or given
// up on): their leases are no longer held, and the loop may lease more.
func (e *deliveryEngine) recorded(refs []LeaseRef) {
	e.forget(refs)
	if e.afterRecorded != nil {
		e.afterRecorded(refs)
	}
	e.wake()
}

// forget drops leases from the held set once their outcome is written or
// they were released.
func (e *deliveryEngine) forget(refs []LeaseRef) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range refs {
		if h, ok := e.held[r.DeliveryID]; ok && h.Token == r.Token {
			delete(e.held, r.DeliveryID)
		}
	}
}

// release gives leases back to the store so that any owner may take them
// at once.
func (e *deliveryEngine) release(refs []LeaseRef) {
	if len(refs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.store.Release(ctx, &ReleaseParams{Leases: refs, Now: e.clock.Now()}); err != nil {
		// The leases expire on their own; the deliveries come back then.
		e.log.Warn("webhook: releasing leases", "count", len(refs), "error", err)
	}
	e.forget(refs)
}

// extendLoop keeps the leases this engine holds from expiring while their
// deliveries wait in a lane queue or are being attempted.
func (e *deliveryEngine) extendLoop() {
	defer close(e.extDone)
	every := e.limits.leaseDuration / 3
	for {
		t := e.clock.NewTimer(every)
		select {
		case <-e.extStop:
			t.Stop()
			return
		case <-t.C():
		}
		e.extend()
	}
}

func (e *deliveryEngine) extend() {
	e.mu.Lock()
	refs := make([]LeaseRef, 0, len(e.held))
	for _, r := range e.held {
		refs = append(refs, r)
	}
	e.mu.Unlock()
	if len(refs) == 0 {
		return
	}
	now := e.clock.Now()
	res, err := e.store.ExtendLeases(e.runCtx, &ExtendLeasesParams{Leases: refs, Now: now, Until: now.Add(e.limits.leaseDuration)})
	if err != nil {
		e.log.Warn("webhook: extending leases", "count", len(refs), "error", err)
		return
	}
	if len(res.Stale) == 0 {
		return
	}
	// Another owner has these deliveries now: drop the queued ones. Running
	// ones finish; their outcome will be refused.
	stale := map[string]string{}
	for _, r := range res.Stale {
		stale[r.DeliveryID] = r.Token
	}
	e.mu.Lock()
	for _, ln := range e.lanes {
		e.dropStaleLocked(ln, stale)
	}
	for _, ln := range e.busy {
		ln.queue = slices.DeleteFunc(ln.queue, func(l Lease) bool {
			if stale[l.Delivery.ID] == l.Token {
				delete(e.active, l.Delivery.ID)
				return true
			}
			return false
		})
	}
	for id, tok := range stale {
		if h, ok := e.held[id]; ok && h.Token == tok {
			delete(e.held, id)
		}
	}
	e.mu.Unlock()
}

func (e *deliveryEngine) isStopping() bool {
	select {
	case <-e.stopCh:
		return true
	default:
		return false
	}
}

// stop stops leasing, lets running deliveries finish until ctx is done,
// then cancels them, releases their leases and those of queued
// deliveries, and flushes the recorder. Leases stay extended until then.
// An outcome the store still refuses after that is dropped; its lease
// expires and the delivery is attempted again.
func (e *deliveryEngine) stop(ctx context.Context) error {
	// When ctx ends, store calls in flight are cancelled too.
	defer context.AfterFunc(ctx, e.cancelRun)()
	close(e.stopCh)
	<-e.loopDone

	e.mu.Lock()
	e.stopping = true
	queued := e.releases
	e.releases = nil
	for _, ln := range e.busy {
		queued = append(queued, takeQueue(e, ln)...)
	}
	for _, ln := range e.lanes {
		queued = append(queued, takeGather(e, ln)...)
	}
	e.mu.Unlock()
	e.release(queued)

	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		e.cancelRun()
		<-done
	}
	e.rec.close()
	// Leases stay extended until every outcome is written.
	close(e.extStop)
	<-e.extDone
	e.cancelRun()
	return err
}
