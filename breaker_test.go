package webhook

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBreakerStates walks the breaker through its states by the times it
// is given.
func TestBreakerStates(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b := breaker{policy: BreakerPolicy{Failures: 2, Cooldown: 10 * time.Second, MaxCooldown: 25 * time.Second}}
	step := func(now time.Time, failed bool) (opened, closed bool) {
		t.Helper()
		ok, probe, _ := b.allow(now)
		require.True(t, ok)
		b.started(probe)
		return b.record(now, failed, probe, 0)
	}

	opened, _ := step(t0, true)
	require.False(t, opened, "one failure of two")
	_, _ = step(t0, false)
	opened, _ = step(t0, true)
	require.False(t, opened, "a success starts the count anew")
	opened, _ = step(t0, true)
	require.True(t, opened)

	ok, _, wake := b.allow(t0.Add(9 * time.Second))
	require.False(t, ok)
	require.Equal(t, t0.Add(10*time.Second), wake)
	require.True(t, b.paused(t0.Add(9*time.Second)))

	// One probe at a time; a failed one doubles the pause.
	now := t0.Add(10 * time.Second)
	ok, probe, _ := b.allow(now)
	require.True(t, ok)
	require.True(t, probe)
	b.started(probe)
	ok, _, wake = b.allow(now)
	require.False(t, ok, "a second probe")
	require.True(t, wake.IsZero(), "woken when the probe ends")
	opened, _ = b.record(now, true, true, 0)
	require.False(t, opened, "a reopening is not a new opening")
	require.Equal(t, now.Add(20*time.Second), b.until)

	// The pause is capped by MaxCooldown.
	now = now.Add(20 * time.Second)
	ok, probe, _ = b.allow(now)
	require.True(t, ok && probe)
	b.started(probe)
	b.record(now, true, true, 0)
	require.Equal(t, now.Add(25*time.Second), b.until)

	// A successful probe closes the circuit.
	now = now.Add(25 * time.Second)
	ok, probe, _ = b.allow(now)
	require.True(t, ok && probe)
	b.started(probe)
	_, closed := b.record(now, false, true, 0)
	require.True(t, closed)
	require.True(t, b.idle(now))

	// Retry-After pauses whatever the state, even with the breaker off.
	off := breaker{policy: BreakerPolicy{Disabled: true}}
	off.record(now, true, false, time.Minute)
	ok, _, wake = off.allow(now.Add(time.Second))
	require.False(t, ok)
	require.Equal(t, now.Add(time.Minute), wake)
	for range 100 {
		off.record(now, true, false, 0)
	}
	ok, _, _ = off.allow(now.Add(time.Minute))
	require.True(t, ok, "a disabled breaker never opens")
}
