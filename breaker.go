package webhook

import (
	"fmt"
	"time"
)

// BreakerPolicy configures the circuit breaker of every endpoint lane. The
// zero value is the default: on, opening after [BreakerFailuresDefault]
// consecutive failed attempts, pausing [BreakerCooldownDefault] and
// doubling that pause after every failed probe, up to
// [BreakerMaxCooldownDefault].
//
// A failed attempt, for the breaker, is one that got no answer (a network
// error or a timeout) or answered 408, 429 or 5xx; any other answer counts
// as a success, for the endpoint is up. While the circuit is open the
// endpoint's deliveries wait in the store: they are not attempted, and
// they use up none of their retry schedule. When the pause ends, one
// delivery probes the endpoint; its success closes the circuit, its
// failure opens it again for twice as long.
//
// Each Dispatcher keeps its own breakers: with several replicas, each
// opens on the failures it sees itself.
type BreakerPolicy struct {
	// Failures is how many consecutive failed attempts open the circuit.
	// Defaults to [BreakerFailuresDefault] (5).
	Failures int
	// Cooldown is how long an opened circuit waits before the first probe.
	// Defaults to [BreakerCooldownDefault] (30 s).
	Cooldown time.Duration
	// MaxCooldown caps the pause, which doubles after every failed probe.
	// Defaults to [BreakerMaxCooldownDefault] (10 min).
	MaxCooldown time.Duration
	// Disabled turns the circuit breaker off: every delivery is attempted
	// on its schedule however its endpoint fares. A Retry-After answer
	// still pauses the lane.
	Disabled bool
}

// Defaults of [BreakerPolicy].
const (
	BreakerFailuresDefault    = 5
	BreakerCooldownDefault    = 30 * time.Second
	BreakerMaxCooldownDefault = 10 * time.Minute
)

func (p BreakerPolicy) withDefaults() BreakerPolicy {
	if p.Failures == 0 {
		p.Failures = BreakerFailuresDefault
	}
	if p.Cooldown == 0 {
		p.Cooldown = BreakerCooldownDefault
	}
	if p.MaxCooldown == 0 {
		p.MaxCooldown = max(BreakerMaxCooldownDefault, p.Cooldown)
	}
	return p
}

func (p BreakerPolicy) validate() error {
	switch {
	case p.Failures < 0:
		return fmt.Errorf("failures must not be negative")
	case p.Cooldown < 0:
		return fmt.Errorf("cooldown must not be negative")
	case p.MaxCooldown < 0:
		return fmt.Errorf("max cooldown must not be negative")
	case p.MaxCooldown > 0 && p.MaxCooldown < p.Cooldown:
		return fmt.Errorf("max cooldown %v is shorter than cooldown %v", p.MaxCooldown, p.Cooldown)
	}
	return nil
}

// circuitState is where a lane's circuit stands.
type circuitState int

const (
	circuitClosed   circuitState = iota // attempts flow
	circuitOpen                         // no attempt before until
	circuitHalfOpen                     // one probe at a time
)

// breaker is one lane's circuit breaker and Retry-After pause. It is a
// plain state machine over the times it is given; the engine's mutex
// guards it.
type breaker struct {
	policy   BreakerPolicy // with defaults
	state    circuitState
	failures int           // consecutive failed attempts
	until    time.Time     // open: the first probe waits until then
	cooldown time.Duration // the pause of the current opening
	probing  bool          // half-open: the probe is running
	// pausedUntil is set by a Retry-After answer: no attempt before it,
	// whatever the state.
	pausedUntil time.Time
}

// allow reports whether an attempt may start at now, and whether it is a
// probe. When it may not, wake is when it may (zero: when a running
// attempt ends).
func (b *breaker) allow(now time.Time) (ok, probe bool, wake time.Time) {
	if now.Before(b.pausedUntil) {
		return false, false, b.pausedUntil
	}
	switch b.state {
	case circuitOpen:
		if now.Before(b.until) {
			return false, false, b.until
		}
		b.state = circuitHalfOpen
		fallthrough
	case circuitHalfOpen:
		if b.probing {
			return false, false, time.Time{}
		}
		return true, true, time.Time{}
	}
	return true, false, time.Time{}
}

// paused reports whether the lane waits for a time to pass (an open
// circuit or a Retry-After): leased deliveries are then given back.
func (b *breaker) paused(now time.Time) bool {
	return now.Before(b.pausedUntil) || (b.state == circuitOpen && now.Before(b.until))
}

// started notes that an attempt allowed as a probe began.
func (b *breaker) started(probe bool) {
	if probe {
		b.probing = true
	}
}

// record takes the result of an attempt that ended at now: failed for the
// breaker or not, a probe or not, and any Retry-After. It reports whether
// the circuit opened from closed, or closed.
func (b *breaker) record(now time.Time, failed, probe bool, retryAfter time.Duration) (opened, closed bool) {
	if probe {
		b.probing = false
	}
	if retryAfter > 0 {
		if t := now.Add(retryAfter); t.After(b.pausedUntil) {
			b.pausedUntil = t
		}
	}
	if b.policy.Disabled {
		return false, false
	}
	if !failed {
		b.failures = 0
		if b.state == circuitClosed {
			return false, false
		}
		b.state, b.cooldown, b.until = circuitClosed, 0, time.Time{}
		return false, true
	}
	b.failures++
	switch {
	case probe:
		b.cooldown = min(2*b.cooldown, b.policy.MaxCooldown)
		b.state, b.until = circuitOpen, now.Add(b.cooldown)
	case b.state == circuitClosed && b.failures >= b.policy.Failures:
		b.cooldown = b.policy.Cooldown
		b.state, b.until = circuitOpen, now.Add(b.cooldown)
		return true, false
	}
	return false, false
}

// idle reports whether the breaker holds nothing worth keeping.
func (b *breaker) idle(now time.Time) bool {
	return b.state == circuitClosed && b.failures == 0 && !now.Before(b.pausedUntil)
}
