package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook"
)

// tryLock calls TryLock on s, a [webhook.Locker], for lock name.
func tryLock(t *testing.T, s webhook.Store, name, owner string, now, until time.Time) bool {
	t.Helper()
	ok, err := s.(webhook.Locker).TryLock(t.Context(), &webhook.TryLockParams{Name: name, Owner: owner, Now: now, Until: until})
	require.NoError(t, err)
	return ok
}

func unlock(t *testing.T, s webhook.Store, name, owner string) {
	t.Helper()
	require.NoError(t, s.(webhook.Locker).Unlock(t.Context(), &webhook.UnlockParams{Name: name, Owner: owner}))
}

// lockerCases are the cases of a [webhook.Locker]; peerLockerCases run
// when it is also a [PeerOpener].
func lockerCases(probe webhook.Store) []testCase {
	cs := []testCase{
		{"OneOwnerAtATime", func(t *testing.T, s webhook.Store) {
			require.True(t, tryLock(t, s, "x", "a", base, at(time.Minute)))
			require.False(t, tryLock(t, s, "x", "b", base, at(time.Hour)))
			require.False(t, tryLock(t, s, "x", "b", at(time.Minute-time.Microsecond), at(time.Hour)))
		}},
		{"RenewMovesUntil", func(t *testing.T, s webhook.Store) {
			require.True(t, tryLock(t, s, "x", "a", base, at(time.Minute)))
			require.True(t, tryLock(t, s, "x", "a", at(30*time.Second), at(2*time.Minute)))
			require.False(t, tryLock(t, s, "x", "b", at(time.Minute), at(time.Hour)), "renewed until 2m")
			require.True(t, tryLock(t, s, "x", "b", at(2*time.Minute), at(time.Hour)))
		}},
		{"ExpiredIsTakenOver", func(t *testing.T, s webhook.Store) {
			// A lock whose Until is at or before Now is free; its former
			// owner has lost it.
			require.True(t, tryLock(t, s, "x", "a", base, at(time.Minute)))
			require.True(t, tryLock(t, s, "x", "b", at(time.Minute), at(2*time.Minute)))
			require.False(t, tryLock(t, s, "x", "a", at(time.Minute), at(3*time.Minute)))
			unlock(t, s, "x", "a") // not the holder: nothing happens
			require.False(t, tryLock(t, s, "x", "c", at(time.Minute), at(3*time.Minute)))
		}},
		{"UnlockFrees", func(t *testing.T, s webhook.Store) {
			unlock(t, s, "x", "a") // never taken: nil
			require.True(t, tryLock(t, s, "x", "a", base, at(time.Hour)))
			unlock(t, s, "x", "b")
			require.False(t, tryLock(t, s, "x", "b", base, at(time.Hour)))
			unlock(t, s, "x", "a")
			require.True(t, tryLock(t, s, "x", "b", base, at(time.Hour)))
		}},
		{"NamesAreIndependent", func(t *testing.T, s webhook.Store) {
			require.True(t, tryLock(t, s, "x", "a", base, at(time.Hour)))
			require.True(t, tryLock(t, s, "y", "b", base, at(time.Hour)))
			unlock(t, s, "x", "a")
			require.False(t, tryLock(t, s, "y", "a", base, at(time.Hour)))
		}},
		{"ConcurrentOneWins", func(t *testing.T, s webhook.Store) {
			requireOneWinner(t, func(int) webhook.Store { return s })
		}},
		{"CancelledContext", func(t *testing.T, s webhook.Store) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			l := s.(webhook.Locker)
			_, err := l.TryLock(ctx, &webhook.TryLockParams{Name: "x", Owner: "a", Now: base, Until: at(time.Hour)})
			require.ErrorIs(t, err, context.Canceled)
			require.ErrorIs(t, l.Unlock(ctx, &webhook.UnlockParams{Name: "x", Owner: "a"}), context.Canceled)
			require.True(t, tryLock(t, s, "x", "b", base, at(time.Hour)), "the cancelled TryLock took nothing")
		}},
	}
	if _, ok := probe.(closer); ok {
		cs = append(cs, testCase{"ClosedReturnsErrClosed", func(t *testing.T, s webhook.Store) {
			require.NoError(t, s.(closer).Close())
			l := s.(webhook.Locker)
			_, err := l.TryLock(t.Context(), &webhook.TryLockParams{Name: "x", Owner: "a", Now: base, Until: at(time.Hour)})
			require.ErrorIs(t, err, webhook.ErrClosed)
			require.ErrorIs(t, l.Unlock(t.Context(), &webhook.UnlockParams{Name: "x", Owner: "a"}), webhook.ErrClosed)
		}})
	}
	if _, ok := probe.(PeerOpener); ok {
		cs = append(cs, testCase{"ExclusiveAcrossPeers", func(t *testing.T, s webhook.Store) {
			peer := s.(PeerOpener).OpenPeer(t)
			require.True(t, tryLock(t, s, "x", "a", base, at(time.Minute)))
			require.False(t, tryLock(t, peer, "x", "b", base, at(time.Hour)))
			require.True(t, tryLock(t, peer, "x", "b", at(time.Minute), at(time.Hour)), "expired")
			require.False(t, tryLock(t, s, "x", "a", at(time.Minute), at(time.Hour)))
			unlock(t, peer, "x", "b")
			require.True(t, tryLock(t, s, "x", "a", at(time.Minute), at(time.Hour)))
			peers := []webhook.Store{s, peer}
			requireOneWinner(t, func(i int) webhook.Store { return peers[i%2] })
		}})
	}
	return cs
}

// requireOneWinner has 8 owners try a fresh lock at the same instant, on
// the stores storeOf gives them, and checks that exactly one took it.
func requireOneWinner(t *testing.T, storeOf func(i int) webhook.Store) {
	t.Helper()
	const owners = 8
	var (
		wg  sync.WaitGroup
		won = make([]bool, owners)
		err = make([]error, owners)
	)
	for i := range owners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			won[i], err[i] = storeOf(i).(webhook.Locker).TryLock(t.Context(), &webhook.TryLockParams{
				Name: "race", Owner: fmt.Sprintf("owner_%d", i), Now: base, Until: at(time.Hour)})
		}()
	}
	wg.Wait()
	n := 0
	for i := range owners {
		require.NoError(t, err[i])
		if won[i] {
			n++
		}
	}
	require.Equal(t, 1, n)
}
