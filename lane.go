package webhook

import (
	"cmp"
	"math"
	"slices"
	"time"

	"golang.org/x/time/rate"
)

// laneConfig is what a lane needs to know of its endpoint.
type laneConfig struct {
	concurrency int     // the endpoint's cap of requests in flight
	rate        float64 // requests per second; 0: no limit
	burst       int
	batch       BatchPolicy // with defaults; zero: no batching
}

// lane is one endpoint's share of the engine: its deliveries running and
// those leased but waiting, and the controls that decide when the next may
// start: a concurrency cap that shrinks while the endpoint is slow
// (AIMD), a circuit breaker, and a rate limiter. The engine's mutex guards
// every lane.
//
// Fairness: a lane is slow while an attempt of it has been in flight for
// longer than the engine's slowAfter, or its latest attempt was that slow
// or timed out; it is unproven until an attempt of it finishes fast. Slow
// lanes together hold at most half of the workers, and slow and unproven
// lanes together at most three quarters, so endpoints that hang can never
// take the workers that endpoints known to answer fast need. The work of
// a healthy endpoint's delivery does not grow with the number of slow
// lanes: an attempt that ends in a proven lane while no other lane waits
// for a worker starts that lane's next delivery without a pass over the
// others (see nextOwnLocked), and wakes the leasing loop only when
// leasing may find something new.
type lane struct {
	cfg     laneConfig
	running int
	starts  []time.Time // when each running attempt started
	queue   []Lease     // leased, waiting for the lane to allow a start

	proven bool    // an attempt finished fast
	slow   bool    // the latest attempt to finish was slow
	limit  float64 // AIMD concurrency limit, in [1, cfg.concurrency]

	breaker breaker
	limiter *rate.Limiter // nil without a rate limit
	lastEnd time.Time     // when the latest attempt ended

	// Batching (see gatherer.go): leased deliveries gathered for the next
	// batch, when the oldest of them came, their estimated size, the
	// average line of the last batch sent, and the batches queued, by
	// their lead in queue.
	gather      []Lease
	gatherSince time.Time
	gatherBytes int
	lineEst     int
	units       map[string]*batchUnit
}

// laneIdleTTL is how long an idle lane keeps what it learnt of its
// endpoint before it is forgotten.
const laneIdleTTL = 10 * time.Minute

func newLane(cfg laneConfig, bp BreakerPolicy, now time.Time) *lane {
	ln := &lane{limit: float64(max(1, cfg.concurrency)), breaker: breaker{policy: bp}, lastEnd: now}
	ln.configure(cfg, now)
	return ln
}

// configure applies the endpoint's current settings, and reports whether
// they changed.
func (ln *lane) configure(cfg laneConfig, now time.Time) bool {
	if cfg == ln.cfg {
		return false
	}
	ln.cfg = cfg
	ln.limit = min(ln.limit, float64(max(1, cfg.concurrency)))
	switch {
	case cfg.rate <= 0:
		ln.limiter = nil
	case ln.limiter == nil:
		ln.limiter = rate.NewLimiter(rate.Limit(cfg.rate), cfg.burst)
		// A new limiter starts with a full bucket: the first burst goes at once.
	default:
		ln.limiter.SetLimitAt(now, rate.Limit(cfg.rate))
		ln.limiter.SetBurstAt(now, cfg.burst)
	}
	return true
}

// effectiveCap is how many attempts the lane may run now.
func (ln *lane) effectiveCap() int {
	return min(max(1, ln.cfg.concurrency), max(1, int(ln.limit)))
}

// laneClass sorts lanes for the workers' shares; see lane.
type laneClass int

const (
	classProven laneClass = iota
	classUnproven
	classSlow
)

// class returns the lane's class at now.
func (ln *lane) class(now time.Time, slowAfter time.Duration) laneClass {
	if ln.slow {
		return classSlow
	}
	for _, s := range ln.starts {
		if now.Sub(s) >= slowAfter {
			return classSlow
		}
	}
	if !ln.proven {
		return classUnproven
	}
	return classProven
}

// idle reports whether the lane may be forgotten.
func (ln *lane) idle(now time.Time) bool {
	return ln.running == 0 && len(ln.queue) == 0 && len(ln.gather) == 0 && now.Sub(ln.lastEnd) >= laneIdleTTL &&
		ln.breaker.idle(now) && (ln.limiter == nil || ln.limiter.TokensAt(now) >= float64(ln.limiter.Burst()))
}

// gate says whether a lane may start an attempt now, and if not, when it
// may (zero: when something running ends).
type gate struct {
	ok    bool
	probe bool
	wake  time.Time
}

// allow checks the lane's own controls at now: breaker, concurrency and
// rate, not the engine's workers.
func (ln *lane) allow(now time.Time) gate {
	ok, probe, wake := ln.breaker.allow(now)
	if !ok {
		return gate{wake: wake}
	}
	if ln.running >= ln.effectiveCap() {
		return gate{}
	}
	if ln.limiter != nil {
		if tokens := ln.limiter.TokensAt(now); tokens < 1 {
			wait := time.Duration(math.Ceil((1 - tokens) / ln.cfg.rate * float64(time.Second)))
			return gate{wake: now.Add(max(wait, time.Millisecond))}
		}
	}
	return gate{ok: true, probe: probe}
}

// tryResult is what the lane learns from one attempt (one try of the
// quick stage).
type tryResult struct {
	end        time.Time // when the answer came, by the clock: pauses count from it
	duration   time.Duration
	timeout    bool          // no answer within the request timeout
	failed     bool          // a failure for the breaker
	retryAfter time.Duration // from a 429 or 503
}

// attemptReport is what the lane learns from one run of the attempter.
type attemptReport struct {
	tries []tryResult
}

// laneEvents are the transitions a finished attempt caused, for the hooks.
type laneEvents struct {
	opened     bool
	closed     bool
	until      time.Time
	releaseAll bool // the lane is paused: give its queue back
}

// finish takes the report of an attempt that ran in the lane since start.
func (ln *lane) finish(start, now time.Time, probe bool, rep attemptReport, slowAfter time.Duration) laneEvents {
	ln.running--
	if i := slices.Index(ln.starts, start); i >= 0 {
		ln.starts = slices.Delete(ln.starts, i, i+1)
	}
	ln.lastEnd = now
	var ev laneEvents
	for i, tr := range rep.tries {
		if tr.timeout || tr.duration >= slowAfter {
			ln.slow = true
			ln.limit = max(1, ln.limit/2)
		} else {
			ln.slow = false
			ln.proven = true
			ln.limit = min(float64(max(1, ln.cfg.concurrency)), ln.limit+1/ln.limit)
		}
		opened, closed := ln.breaker.record(cmp.Or(tr.end, now), tr.failed, probe && i == 0, tr.retryAfter)
		ev.opened = ev.opened || opened
		ev.closed = ev.closed || closed
	}
	if len(rep.tries) == 0 && probe {
		// No request was sent (the delivery was skipped or could not be
		// rendered): the probe slot is free again.
		ln.breaker.probing = false
	}
	if ev.opened {
		ev.until = ln.breaker.until
	}
	ev.releaseAll = ln.breaker.paused(now)
	return ev
}

// dispatch queues leased deliveries in their lanes and starts what the
// lanes and workers allow.
func (e *deliveryEngine) dispatch(leases []Lease) {
	var release []LeaseRef
	var formed map[string]*batchUnit // batches leased again, by ID
	var order []*batchUnit
	e.mu.Lock()
	now := e.clock.Now()
	for _, l := range leases {
		if _, ok := e.active[l.Delivery.ID]; ok {
			// Our own lease lapsed (an extension failed) and the store
			// handed the delivery back to us: keep the one copy we run or
			// queue, under the new token. (A delivery whose outcome is
			// already with the recorder is not active: leased again, it is
			// due again, and runs.)
			e.held[l.Delivery.ID] = LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token}
			if ln := e.lanes[l.Delivery.EndpointID]; ln != nil {
				for i := range ln.queue {
					if ln.queue[i].Delivery.ID == l.Delivery.ID {
						ln.queue[i].Token = l.Token
					}
				}
				retokenLocked(ln, l.Delivery.ID, l.Token)
			}
			continue
		}
		e.held[l.Delivery.ID] = LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token}
		e.active[l.Delivery.ID] = struct{}{}
		ln := e.laneLocked(l.Delivery.EndpointID, now)
		switch {
		case l.Delivery.BatchID != "":
			// A batch formed before, leased whole: it goes again as it is.
			if formed == nil {
				formed = map[string]*batchUnit{}
			}
			u := formed[l.Delivery.BatchID]
			if u == nil {
				u = &batchUnit{id: l.Delivery.BatchID, formed: true}
				formed[l.Delivery.BatchID] = u
				order = append(order, u)
			}
			u.leases = append(u.leases, l)
		case ln.cfg.batch.Enabled():
			e.gatherLocked(ln, l, now)
		default:
			ln.queue = append(ln.queue, l)
			e.busy[l.Delivery.EndpointID] = ln
		}
	}
	for _, u := range order {
		e.queueUnitLocked(e.lanes[u.leases[0].Delivery.EndpointID], u)
	}
	release = e.pumpLocked(now)
	e.mu.Unlock()
	e.release(release)
}

// laneLocked returns an endpoint's lane, made on first use, with the
// endpoint's current settings.
func (e *deliveryEngine) laneLocked(id string, now time.Time) *lane {
	cfg := e.laneConfig(id)
	ln := e.lanes[id]
	if ln == nil {
		ln = newLane(cfg, e.limits.breaker, now)
		e.lanes[id] = ln
		return ln
	}
	if ln.configure(cfg, now) {
		e.pass.many = true // its cap or rate may let it start more
	}
	return ln
}

// shares counts the attempts running in slow and in unproven lanes, to
// keep them within their shares of the workers.
type shares struct {
	workers, slow, unproven int
}

func (e *deliveryEngine) sharesLocked(now time.Time) shares {
	sh := shares{workers: e.limits.workers}
	for _, ln := range e.busy {
		if ln.running == 0 {
			continue
		}
		switch ln.class(now, e.limits.slowAfter) {
		case classSlow:
			sh.slow += ln.running
		case classUnproven:
			sh.unproven += ln.running
		}
	}
	return sh
}

// allows reports whether a lane of class c may start one more attempt.
func (sh *shares) allows(c laneClass) bool {
	switch c {
	case classSlow:
		return sh.slow < max(1, sh.workers/2) && sh.slow+sh.unproven < max(1, sh.workers*3/4)
	case classUnproven:
		return sh.slow+sh.unproven < max(1, sh.workers*3/4)
	}
	return true
}

// add counts an attempt started in a lane of class c.
func (sh *shares) add(c laneClass) {
	switch c {
	case classSlow:
		sh.slow++
	case classUnproven:
		sh.unproven++
	}
}

// pumpLocked starts queued deliveries while lanes and workers allow, one
// lane at a time in turn, so that no lane's queue takes every free
// worker. It returns the leases of paused lanes, to be given back. It
// notes in e.pass what it found, for runLane's shortcut.
func (e *deliveryEngine) pumpLocked(now time.Time) (release []LeaseRef) {
	if e.stopping {
		return nil
	}
	e.pass = passState{}
	var waiting []string
	for id, ln := range e.busy {
		e.looks++
		if len(ln.queue) == 0 {
			if ln.running == 0 {
				delete(e.busy, id)
			}
			continue
		}
		if ln.breaker.paused(now) {
			release = append(release, takeQueue(e, ln)...)
			continue
		}
		waiting = append(waiting, id)
	}
	if len(waiting) == 0 {
		return release
	}
	sh := e.sharesLocked(now)
	for len(waiting) > 0 {
		kept := waiting[:0]
		for _, id := range waiting {
			e.looks++
			ln := e.busy[id]
			g := ln.allow(now)
			c := ln.class(now, e.limits.slowAfter)
			if !g.ok || !sh.allows(c) {
				e.pass.waitUntil(g.wake)
				continue
			}
			if e.running >= e.limits.workers {
				// It could start, but every worker is taken.
				e.pass.wanted(ln)
				continue
			}
			l := ln.queue[0]
			ln.queue[0] = Lease{}
			ln.queue = ln.queue[1:]
			e.startLocked(ln, l, now, g.probe)
			sh.add(c)
			if len(ln.queue) > 0 {
				kept = append(kept, id)
			}
		}
		waiting = kept
	}
	return release
}

// passState is what the latest pass over the waiting lanes (pumpLocked)
// left undone: the lanes that could have started a delivery had a worker
// been free, and the earliest time at which a lane waiting for time (its
// rate, a pause) may start. Until that time, and while no other lane
// wants a worker, nothing but the end of an attempt in a lane can let that
// lane start more; see nextOwnLocked.
type passState struct {
	wanting  *lane // the one lane that found no worker free; nil: none
	many     bool  // more than one lane found no worker free, or a lane's settings changed
	gateWake time.Time
}

func (p *passState) wanted(ln *lane) {
	if p.wanting != nil && p.wanting != ln {
		p.many = true
	}
	p.wanting = ln
}

func (p *passState) waitUntil(t time.Time) {
	if !t.IsZero() && (p.gateWake.IsZero() || t.Before(p.gateWake)) {
		p.gateWake = t
	}
}

// nextOwnLocked is runLane's shortcut past a pass over every waiting lane
// when an attempt ends in a lane that was and stays proven, and so frees
// a worker and no share: when no other lane wants a worker and none
// waiting for time may start yet, the worker is the lane's own to take
// again, as a pass would give it. It starts the lane's next delivery if
// the lane allows. It reports false when a pass is needed instead, and
// quiet when leasing has nothing new to find: the lane took its worker
// back and still may not be leased for (see plan), so the free workers,
// the shares and the lanes leased for are what they were.
//
// The delivery it starts is returned in next for the caller to run, unless
// it is a batch, which starts in a goroutine of its own.
func (e *deliveryEngine) nextOwnLocked(ln *lane, now time.Time) (ok, quiet bool, next ownStart) {
	p := &e.pass
	if e.stopping || p.many || (p.wanting != nil && p.wanting != ln) ||
		(!p.gateWake.IsZero() && !now.Before(p.gateWake)) ||
		ln.class(now, e.limits.slowAfter) != classProven {
		return false, false, next
	}
	e.looks++
	if len(ln.queue) == 0 {
		return true, false, next
	}
	g := ln.allow(now)
	if !g.ok {
		p.waitUntil(g.wake)
		return true, false, next
	}
	l := ln.queue[0]
	ln.queue[0] = Lease{}
	ln.queue = ln.queue[1:]
	quiet = len(ln.queue) > 0 || ln.running+1 >= ln.effectiveCap()
	if _, batch := ln.units[l.Delivery.ID]; batch {
		e.startLocked(ln, l, now, g.probe)
		return true, quiet, next
	}
	e.beginLocked(ln, now, g.probe)
	lp := new(Lease)
	*lp = l
	return true, quiet, ownStart{lease: lp, start: now, probe: g.probe}
}

// takeQueue empties a lane's queue and returns its leases, no longer
// active. Called with e.mu held.
func takeQueue(e *deliveryEngine, ln *lane) []LeaseRef {
	refs := make([]LeaseRef, 0, len(ln.queue))
	for i := range ln.queue {
		for _, r := range unitRefsLocked(ln, &ln.queue[i]) {
			refs = append(refs, r)
			delete(e.active, r.DeliveryID)
		}
	}
	clear(ln.queue)
	ln.queue = ln.queue[:0]
	return refs
}

// trimQueue keeps the first n leases of a lane's queue and returns the
// others, no longer active. Called with e.mu held.
func trimQueue(e *deliveryEngine, ln *lane, n int) []LeaseRef {
	refs := make([]LeaseRef, 0, len(ln.queue)-n)
	for i := range ln.queue[n:] {
		for _, r := range unitRefsLocked(ln, &ln.queue[n+i]) {
			refs = append(refs, r)
			delete(e.active, r.DeliveryID)
		}
	}
	clear(ln.queue[n:])
	ln.queue = ln.queue[:n]
	return refs
}

// startLocked starts an attempt at l in its lane, in a goroutine of its
// own.
func (e *deliveryEngine) startLocked(ln *lane, l Lease, now time.Time, probe bool) {
	e.beginLocked(ln, now, probe)
	e.goroutines++
	e.wg.Add(1)
	if u, ok := ln.units[l.Delivery.ID]; ok {
		delete(ln.units, l.Delivery.ID)
		go e.runBatch(ln, u, now, probe)
		return
	}
	go e.runLane(ln, l, now, probe)
}

// beginLocked counts an attempt starting at now in its lane and in the
// engine.
func (e *deliveryEngine) beginLocked(ln *lane, now time.Time, probe bool) {
	ln.running++
	ln.starts = append(ln.starts, now)
	ln.breaker.started(probe)
	if ln.limiter != nil {
		ln.limiter.AllowN(now, 1)
	}
	e.running++
}

// ownStart is the lane's next delivery, begun by nextOwnLocked for the
// goroutine whose attempt ended to run in turn: a worker kept, not a
// goroutine started, while a lane takes its own worker back.
type ownStart struct {
	lease *Lease
	start time.Time
	probe bool
}

// runLane attempts l, and then each delivery of the lane that the end of
// the previous attempt let it run in turn.
func (e *deliveryEngine) runLane(ln *lane, l Lease, start time.Time, probe bool) {
	defer e.wg.Done()
	next := ownStart{lease: &l, start: start, probe: probe}
	for next.lease != nil {
		next = e.attemptInLane(ln, next.lease, next.start, next.probe)
	}
}

// attemptInLane attempts l, lets the lane learn from it, and records its
// outcome. It returns the lane's next delivery when it is this
// goroutine's to run (nil lease: none).
func (e *deliveryEngine) attemptInLane(ln *lane, l *Lease, start time.Time, probe bool) (next ownStart) {
	out, rep, release := e.attempt(e.runCtx, l)
	e.mu.Lock()
	// The token under which the delivery is held now: a lapsed lease
	// leased again by this engine carries a new one.
	if h, ok := e.held[out.Lease.DeliveryID]; ok {
		out.Lease.Token = h.Token
	}
	delete(e.active, out.Lease.DeliveryID)
	// The lane learns from the attempt before its outcome is recorded, so
	// that whoever sees the outcome sees the lane paused or opened too.
	now := e.clock.Now()
	proven := ln.class(now, e.limits.slowAfter) == classProven
	ev, toRelease := e.finishLocked(ln, start, now, probe, rep)
	var own, quiet bool
	looks := e.looks
	if proven && !ev.releaseAll {
		own, quiet, next = e.nextOwnLocked(ln, now)
	}
	if !own {
		toRelease = append(toRelease, e.pumpLocked(now)...)
	}
	e.endLooks += e.looks - looks
	if len(toRelease) > 0 && !e.stopping {
		// The loop gives them back, in one store call with those of
		// other lanes that end about now.
		e.releases = append(e.releases, toRelease...)
		toRelease, quiet = nil, false
	}
	e.mu.Unlock()
	if release {
		e.release([]LeaseRef{out.Lease})
	} else {
		e.rec.add(out)
	}
	e.announceCircuit(l.Delivery.EndpointID, ev)
	e.release(toRelease)
	if !quiet || len(toRelease) > 0 {
		e.wake()
	}
	return next
}

// finishLocked ends in ln the attempt that ran since start, reported by
// rep, and returns its transitions and the leases the lane gives back: its
// whole queue when it paused; when it is slow, what it keeps beyond what it
// may run at once. e.mu is held.
func (e *deliveryEngine) finishLocked(ln *lane, start, now time.Time, probe bool, rep attemptReport) (ev laneEvents, toRelease []LeaseRef) {
	ev = ln.finish(start, now, probe, rep, e.limits.slowAfter)
	e.running--
	switch {
	case ev.releaseAll:
		toRelease = takeQueue(e, ln)
	case ln.slow && len(ln.queue) > ln.effectiveCap():
		// A slow lane keeps no more than it may run at once; the rest go
		// back to the store, for another owner or a later lease.
		toRelease = trimQueue(e, ln, ln.effectiveCap())
	}
	return ev, toRelease
}

// announceCircuit logs and reports to the hooks the circuit transitions of
// endpoint id that a finished attempt caused.
func (e *deliveryEngine) announceCircuit(id string, ev laneEvents) {
	if ev.opened {
		e.log.Warn("webhook: circuit opened", "endpoint_id", id, "until", ev.until)
		e.hooks.circuitOpen(id, ev.until)
	}
	if ev.closed {
		e.log.Info("webhook: circuit closed", "endpoint_id", id)
		e.hooks.circuitClose(id)
	}
}

// releasePending gives back the leases that ending attempts left to the
// loop to release.
func (e *deliveryEngine) releasePending() {
	e.mu.Lock()
	refs := e.releases
	e.releases = nil
	e.mu.Unlock()
	e.release(refs)
}

// plan starts what lane queues allow, then returns how many more
// deliveries may start, how many run, how many wait leased ahead (queued
// in lanes that start them as their own slots free: not slow, not waiting
// for a pause or their rate, not held back by the shares), which
// endpoints' lanes must not be leased for (full, paused, waiting for their
// rate, slow or unproven while such lanes hold their share, or holding
// queued leases already), and the earliest time a lane waiting for time
// may start again (zero: none).
func (e *deliveryEngine) plan() (free, running, ahead int, excl []string, wake time.Time) {
	e.mu.Lock()
	now := e.clock.Now()
	wake = e.flushGathersLocked(now)
	release := e.pumpLocked(now)
	sh := e.sharesLocked(now)
	for id, ln := range e.lanes {
		if ln.idle(now) {
			delete(e.lanes, id)
			delete(e.busy, id)
			continue
		}
		if ln.configure(e.laneConfig(id), now) {
			e.pass.many = true
		}
		g := ln.allow(now)
		class := ln.class(now, e.limits.slowAfter)
		if g.wake.IsZero() && class != classSlow && sh.allows(class) {
			ahead += len(ln.queue)
		}
		if !g.wake.IsZero() && (wake.IsZero() || g.wake.Before(wake)) {
			wake = g.wake
		}
		if !g.ok || len(ln.queue) > 0 || !sh.allows(class) {
			excl = append(excl, id)
		}
	}
	free, running = e.limits.workers-e.running, e.running
	e.mu.Unlock()
	e.release(release)
	return free, running, ahead, excl, wake
}

// quickTryAllowed reports whether the lane of an endpoint lets a quick
// retry go at now: its circuit is closed and unpaused, and its rate
// allows one more request, which is then spent.
func (e *deliveryEngine) quickTryAllowed(endpointID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	ln := e.lanes[endpointID]
	if ln == nil {
		return true
	}
	now := e.clock.Now()
	if ln.breaker.paused(now) || ln.breaker.state != circuitClosed {
		return false
	}
	if ln.limiter != nil {
		return ln.limiter.AllowN(now, 1)
	}
	return true
}
