package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook"
)

func release(t *testing.T, s webhook.Store, now time.Time, refs ...webhook.LeaseRef) {
	t.Helper()
	require.NoError(t, s.Release(t.Context(), &webhook.ReleaseParams{Leases: refs, Now: now}))
}

func requireNextDue(t *testing.T, s webhook.Store, now, want time.Time, exclude ...string) {
	t.Helper()
	got, ok, err := s.NextDue(t.Context(), &webhook.NextDueParams{Now: now, ExcludeEndpoints: exclude})
	require.NoError(t, err)
	require.True(t, ok, "NextDue found nothing pending")
	requireSameInstant(t, want, got, "NextDue")
}

func requireNothingDue(t *testing.T, s webhook.Store, now time.Time, exclude ...string) {
	t.Helper()
	_, ok, err := s.NextDue(t.Context(), &webhook.NextDueParams{Now: now, ExcludeEndpoints: exclude})
	require.NoError(t, err)
	require.False(t, ok, "NextDue reported a due delivery")
}

func releaseCases() []testCase {
	return []testCase{
		{"DueAtNowForAnyone", func(t *testing.T, s webhook.Store) {
			id := seedOne(t, s, 1, "ep_a", base)
			l := leaseOne(t, s, "a", base, at(time.Hour), id)
			release(t, s, at(time.Minute), ref(l))
			d := getDelivery(t, s, id)
			require.Equal(t, webhook.StatePending, d.State)
			requireSameInstant(t, at(time.Minute), d.NextAttemptAt, "NextAttemptAt after release")
			require.Equal(t, 0, d.Attempts, "release recorded an attempt")
			requireNextDue(t, s, at(time.Minute), at(time.Minute))
			b := leaseOne(t, s, "b", at(time.Minute), at(2*time.Minute), id)
			require.NotEqual(t, l.Token, b.Token)
			require.Empty(t, allAttempts(t, s, id, 0))
		}},
		{"IgnoresStaleToken", func(t *testing.T, s webhook.Store) {
			id := seedOne(t, s, 1, "ep_a", base)
			a := leaseOne(t, s, "a", base, at(time.Minute), id)
			b := leaseOne(t, s, "b", at(time.Minute), at(time.Hour), id)
			release(t, s, at(2*time.Minute), ref(a))
			// b still holds it.
			require.Empty(t, lease(t, s, "c", at(2*time.Minute), at(3*time.Minute), 10))
			complete(t, s, at(3*time.Minute), webhook.Outcome{Lease: ref(b), State: webhook.StateSucceeded,
				Attempts: []webhook.Attempt{attempt(id, 1, at(3*time.Minute), 200)}})
			// A stale release does not revive a finished delivery.
			release(t, s, at(4*time.Minute), ref(a), ref(b))
			require.Equal(t, webhook.StateSucceeded, getDelivery(t, s, id).State)
			requireNothingDue(t, s, at(4*time.Minute))
		}},
		{"UnknownIgnored", func(t *testing.T, s webhook.Store) {
			release(t, s, base, webhook.LeaseRef{DeliveryID: "dlv_missing", Token: "nope"})
		}},
		{"Batch", func(t *testing.T, s webhook.Store) {
			seedMany(t, s, 5, base)
			ls := lease(t, s, "a", base, at(time.Hour), 5)
			require.Len(t, ls, 5)
			refs := make([]webhook.LeaseRef, 0, 3)
			for _, l := range ls[:3] {
				refs = append(refs, ref(l))
			}
			release(t, s, at(time.Second), refs...)
			got := lease(t, s, "b", at(time.Second), at(time.Hour), 10)
			require.ElementsMatch(t, leaseIDs(ls[:3]), leaseIDs(got))
		}},
	}
}

func nextDueCases() []testCase {
	return []testCase{
		{"EmptyStore", func(t *testing.T, s webhook.Store) {
			requireNothingDue(t, s, base)
		}},
		{"NoneWhenAllFinished", func(t *testing.T, s webhook.Store) {
			id := seedOne(t, s, 1, "ep_a", base)
			finish(t, s, id, base, webhook.StateFailed, 500)
			requireNothingDue(t, s, base)
		}},
		{"EarliestNextAttemptAt", func(t *testing.T, s webhook.Store) {
			seedOne(t, s, 1, "ep_a", at(time.Hour))
			seedOne(t, s, 2, "ep_a", at(10*time.Minute))
			seedOne(t, s, 3, "ep_a", at(30*time.Minute))
			requireNextDue(t, s, base, at(10*time.Minute))
		}},
		{"MayBeInThePast", func(t *testing.T, s webhook.Store) {
			seedOne(t, s, 1, "ep_a", at(-time.Hour))
			requireNextDue(t, s, base, at(-time.Hour))
		}},
		{"LeasedCountAtUntil", func(t *testing.T, s webhook.Store) {
			id := seedOne(t, s, 1, "ep_a", base)
			seedOne(t, s, 2, "ep_a", at(5*time.Minute))
			leaseOne(t, s, "a", base, at(time.Minute), id)
			requireNextDue(t, s, base, at(time.Minute))
			leaseOne(t, s, "a", at(time.Minute), at(10*time.Minute), id)
			requireNextDue(t, s, at(time.Minute), at(5*time.Minute))
		}},
		{"HonoursExcludeEndpoints", func(t *testing.T, s webhook.Store) {
			seedOne(t, s, 1, "ep_a", at(time.Minute))
			seedOne(t, s, 2, "ep_b", at(2*time.Minute))
			seedOne(t, s, 3, "ep_c", at(3*time.Minute))
			requireNextDue(t, s, base, at(time.Minute))
			requireNextDue(t, s, base, at(2*time.Minute), "ep_a")
			requireNextDue(t, s, base, at(3*time.Minute), "ep_a", "ep_b")
			// Everything pending is excluded: Lease could never return a
			// delivery, so there is no instant to report.
			requireNothingDue(t, s, base, "ep_a", "ep_b", "ep_c")
		}},
		{"AfterCompletePending", func(t *testing.T, s webhook.Store) {
			id := seedOne(t, s, 1, "ep_a", base)
			l := leaseOne(t, s, "a", base, at(time.Hour), id)
			complete(t, s, at(time.Second), webhook.Outcome{Lease: ref(l), State: webhook.StatePending,
				NextAttemptAt: at(5 * time.Second), Attempts: []webhook.Attempt{attempt(id, 1, base, 503)}})
			requireNextDue(t, s, at(time.Second), at(5*time.Second))
		}},
	}
}
