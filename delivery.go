package webhook

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// engine leases due deliveries from the store and runs them in per-endpoint
// lanes. One loop goroutine leases; one goroutine per running lane slot
// sends; the recorder writes outcomes back in batches; the extender keeps
// held leases alive.
//
// A lane is full when it runs as many deliveries as its endpoint's
// concurrency cap. Full lanes are excluded from leasing, so a slow endpoint
// holds at most its cap of workers plus what one lease batch handed it,
// and never delays deliveries to other endpoints.
type engine struct {
	d *Dispatcher

	wakeCh   chan struct{} // cap 1: a pending wake-up
	stopCh   chan struct{} // closed: stop leasing
	extStop  chan struct{} // closed: stop extending, once nothing runs
	loopDone chan struct{}
	extDone  chan struct{}

	// runCtx is cancelled when Close runs out of patience: in-flight
	// requests abort and their leases are released.
	runCtx    context.Context
	cancelRun context.CancelFunc

	rec *recorder
	wg  sync.WaitGroup // running lane goroutines and side tasks

	mu      sync.Mutex
	lanes   map[string]*lane
	running int                 // deliveries being attempted, all lanes
	held    map[string]LeaseRef // every lease this engine holds, by delivery ID
	// failingSince is when each failing endpoint's run of failed attempts
	// began; see failingTooLong.
	failingSince map[string]time.Time
	stopping     bool
}

// lane is one endpoint's share of the engine.
type lane struct {
	running int
	queue   []Lease // leased beyond the cap, waiting for a slot
}

func newEngine(d *Dispatcher) *engine {
	ctx, cancel := context.WithCancel(context.Background())
	e := &engine{
		d:         d,
		wakeCh:    make(chan struct{}, 1),
		stopCh:    make(chan struct{}),
		extStop:   make(chan struct{}),
		loopDone:  make(chan struct{}),
		extDone:   make(chan struct{}),
		runCtx:    ctx,
		cancelRun: cancel,
		lanes:     map[string]*lane{},
		held:      map[string]LeaseRef{},

		failingSince: map[string]time.Time{},
	}
	e.rec = newRecorder(e)
	return e
}

// wake makes the loop look for due work again. It never blocks.
func (e *engine) wake() {
	select {
	case e.wakeCh <- struct{}{}:
	default:
	}
}

func (e *engine) start() {
	e.rec.start()
	go e.loop()
	go e.extendLoop()
}

// loop leases due deliveries and waits, without polling, for the next
// reason to lease again: a wake-up, the next due time, or a notification
// from another process.
func (e *engine) loop() {
	defer close(e.loopDone)
	d := e.d
	var notes <-chan Notification
	if n, ok := d.store.(Notifier); ok {
		notes = n.Notifications()
	}
	retry := e.newStoreBackoff()
	for {
		select {
		case <-e.stopCh:
			return
		default:
		}
		now := d.clock.Now()
		free, running, excl := e.capacity()
		var err error
		got, limit := 0, min(free, d.cfg.LeaseBatchSize)
		// Lease in batches: while deliveries run, wait until a quarter of
		// a batch of slots is free rather than paying a store call for
		// every slot that frees up.
		leasing := limit > 0 && (running == 0 || limit >= e.minLease())
		if leasing {
			var leases []Lease
			leases, err = d.store.Lease(e.runCtx, &LeaseParams{
				Owner: d.cfg.Owner, Now: now, Until: now.Add(d.cfg.LeaseDuration),
				Limit: limit, ExcludeEndpoints: excl,
			})
			got = len(leases)
			if err == nil {
				e.dispatch(leases)
				if got == limit {
					retry.Reset()
					continue // more may be due
				}
			}
		}
		var wait <-chan time.Time
		var timer Timer
		// A running delivery wakes the loop when it ends; only when every
		// slot might stay free does the loop need the next due time.
		if err == nil && leasing {
			var next time.Time
			var ok bool
			next, ok, err = d.store.NextDue(e.runCtx, &NextDueParams{Now: now, ExcludeEndpoints: excl})
			if err == nil && ok {
				delay := next.Sub(d.clock.Now())
				if delay <= 0 {
					if got > 0 {
						continue
					}
					// Due now, yet nothing was leased: another owner won
					// the race. Look again shortly rather than spin.
					delay = d.cfg.LeaseDuration / 64
				}
				timer = d.clock.NewTimer(delay)
				wait = timer.C()
				if next.After(now) && !d.clock.Now().Before(next) {
					// The clock passed next while the timer was armed.
					timer.Stop()
					continue
				}
			}
		}
		if err != nil {
			if e.runCtx.Err() != nil {
				return
			}
			d.log.Warn("webhook: store error while leasing", "error", err)
			timer = d.clock.NewTimer(retry.NextBackOff())
			wait = timer.C()
		} else {
			retry.Reset()
		}
		select {
		case <-e.stopCh:
		case <-e.wakeCh:
		case <-wait:
		case n, ok := <-notes:
			if !ok {
				notes = nil
			} else if n.EndpointsChanged {
				if err := d.registry.reload(e.runCtx); err != nil {
					d.log.Warn("webhook: reloading endpoints", "error", err)
				}
			}
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// newStoreBackoff paces retries of failing store calls.
func (e *engine) newStoreBackoff() *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 50 * time.Millisecond
	b.MaxInterval = 5 * time.Second
	b.MaxElapsedTime = 0 // never give up while running
	b.Clock = e.d.clock
	b.Reset()
	return b
}

// capacity returns how many more deliveries may start and which endpoints'
// lanes are full.
func (e *engine) capacity() (free, running int, excl []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, ln := range e.lanes {
		if ln.running >= e.laneCap(id) {
			excl = append(excl, id)
		}
	}
	return e.d.cfg.Workers - e.running, e.running, excl
}

// minLease is the fewest free slots worth a lease call while deliveries
// are running.
func (e *engine) minLease() int {
	return max(1, min(e.d.cfg.LeaseBatchSize, e.d.cfg.Workers)/4)
}

func (e *engine) laneCap(endpointID string) int {
	if st, ok := e.d.registry.get(endpointID); ok {
		return st.concurrency
	}
	return e.d.cfg.EndpointConcurrency
}

// dispatch starts leased deliveries in their lanes, queueing those beyond
// a lane's cap.
func (e *engine) dispatch(leases []Lease) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, l := range leases {
		if _, ok := e.held[l.Delivery.ID]; ok {
			// Our own lease lapsed (an extension failed) and the store
			// handed the delivery back to us: keep the one copy we run or
			// queue, under the new token.
			e.held[l.Delivery.ID] = LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token}
			if ln := e.lanes[l.Delivery.EndpointID]; ln != nil {
				for i := range ln.queue {
					if ln.queue[i].Delivery.ID == l.Delivery.ID {
						ln.queue[i].Token = l.Token
					}
				}
			}
			continue
		}
		e.held[l.Delivery.ID] = LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token}
		id := l.Delivery.EndpointID
		ln := e.lanes[id]
		if ln == nil {
			ln = &lane{}
			e.lanes[id] = ln
		}
		if ln.running >= e.laneCap(id) {
			ln.queue = append(ln.queue, l)
			continue
		}
		ln.running++
		e.running++
		e.wg.Add(1)
		go e.runLane(l)
	}
}

// runLane attempts l, then whatever its lane queued, until the queue is
// empty.
func (e *engine) runLane(l Lease) {
	defer e.wg.Done()
	for {
		out, release := e.attempt(e.runCtx, &l)
		out.Lease.Token = e.token(out.Lease)
		if release {
			e.release([]LeaseRef{out.Lease})
		} else {
			e.rec.add(out)
		}
		next, ok := e.next(l.Delivery.EndpointID)
		if !ok {
			return
		}
		l = next
	}
}

// next hands the lane's next queued lease to the calling goroutine, or
// frees its slot.
func (e *engine) next(endpointID string) (Lease, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ln := e.lanes[endpointID]
	if len(ln.queue) > 0 && !e.stopping {
		l := ln.queue[0]
		ln.queue[0] = Lease{}
		ln.queue = ln.queue[1:]
		return l, true
	}
	ln.running--
	e.running--
	if ln.running == 0 && len(ln.queue) == 0 {
		delete(e.lanes, endpointID)
	}
	e.wake()
	return Lease{}, false
}

// token returns the token under which the engine now holds ref's
// delivery: a lapsed lease leased again by this engine carries a new one.
func (e *engine) token(ref LeaseRef) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if h, ok := e.held[ref.DeliveryID]; ok {
		return h.Token
	}
	return ref.Token
}

// forget drops leases from the held set once their outcome is written or
// they were released.
func (e *engine) forget(refs []LeaseRef) {
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
func (e *engine) release(refs []LeaseRef) {
	if len(refs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.d.store.Release(ctx, &ReleaseParams{Leases: refs, Now: e.d.clock.Now()}); err != nil {
		// The leases expire on their own; the deliveries come back then.
		e.d.log.Warn("webhook: releasing leases", "count", len(refs), "error", err)
	}
	e.forget(refs)
}

// extendLoop keeps the leases this engine holds from expiring while their
// deliveries wait in a lane queue or are being attempted.
func (e *engine) extendLoop() {
	defer close(e.extDone)
	every := e.d.cfg.LeaseDuration / 3
	for {
		t := e.d.clock.NewTimer(every)
		select {
		case <-e.extStop:
			t.Stop()
			return
		case <-t.C():
		}
		e.extend()
	}
}

func (e *engine) extend() {
	e.mu.Lock()
	refs := make([]LeaseRef, 0, len(e.held))
	for _, r := range e.held {
		refs = append(refs, r)
	}
	e.mu.Unlock()
	if len(refs) == 0 {
		return
	}
	now := e.d.clock.Now()
	res, err := e.d.store.ExtendLeases(e.runCtx, &ExtendLeasesParams{Leases: refs, Now: now, Until: now.Add(e.d.cfg.LeaseDuration)})
	if err != nil {
		e.d.log.Warn("webhook: extending leases", "count", len(refs), "error", err)
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
		ln.queue = slices.DeleteFunc(ln.queue, func(l Lease) bool { return stale[l.Delivery.ID] == l.Token })
	}
	for id, tok := range stale {
		if h, ok := e.held[id]; ok && h.Token == tok {
			delete(e.held, id)
		}
	}
	e.mu.Unlock()
}

// stop stops leasing, lets running deliveries finish until ctx is done,
// then cancels them, releases their leases and those of queued
// deliveries, and flushes the recorder. Leases stay extended until then.
// An outcome the store still refuses after that is dropped; its lease
// expires and the delivery is attempted again.
func (e *engine) stop(ctx context.Context) error {
	// When ctx ends, store calls in flight are cancelled too.
	defer context.AfterFunc(ctx, e.cancelRun)()
	close(e.stopCh)
	<-e.loopDone

	e.mu.Lock()
	e.stopping = true
	var queued []LeaseRef
	for _, ln := range e.lanes {
		for _, l := range ln.queue {
			queued = append(queued, LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token})
		}
		ln.queue = nil
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
