package webhook

// pausedLanes counts the engine's lanes that hold their deliveries back
// as of now, each under one reason, the first that applies: its circuit is
// open (the breaker's cooldown runs), it waits out a Retry-After, or it is
// slow (see lane) and so held to the slow lanes' share of the workers. It
// takes the engine's mutex once; the metrics call it at each collection,
// never on the hot path.
func (e *deliveryEngine) pausedLanes() (p pausedLanes) {
	now := e.clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ln := range e.lanes {
		b := &ln.breaker
		switch {
		case b.state == circuitOpen && now.Before(b.until):
			p.circuitOpen++
		case now.Before(b.pausedUntil):
			p.retryAfter++
		case ln.class(now, e.limits.slowAfter) == classSlow:
			p.slow++
		}
	}
	return p
}

// pausedLanes is what [deliveryEngine.pausedLanes] counts.
type pausedLanes struct {
	circuitOpen, retryAfter, slow int64
}
