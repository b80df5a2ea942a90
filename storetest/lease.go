package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook"
)

func leaseCases() []testCase {
	return []testCase{
		{"OnlyDue", func(t *testing.T, s webhook.Store) {
			seedOne(t, s, 1, "ep_a", at(-time.Second))
			seedOne(t, s, 2, "ep_a", base) // due exactly at Now
			seedOne(t, s, 3, "ep_a", at(time.Microsecond))
			seedOne(t, s, 4, "ep_a", at(time.Hour))
			ls := lease(t, s, "owner", base, at(time.Minute), 10)
			require.Equal(t, []string{deliveryID(1), deliveryID(2)}, leaseIDs(ls))
			ls = lease(t, s, "owner", at(time.Microsecond), at(time.Minute), 10)
			require.Equal(t, []string{deliveryID(3)}, leaseIDs(ls))
		}},
		{"Empty", func(t *testing.T, s webhook.Store) {
			require.Empty(t, lease(t, s, "owner", base, at(time.Minute), 10))
		}},
		{"RespectsLimit", func(t *testing.T, s webhook.Store) {
			seedMany(t, s, 10, base)
			require.Len(t, lease(t, s, "owner", base, at(time.Minute), 3), 3)
			require.Len(t, lease(t, s, "owner", base, at(time.Minute), 5), 5)
			require.Len(t, lease(t, s, "owner", base, at(time.Minute), 5), 2)
			require.Empty(t, lease(t, s, "owner", base, at(time.Minute), 5))
		}},
		{"EarliestDueFirst", func(t *testing.T, s webhook.Store) {
			// The order between an expired lease and an unleased delivery
			// is left to the store; among unleased deliveries it is by
			// NextAttemptAt.
			dues := []time.Duration{-3 * time.Second, -5 * time.Second, -time.Second, -4 * time.Second, -2 * time.Second}
			for i, d := range dues {
				seedOne(t, s, i, "ep_a", at(d))
			}
			ls := lease(t, s, "owner", base, at(time.Minute), 2)
			require.Len(t, ls, 2)
			require.ElementsMatch(t, []string{deliveryID(1), deliveryID(3)}, leaseIDs(ls))
			ls = lease(t, s, "owner", base, at(time.Minute), 1)
			require.Equal(t, []string{deliveryID(0)}, leaseIDs(ls))
			ls = lease(t, s, "owner", base, at(time.Minute), 1)
			require.Equal(t, []string{deliveryID(4)}, leaseIDs(ls))
		}},
		{"CarriesDeliveryAndEvent", func(t *testing.T, s webhook.Store) {
			ev := newEvent("evt_1")
			d := newDelivery("dlv_1", "evt_1", "ep_a", base)
			enqueue(t, s, item(ev, d))
			l := leaseOne(t, s, "owner", base, at(time.Minute), "dlv_1")
			require.Equal(t, "evt_1", l.Delivery.EventID)
			require.Equal(t, "ep_a", l.Delivery.EndpointID)
			require.Equal(t, 0, l.Delivery.Attempts)
			requireSameInstant(t, d.CreatedAt, l.Delivery.CreatedAt, "CreatedAt")
			// A store may move NextAttemptAt and UpdatedAt while a
			// delivery is leased, so they are not compared here.
			require.Equal(t, normEvent(ev), normEvent(l.Event))
			require.Equal(t, `{"id": "in_1",  "amount":42}`, string(l.Event.Payload))
		}},
		{"ReturnsCopy", func(t *testing.T, s webhook.Store) {
			id := seedOne(t, s, 1, "ep_a", base)
			l := leaseOne(t, s, "a", base, at(time.Minute), id)
			l.Event.Payload[2] = 'X'
			l.Event.Attributes["correlation_id"] = "changed"
			require.Equal(t, normEvent(newEvent(eventID(1))), normEvent(getEvent(t, s, eventID(1))))
		}},
		{"ExcludesEndpoints", func(t *testing.T, s webhook.Store) {
			seedOne(t, s, 1, "ep_a", base)
			seedOne(t, s, 2, "ep_b", base)
			seedOne(t, s, 3, "ep_c", base)
			seedOne(t, s, 4, "ep_a", base)
			ls := lease(t, s, "owner", base, at(time.Minute), 10, "ep_a", "ep_c")
			require.Equal(t, []string{deliveryID(2)}, leaseIDs(ls))
			ls = lease(t, s, "owner", base, at(time.Minute), 10, "ep_a")
			require.Equal(t, []string{deliveryID(3)}, leaseIDs(ls))
			ls = lease(t, s, "owner", base, at(time.Minute), 10)
			require.Equal(t, []string{deliveryID(1), deliveryID(4)}, leaseIDs(ls))
		}},
		{"LimitAppliesAfterExclusion", func(t *testing.T, s webhook.Store) {
			// Excluded deliveries due earlier do not use up the Limit.
			for i := range 5 {
				seedOne(t, s, i, "ep_slow", at(-time.Hour+time.Duration(i)*time.Second))
			}
			seedOne(t, s, 5, "ep_a", at(-time.Minute))
			seedOne(t, s, 6, "ep_b", base)
			ls := lease(t, s, "owner", base, at(time.Minute), 2, "ep_slow")
			require.Equal(t, []string{deliveryID(5), deliveryID(6)}, leaseIDs(ls))
		}},
		{"NotAgainBeforeUntil", func(t *testing.T, s webhook.Store) {
			id := seedOne(t, s, 1, "ep_a", base)
			leaseOne(t, s, "a", base, at(time.Minute), id)
			require.Empty(t, lease(t, s, "a", base, at(time.Minute), 10), "same owner got it twice")
			require.Empty(t, lease(t, s, "b", at(time.Minute-time.Microsecond), at(2*time.Minute), 10), "leased before Until")
		}},
		{"ExpiryReturnsWithNewToken", func(t *testing.T, s webhook.Store) {
			id := seedOne(t, s, 1, "ep_a", base)
			first := leaseOne(t, s, "a", base, at(time.Minute), id)
			// Expired at Now == Until.
			second := leaseOne(t, s, "b", at(time.Minute), at(2*time.Minute), id)
			require.NotEqual(t, first.Token, second.Token)
			third := leaseOne(t, s, "b", at(3*time.Minute), at(4*time.Minute), id)
			require.NotEqual(t, first.Token, third.Token)
			require.NotEqual(t, second.Token, third.Token)
		}},
		{"TokensAreUnique", func(t *testing.T, s webhook.Store) {
			seedMany(t, s, 20, base)
			seen := map[string]bool{}
			for _, l := range lease(t, s, "a", base, at(time.Minute), 20) {
				require.False(t, seen[l.Token], "token reused")
				seen[l.Token] = true
			}
			for _, l := range lease(t, s, "a", at(time.Minute), at(2*time.Minute), 20) {
				require.False(t, seen[l.Token], "token reused")
				seen[l.Token] = true
			}
			require.Len(t, seen, 40)
		}},
		{"ExclusiveBetweenOwners", func(t *testing.T, s webhook.Store) {
			seedMany(t, s, 10, base)
			a := lease(t, s, "a", base, at(time.Minute), 6)
			b := lease(t, s, "b", base, at(time.Minute), 6)
			require.Len(t, a, 6)
			require.Len(t, b, 4)
			got := append(leaseIDs(a), leaseIDs(b)...)
			require.ElementsMatch(t, seedIDs(10), got)
		}},
		{"SkipsFinished", func(t *testing.T, s webhook.Store) {
			for i, st := range []webhook.DeliveryState{webhook.StateSucceeded, webhook.StateFailed, webhook.StateSkipped} {
				id := seedOne(t, s, i, "ep_a", base)
				finish(t, s, id, base, st, 200)
			}
			require.Empty(t, lease(t, s, "a", at(time.Hour), at(2*time.Hour), 10))
		}},
		{"CompletedLeaseNotReturnedAtExpiry", func(t *testing.T, s webhook.Store) {
			id := seedOne(t, s, 1, "ep_a", base)
			l := leaseOne(t, s, "a", base, at(time.Minute), id)
			complete(t, s, base, webhook.Outcome{Lease: ref(l), State: webhook.StateSucceeded,
				Attempts: []webhook.Attempt{attempt(id, 1, base, 200)}})
			require.Empty(t, lease(t, s, "b", at(2*time.Minute), at(3*time.Minute), 10))
		}},
	}
}

func seedIDs(n int) []string {
	ids := make([]string, n)
	for i := range n {
		ids[i] = deliveryID(i)
	}
	return ids
}

func extend(t *testing.T, s webhook.Store, now, until time.Time, refs ...webhook.LeaseRef) webhook.BatchResult {
	t.Helper()
	res, err := s.ExtendLeases(t.Context(), &webhook.ExtendLeasesParams{Leases: refs, Now: now, Until: until})
	require.NoError(t, err)
	return res
}

func extendLeasesCases() []testCase {
	return []testCase{
		{"MovesUntil", func(t *testing.T, s webhook.Store) {
			id := seedOne(t, s, 1, "ep_a", base)
			l := leaseOne(t, s, "a", base, at(time.Minute), id)
			res := extend(t, s, at(30*time.Second), at(5*time.Minute), ref(l))
			require.Empty(t, res.Stale)
			require.Empty(t, lease(t, s, "b", at(2*time.Minute), at(10*time.Minute), 10), "extended lease handed out")
			requireNextDue(t, s, at(2*time.Minute), at(5*time.Minute))
			leaseOne(t, s, "b", at(5*time.Minute), at(10*time.Minute), id)
		}},
		{"CanShorten", func(t *testing.T, s webhook.Store) {
			// The deadline moves to Until, whichever way.
			id := seedOne(t, s, 1, "ep_a", base)
			l := leaseOne(t, s, "a", base, at(time.Hour), id)
			require.Empty(t, extend(t, s, base, at(time.Minute), ref(l)).Stale)
			leaseOne(t, s, "b", at(time.Minute), at(2*time.Hour), id)
		}},
		{"RefusesStaleToken", func(t *testing.T, s webhook.Store) {
			id := seedOne(t, s, 1, "ep_a", base)
			a := leaseOne(t, s, "a", base, at(time.Minute), id)
			b := leaseOne(t, s, "b", at(time.Minute), at(2*time.Minute), id)
			res := extend(t, s, at(time.Minute), at(time.Hour), ref(a))
			require.Equal(t, []webhook.LeaseRef{ref(a)}, res.Stale)
			// b's lease is unchanged: it expires at its own Until.
			requireNextDue(t, s, at(time.Minute), at(2*time.Minute))
			leaseOne(t, s, "c", at(2*time.Minute), at(3*time.Minute), id)
			_ = b
		}},
		{"MixedBatch", func(t *testing.T, s webhook.Store) {
			seedMany(t, s, 3, base)
			ls := lease(t, s, "a", base, at(time.Minute), 3)
			require.Len(t, ls, 3)
			byID := map[string]webhook.Lease{}
			for _, l := range ls {
				byID[l.Delivery.ID] = l
			}
			released := ref(byID[deliveryID(1)])
			require.NoError(t, s.Release(t.Context(), &webhook.ReleaseParams{Leases: []webhook.LeaseRef{released}, Now: at(time.Second)}))
			res := extend(t, s, at(2*time.Second), at(time.Hour),
				ref(byID[deliveryID(0)]), released, ref(byID[deliveryID(2)]))
			require.Equal(t, []webhook.LeaseRef{released}, res.Stale)
			// The released one is leasable; the extended ones are not.
			ls = lease(t, s, "b", at(2*time.Minute), at(3*time.Minute), 10)
			require.Equal(t, []string{deliveryID(1)}, leaseIDs(ls))
		}},
		{"ExpiredButNotReleasedIsStillHeld", func(t *testing.T, s webhook.Store) {
			// A lease is lost only when another owner leased the delivery,
			// or it was released or completed (see ErrLeaseLost); a lease
			// past its Until that nobody took is still held.
			id := seedOne(t, s, 1, "ep_a", base)
			l := leaseOne(t, s, "a", base, at(time.Minute), id)
			require.Empty(t, extend(t, s, at(2*time.Minute), at(3*time.Minute), ref(l)).Stale)
			require.Empty(t, lease(t, s, "b", at(2*time.Minute), at(5*time.Minute), 10))
		}},
		{"UnknownDeliveryIsStale", func(t *testing.T, s webhook.Store) {
			r := webhook.LeaseRef{DeliveryID: "dlv_missing", Token: "nope"}
			res := extend(t, s, base, at(time.Minute), r)
			require.Equal(t, []webhook.LeaseRef{r}, res.Stale)
		}},
	}
}
