package webhook

// LaneLooksOnEnd reports how many times the engine of d has examined a
// lane, to start queued deliveries, when an attempt ended.
func LaneLooksOnEnd(d *Dispatcher) int {
	d.engine.mu.Lock()
	defer d.engine.mu.Unlock()
	return d.engine.endLooks
}
