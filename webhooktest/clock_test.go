package webhooktest_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/webhooktest"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fired reports whether tm has fired, without waiting.
func fired(tm webhook.Timer) (time.Time, bool) {
	select {
	case at := <-tm.C():
		return at, true
	default:
		return time.Time{}, false
	}
}

func TestClock(t *testing.T) {
	t.Parallel()

	t.Run("MovesOnlyWhenTold", func(t *testing.T) {
		t.Parallel()
		clk := webhooktest.NewClock(t0)
		require.Equal(t, t0, clk.Now())
		clk.Advance(time.Minute)
		require.Equal(t, t0.Add(time.Minute), clk.Now())
		clk.Set(t0.Add(time.Hour))
		require.Equal(t, t0.Add(time.Hour), clk.Now())
		clk.Set(t0)
		require.Equal(t, t0.Add(time.Hour), clk.Now(), "the clock never goes back")
	})

	t.Run("TimersFireWhenDue", func(t *testing.T) {
		t.Parallel()
		clk := webhooktest.NewClock(t0)
		early := clk.NewTimer(time.Second)
		late := clk.NewTimer(time.Minute)
		require.Equal(t, 2, clk.Timers())

		clk.Advance(time.Second - time.Nanosecond)
		_, ok := fired(early)
		require.False(t, ok)

		clk.Advance(time.Nanosecond)
		at, ok := fired(early)
		require.True(t, ok)
		require.Equal(t, t0.Add(time.Second), at)
		_, ok = fired(late)
		require.False(t, ok)
		require.Equal(t, 1, clk.Timers())

		clk.Set(t0.Add(time.Hour))
		at, ok = fired(late)
		require.True(t, ok)
		require.Equal(t, t0.Add(time.Hour), at)
		require.Zero(t, clk.Timers())
		require.False(t, late.Stop(), "a fired timer does not stop")
	})

	t.Run("NonPositiveDurationHasFired", func(t *testing.T) {
		t.Parallel()
		clk := webhooktest.NewClock(t0)
		at, ok := fired(clk.NewTimer(0))
		require.True(t, ok)
		require.Equal(t, t0, at)
		_, ok = fired(clk.NewTimer(-time.Second))
		require.True(t, ok)
		require.Zero(t, clk.Timers())
	})

	t.Run("Stop", func(t *testing.T) {
		t.Parallel()
		clk := webhooktest.NewClock(t0)
		tm := clk.NewTimer(time.Second)
		changed := clk.Changed()
		require.True(t, tm.Stop())
		require.False(t, tm.Stop())
		<-changed // closed by Stop; a hang here fails the test by its deadline
		require.Zero(t, clk.Timers())
		clk.Advance(time.Hour)
		_, ok := fired(tm)
		require.False(t, ok)
	})

	t.Run("WaitForTimers", func(t *testing.T) {
		t.Parallel()
		clk := webhooktest.NewClock(t0)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		armed := make(chan webhook.Timer)
		go func() {
			tm := clk.NewTimer(time.Minute)
			armed <- tm
		}()
		require.NoError(t, clk.WaitForTimers(ctx, 1))
		tm := <-armed
		clk.Advance(time.Minute)
		_, ok := fired(tm)
		require.True(t, ok)
		require.NoError(t, clk.WaitForTimers(ctx, 0))
	})

	t.Run("WaitForTimersEndsWithContext", func(t *testing.T) {
		t.Parallel()
		clk := webhooktest.NewClock(t0)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		require.ErrorIs(t, clk.WaitForTimers(ctx, 1), context.Canceled)
	})
}
