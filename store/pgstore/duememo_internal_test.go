package pgstore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDueMemo(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	due := now.Add(time.Minute)
	excl := []string{"ep_a"}

	t.Run("UsedOnceForTheSameRound", func(t *testing.T) {
		t.Parallel()
		var m dueMemo
		m.put(m.begin(), now, excl, &due)
		got, ok := m.take(now, []string{"ep_a"})
		require.True(t, ok)
		require.Equal(t, &due, got)
		_, ok = m.take(now, excl)
		require.False(t, ok, "an answer is used once")
	})
	t.Run("OnlyForTheSameNowAndExclusions", func(t *testing.T) {
		t.Parallel()
		var m dueMemo
		m.put(m.begin(), now, excl, &due)
		_, ok := m.take(now.Add(time.Nanosecond), excl)
		require.False(t, ok)
		_, ok = m.take(now, []string{"ep_b"})
		require.False(t, ok)
		_, ok = m.take(now, nil)
		require.False(t, ok)
	})
	t.Run("AWriteForgetsIt", func(t *testing.T) {
		t.Parallel()
		var m dueMemo
		m.put(m.begin(), now, excl, &due)
		m.clear()
		_, ok := m.take(now, excl)
		require.False(t, ok)
	})
	t.Run("AWriteDuringTheLeaseForgetsIt", func(t *testing.T) {
		t.Parallel()
		var m dueMemo
		gen := m.begin()
		m.clear() // a write ends while the lease runs
		m.put(gen, now, excl, &due)
		_, ok := m.take(now, excl)
		require.False(t, ok)
	})
	t.Run("NoneDue", func(t *testing.T) {
		t.Parallel()
		var m dueMemo
		m.put(m.begin(), now, nil, nil)
		got, ok := m.take(now, nil)
		require.True(t, ok)
		require.Nil(t, got)
	})
}
