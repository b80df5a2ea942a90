package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook"
)

func completeBatch(t *testing.T, s webhook.Store, now time.Time, os ...webhook.Outcome) webhook.BatchResult {
	t.Helper()
	res, err := s.Complete(t.Context(), &webhook.CompleteParams{Outcomes: os, Now: now})
	require.NoError(t, err)
	return res
}

func completeCases() []testCase {
	return []testCase{
		{"RecordsAttemptsAndSucceeds", func(t *testing.T, s webhook.Store) {
			id := seedOne(t, s, 1, "ep_a", base)
			l := leaseOne(t, s, "a", base, at(time.Minute), id)
			atts := []webhook.Attempt{attempt(id, 1, base, 503), attempt(id, 2, at(time.Second), 200)}
			complete(t, s, at(2*time.Second), webhook.Outcome{Lease: ref(l), Attempts: atts, State: webhook.StateSucceeded})

			d := getDelivery(t, s, id)
			require.Equal(t, webhook.StateSucceeded, d.State)
			require.Equal(t, 2, d.Attempts)
			require.Equal(t, 200, d.LastStatusCode)
			require.Empty(t, d.LastError)
			requireSameInstant(t, at(2*time.Second), d.UpdatedAt, "UpdatedAt")
			requireSameInstant(t, base, d.CreatedAt, "CreatedAt")
			require.Equal(t, normAll(atts, normAttempt), normAll(allAttempts(t, s, id, 0), normAttempt))
		}},
		{"FailedKeepsLastError", func(t *testing.T, s webhook.Store) {
			id := seedOne(t, s, 1, "ep_a", base)
			l := leaseOne(t, s, "a", base, at(time.Minute), id)
			atts := []webhook.Attempt{attempt(id, 1, base, 500), attempt(id, 2, at(time.Second), 0)}
			complete(t, s, at(2*time.Second), webhook.Outcome{Lease: ref(l), Attempts: atts, State: webhook.StateFailed})
			d := getDelivery(t, s, id)
			require.Equal(t, webhook.StateFailed, d.State)
			require.Equal(t, 2, d.Attempts)
			require.Equal(t, 0, d.LastStatusCode)
			require.Equal(t, atts[1].Error, d.LastError)
			got := allAttempts(t, s, id, 0)
			require.Equal(t, normAll(atts, normAttempt), normAll(got, normAttempt))
			require.Equal(t, webhook.ClassConnection, got[1].ErrorClass)
		}},
		{"SkippedWithoutAttempts", func(t *testing.T, s webhook.Store) {
			id := seedOne(t, s, 1, "ep_a", base)
			l := leaseOne(t, s, "a", base, at(time.Minute), id)
			complete(t, s, at(time.Second), webhook.Outcome{Lease: ref(l), State: webhook.StateSkipped})
			d := getDelivery(t, s, id)
			require.Equal(t, webhook.StateSkipped, d.State)
			require.Equal(t, 0, d.Attempts)
			require.Empty(t, allAttempts(t, s, id, 0))
		}},
		{"PendingRetriesAtNextAttemptAt", func(t *testing.T, s webhook.Store) {
			id := seedOne(t, s, 1, "ep_a", base)
			l := leaseOne(t, s, "a", base, at(time.Hour), id)
			complete(t, s, at(time.Second), webhook.Outcome{Lease: ref(l), State: webhook.StatePending,
				NextAttemptAt: at(5 * time.Minute), Attempts: []webhook.Attempt{attempt(id, 1, base, 503)}})
			d := getDelivery(t, s, id)
			require.Equal(t, webhook.StatePending, d.State)
			requireSameInstant(t, at(5*time.Minute), d.NextAttemptAt, "NextAttemptAt")
			require.Equal(t, 1, d.Attempts)
			require.Equal(t, 503, d.LastStatusCode)
			require.Equal(t, "status 503", d.LastError)
			// Completing ends the lease: the delivery is due at its
			// NextAttemptAt although the old lease ran for an hour.
			require.Empty(t, lease(t, s, "b", at(5*time.Minute-time.Microsecond), at(time.Hour), 10))
			l2 := leaseOne(t, s, "b", at(5*time.Minute), at(6*time.Minute), id)
			require.Equal(t, 1, l2.Delivery.Attempts)
		}},
		{"NumbersContinueAcrossLeases", func(t *testing.T, s webhook.Store) {
			id := seedOne(t, s, 1, "ep_a", base)
			var want []webhook.Attempt
			now := base
			for n := 1; n <= 3; n++ {
				l := leaseOne(t, s, "a", now, now.Add(time.Minute), id)
				require.Equal(t, n-1, l.Delivery.Attempts)
				a := attempt(id, l.Delivery.Attempts+1, now, 500+n)
				want = append(want, a)
				state := webhook.StatePending
				if n == 3 {
					state = webhook.StateFailed
				}
				complete(t, s, now.Add(time.Second), webhook.Outcome{Lease: ref(l), Attempts: []webhook.Attempt{a},
					State: state, NextAttemptAt: now.Add(10 * time.Second)})
				now = now.Add(10 * time.Second)
			}
			d := getDelivery(t, s, id)
			require.Equal(t, 3, d.Attempts)
			require.Equal(t, 503, d.LastStatusCode)
			require.Equal(t, normAll(want, normAttempt), normAll(allAttempts(t, s, id, 0), normAttempt))
		}},
		{"RefusesStaleToken", func(t *testing.T, s webhook.Store) {
			seedMany(t, s, 2, base)
			ls := lease(t, s, "a", base, at(time.Minute), 2)
			require.Len(t, ls, 2)
			byID := map[string]webhook.Lease{ls[0].Delivery.ID: ls[0], ls[1].Delivery.ID: ls[1]}
			lost, kept := byID[deliveryID(0)], byID[deliveryID(1)]
			// lost's lease expires and b takes the delivery.
			require.Empty(t, extend(t, s, base, at(time.Hour), ref(kept)).Stale)
			b := leaseOne(t, s, "b", at(time.Minute), at(2*time.Minute), deliveryID(0))

			res := completeBatch(t, s, at(90*time.Second),
				webhook.Outcome{Lease: ref(lost), State: webhook.StateSucceeded,
					Attempts: []webhook.Attempt{attempt(deliveryID(0), 1, base, 200)}},
				webhook.Outcome{Lease: ref(kept), State: webhook.StateSucceeded,
					Attempts: []webhook.Attempt{attempt(deliveryID(1), 1, base, 200)}},
			)
			require.Equal(t, []webhook.LeaseRef{ref(lost)}, res.Stale)

			// Nothing of the stale outcome was written.
			d0 := getDelivery(t, s, deliveryID(0))
			require.Equal(t, webhook.StatePending, d0.State)
			require.Equal(t, 0, d0.Attempts)
			require.Empty(t, allAttempts(t, s, deliveryID(0), 0))
			// The other outcome was.
			d1 := getDelivery(t, s, deliveryID(1))
			require.Equal(t, webhook.StateSucceeded, d1.State)
			require.Len(t, allAttempts(t, s, deliveryID(1), 0), 1)
			// b still holds its lease and can complete.
			complete(t, s, at(100*time.Second), webhook.Outcome{Lease: ref(b), State: webhook.StateFailed,
				Attempts: []webhook.Attempt{attempt(deliveryID(0), 1, at(95*time.Second), 0)}})
			require.Equal(t, webhook.StateFailed, getDelivery(t, s, deliveryID(0)).State)
		}},
		{"RefusesSecondComplete", func(t *testing.T, s webhook.Store) {
			id := seedOne(t, s, 1, "ep_a", base)
			l := leaseOne(t, s, "a", base, at(time.Minute), id)
			o := webhook.Outcome{Lease: ref(l), State: webhook.StatePending, NextAttemptAt: at(time.Hour),
				Attempts: []webhook.Attempt{attempt(id, 1, base, 503)}}
			complete(t, s, at(time.Second), o)
			res := completeBatch(t, s, at(2*time.Second), o)
			require.Equal(t, []webhook.LeaseRef{ref(l)}, res.Stale)
			require.Equal(t, 1, getDelivery(t, s, id).Attempts)
			require.Len(t, allAttempts(t, s, id, 0), 1)
		}},
		{"RefusesReleasedToken", func(t *testing.T, s webhook.Store) {
			id := seedOne(t, s, 1, "ep_a", base)
			l := leaseOne(t, s, "a", base, at(time.Minute), id)
			release(t, s, at(time.Second), ref(l))
			res := completeBatch(t, s, at(2*time.Second), webhook.Outcome{Lease: ref(l), State: webhook.StateSucceeded,
				Attempts: []webhook.Attempt{attempt(id, 1, base, 200)}})
			require.Equal(t, []webhook.LeaseRef{ref(l)}, res.Stale)
			require.Equal(t, webhook.StatePending, getDelivery(t, s, id).State)
		}},
		{"UnknownDeliveryIsStale", func(t *testing.T, s webhook.Store) {
			// A batch answers per item: an outcome for a delivery the
			// store does not hold is refused like a stale one, not an
			// error for the whole batch.
			r := webhook.LeaseRef{DeliveryID: "dlv_missing", Token: "nope"}
			res := completeBatch(t, s, base, webhook.Outcome{Lease: r, State: webhook.StateSucceeded})
			require.Equal(t, []webhook.LeaseRef{r}, res.Stale)
		}},
		{"AcceptsExpiredButNotReleased", func(t *testing.T, s webhook.Store) {
			// See ExtendLeases/ExpiredButNotReleasedIsStillHeld.
			id := seedOne(t, s, 1, "ep_a", base)
			l := leaseOne(t, s, "a", base, at(time.Minute), id)
			complete(t, s, at(5*time.Minute), webhook.Outcome{Lease: ref(l), State: webhook.StateSucceeded,
				Attempts: []webhook.Attempt{attempt(id, 1, base, 200)}})
			require.Equal(t, webhook.StateSucceeded, getDelivery(t, s, id).State)
		}},
		{"ManyOutcomesInOneBatch", func(t *testing.T, s webhook.Store) {
			const n = 100
			seedMany(t, s, n, base)
			ls := lease(t, s, "a", base, at(time.Minute), n)
			require.Len(t, ls, n)
			os := make([]webhook.Outcome, n)
			for i, l := range ls {
				os[i] = webhook.Outcome{Lease: ref(l), State: webhook.StateSucceeded,
					Attempts: []webhook.Attempt{attempt(l.Delivery.ID, 1, base, 200)}}
			}
			require.Empty(t, completeBatch(t, s, at(time.Second), os...).Stale)
			ds := allDeliveries(t, s, webhook.ListDeliveriesParams{State: webhook.StateSucceeded})
			require.Len(t, ds, n)
			requireNothingDue(t, s, at(time.Second))
		}},
		{"CopiesInput", func(t *testing.T, s webhook.Store) {
			id := seedOne(t, s, 1, "ep_a", base)
			l := leaseOne(t, s, "a", base, at(time.Minute), id)
			a := attempt(id, 1, base, 500)
			want := normAttempt(attempt(id, 1, base, 500))
			atts := []webhook.Attempt{a}
			complete(t, s, at(time.Second), webhook.Outcome{Lease: ref(l), Attempts: atts, State: webhook.StateFailed})
			atts[0].ResponseBody[0] = 'X'
			atts[0].Error = "changed"
			got := allAttempts(t, s, id, 0)
			require.Equal(t, []webhook.Attempt{want}, normAll(got, normAttempt))
			got[0].ResponseBody[0] = 'Y'
			require.Equal(t, []webhook.Attempt{want}, normAll(allAttempts(t, s, id, 0), normAttempt))
		}},
	}
}
