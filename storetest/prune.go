package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook"
)

func redeliver(t *testing.T, s webhook.Store, id string, now time.Time) {
	t.Helper()
	require.NoError(t, s.Redeliver(t.Context(), &webhook.RedeliverParams{DeliveryID: id, Now: now}))
}

func redeliverCases() []testCase {
	return []testCase{
		{"FinishedBecomesPendingAtNow", func(t *testing.T, s webhook.Store) {
			for i, st := range []webhook.DeliveryState{webhook.StateSucceeded, webhook.StateFailed, webhook.StateSkipped} {
				id := seedOne(t, s, i, endpointID(i), base)
				finish(t, s, id, base, st, 500)
				before := allAttempts(t, s, id, 0)
				redeliver(t, s, id, at(time.Hour))
				d := getDelivery(t, s, id)
				require.Equal(t, webhook.StatePending, d.State)
				requireSameInstant(t, at(time.Hour), d.NextAttemptAt, "NextAttemptAt")
				require.Equal(t, 1, d.Attempts, "attempts kept")
				require.Equal(t, before, allAttempts(t, s, id, 0))
				require.Empty(t, lease(t, s, "a", at(time.Hour-time.Microsecond), at(2*time.Hour), 10))
				l := leaseOne(t, s, "a", at(time.Hour), at(2*time.Hour), id)
				// New attempts continue the numbering.
				complete(t, s, at(time.Hour), webhook.Outcome{Lease: ref(l), State: webhook.StateSucceeded,
					Attempts: []webhook.Attempt{attempt(id, 2, at(time.Hour), 200)}})
				got := allAttempts(t, s, id, 0)
				require.Len(t, got, 2)
				require.Equal(t, []int{1, 2}, []int{got[0].Number, got[1].Number})
				require.Equal(t, 2, getDelivery(t, s, id).Attempts, "state %s", st)
			}
		}},
		{"PendingLeftAsIs", func(t *testing.T, s webhook.Store) {
			waiting := seedOne(t, s, 1, "ep_a", at(time.Hour))
			held := seedOne(t, s, 2, "ep_b", base)
			l := leaseOne(t, s, "a", base, at(10*time.Minute), held)
			wantWaiting := getDelivery(t, s, waiting)
			wantHeld := getDelivery(t, s, held)

			redeliver(t, s, waiting, at(time.Minute))
			redeliver(t, s, held, at(time.Minute))
			require.Equal(t, normDelivery(wantWaiting), normDelivery(getDelivery(t, s, waiting)))
			require.Equal(t, normDelivery(wantHeld), normDelivery(getDelivery(t, s, held)))
			// The lease is still held and the waiting one still waits.
			require.Empty(t, lease(t, s, "b", at(time.Minute), at(time.Hour), 10))
			complete(t, s, at(2*time.Minute), webhook.Outcome{Lease: ref(l), State: webhook.StateSucceeded,
				Attempts: []webhook.Attempt{attempt(held, 1, at(time.Minute), 200)}})
		}},
		{"NotFound", func(t *testing.T, s webhook.Store) {
			err := s.Redeliver(t.Context(), &webhook.RedeliverParams{DeliveryID: "dlv_missing", Now: base})
			require.ErrorIs(t, err, webhook.ErrNotFound)
		}},
	}
}

func prune(t *testing.T, s webhook.Store, before time.Time, limit int) int {
	t.Helper()
	n, err := s.Prune(t.Context(), &webhook.PruneParams{Before: before, Limit: limit})
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, 0)
	require.LessOrEqual(t, n, limit, "pruned more than Limit")
	return n
}

func pruneCases() []testCase {
	return []testCase{
		{"DeletesOldFinished", func(t *testing.T, s webhook.Store) {
			// evt 0: one delivery, finished early -> event and delivery go.
			// evt 1: finished early + pending -> only the finished one goes.
			// evt 2: finished at the cut-off -> kept (strictly before).
			// evt 3: pending, created long ago -> kept.
			enqueue(t, s,
				item(newEvent(eventID(0)), newDelivery(deliveryID(0), eventID(0), "ep_a", base)),
				item(newEvent(eventID(1)), newDelivery(deliveryID(1), eventID(1), "ep_a", base),
					newDelivery(deliveryID(2), eventID(1), "ep_b", at(1000*time.Hour))),
				item(newEvent(eventID(2)), newDelivery(deliveryID(3), eventID(2), "ep_a", at(time.Hour))),
				item(newEvent(eventID(3)), newDelivery(deliveryID(4), eventID(3), "ep_c", at(1000*time.Hour))),
			)
			finish(t, s, deliveryID(0), at(time.Minute), webhook.StateSucceeded, 200)
			finish(t, s, deliveryID(1), at(time.Minute), webhook.StateFailed, 500)
			finish(t, s, deliveryID(3), at(time.Hour), webhook.StateSucceeded, 200)

			require.Equal(t, 2, prune(t, s, at(time.Hour), 100))

			requireNoDelivery(t, s, deliveryID(0))
			requireNoDelivery(t, s, deliveryID(1))
			for _, id := range []string{deliveryID(0), deliveryID(1)} {
				_, err := s.ListAttempts(t.Context(), &webhook.ListAttemptsParams{DeliveryID: id})
				require.ErrorIs(t, err, webhook.ErrNotFound, "attempts of a pruned delivery")
			}
			requireNoEvent(t, s, eventID(0))
			getEvent(t, s, eventID(1))
			getDelivery(t, s, deliveryID(2))
			getEvent(t, s, eventID(2))
			getDelivery(t, s, deliveryID(3))
			require.Len(t, allAttempts(t, s, deliveryID(3), 0), 1)
			getEvent(t, s, eventID(3))
			getDelivery(t, s, deliveryID(4))
			require.Equal(t, []string{deliveryID(2), deliveryID(3), deliveryID(4)},
				deliveryIDs(allDeliveries(t, s, webhook.ListDeliveriesParams{})))
		}},
		{"NeverPending", func(t *testing.T, s webhook.Store) {
			id := seedOne(t, s, 1, "ep_a", base)
			l := leaseOne(t, s, "a", base, at(time.Minute), id)
			complete(t, s, base, webhook.Outcome{Lease: ref(l), State: webhook.StatePending, NextAttemptAt: at(1000 * time.Hour),
				Attempts: []webhook.Attempt{attempt(id, 1, base, 503)}})
			require.Equal(t, 0, prune(t, s, at(2000*time.Hour), 10))
			getDelivery(t, s, id)
			getEvent(t, s, eventID(1))
			require.Len(t, allAttempts(t, s, id, 0), 1)
		}},
		{"RespectsLimit", func(t *testing.T, s webhook.Store) {
			const n = 25
			seedMany(t, s, n, base)
			for i := range n {
				finish(t, s, deliveryID(i), at(time.Duration(i)*time.Second), webhook.StateSucceeded, 200)
			}
			seedOne(t, s, n, "ep_a", at(5000*time.Hour)) // pending, survives
			var counts []int
			for {
				c := prune(t, s, at(time.Hour), 10)
				counts = append(counts, c)
				if c < 10 {
					break
				}
				require.Less(t, len(counts), 10, "prune never finished")
			}
			require.Equal(t, []int{10, 10, 5}, counts)
			require.Equal(t, []string{deliveryID(n)}, deliveryIDs(allDeliveries(t, s, webhook.ListDeliveriesParams{})))
			for i := range n {
				requireNoEvent(t, s, eventID(i))
			}
			getEvent(t, s, eventID(n))
		}},
		{"EventsWithoutDeliveries", func(t *testing.T, s webhook.Store) {
			// An event stored with no delivery is pruned once it was
			// stored (EnqueueParams.Now) before Before, even when no
			// delivery is deleted in the same call.
			require.NoError(t, s.Enqueue(t.Context(), &webhook.EnqueueParams{Now: base,
				Items: []webhook.EnqueueItem{item(newEvent("evt_old"))}}))
			require.NoError(t, s.Enqueue(t.Context(), &webhook.EnqueueParams{Now: at(2 * time.Hour),
				Items: []webhook.EnqueueItem{item(newEvent("evt_new"))}}))
			require.Equal(t, 0, prune(t, s, at(time.Hour), 10))
			requireNoEvent(t, s, "evt_old")
			getEvent(t, s, "evt_new")
		}},
		{"FailedKeptLonger", func(t *testing.T, s webhook.Store) {
			// Failed deliveries follow FailedBefore, the others Before,
			// whichever is earlier, and a failure past its own cut-off is
			// pruned in the same call as the others.
			for i, st := range []webhook.DeliveryState{webhook.StateSucceeded, webhook.StateFailed, webhook.StateSkipped, webhook.StateFailed} {
				seedOne(t, s, i, endpointID(i), base)
				finish(t, s, deliveryID(i), at(time.Duration(i+1)*time.Minute), st, 500)
			}
			// Finished at 1, 2, 3 and 4 minutes. A FailedBefore of 2 min
			// keeps both failures (dlv 1 is not strictly before it); one of
			// 3 min then takes dlv 1 only.
			n, err := s.Prune(t.Context(), &webhook.PruneParams{Before: at(time.Hour), FailedBefore: at(2 * time.Minute), Limit: 10})
			require.NoError(t, err)
			require.Equal(t, 2, n)
			require.Equal(t, []string{deliveryID(1), deliveryID(3)}, deliveryIDs(allDeliveries(t, s, webhook.ListDeliveriesParams{})))
			requireNoEvent(t, s, eventID(0))
			getEvent(t, s, eventID(1))

			n, err = s.Prune(t.Context(), &webhook.PruneParams{Before: at(time.Hour), FailedBefore: at(3 * time.Minute), Limit: 10})
			require.NoError(t, err)
			require.Equal(t, 1, n)
			requireNoDelivery(t, s, deliveryID(1))
			requireNoEvent(t, s, eventID(1))
			getDelivery(t, s, deliveryID(3))
		}},
		{"FailedBeforeLaterThanBefore", func(t *testing.T, s webhook.Store) {
			// FailedBefore may also be the later cut-off: failures then go
			// sooner than the others.
			for i, st := range []webhook.DeliveryState{webhook.StateSucceeded, webhook.StateFailed} {
				seedOne(t, s, i, endpointID(i), base)
				finish(t, s, deliveryID(i), at(time.Minute), st, 500)
			}
			n, err := s.Prune(t.Context(), &webhook.PruneParams{Before: at(time.Second), FailedBefore: at(time.Hour), Limit: 10})
			require.NoError(t, err)
			require.Equal(t, 1, n)
			require.Equal(t, []string{deliveryID(0)}, deliveryIDs(allDeliveries(t, s, webhook.ListDeliveriesParams{})))
		}},
		{"FailedBeforeRespectsLimit", func(t *testing.T, s webhook.Store) {
			// Young failures among old successes neither count against
			// Limit nor stop later calls from reaching what lies beyond.
			const n = 12
			seedMany(t, s, n, base)
			for i := range n {
				st := webhook.StateSucceeded
				if i%2 == 0 {
					st = webhook.StateFailed
				}
				finish(t, s, deliveryID(i), at(time.Duration(i+1)*time.Second), st, 200)
			}
			p := &webhook.PruneParams{Before: at(time.Hour), FailedBefore: at(time.Second / 2), Limit: 4}
			var counts []int
			for {
				c, err := s.Prune(t.Context(), p)
				require.NoError(t, err)
				counts = append(counts, c)
				if c < p.Limit {
					break
				}
				require.Less(t, len(counts), 10, "prune never finished")
			}
			require.Equal(t, []int{4, 2}, counts)
			ds := deliveryIDs(allDeliveries(t, s, webhook.ListDeliveriesParams{}))
			require.Len(t, ds, n/2)
			for _, id := range ds {
				require.Equal(t, webhook.StateFailed, getDelivery(t, s, id).State)
			}
		}},
		{"NothingToDo", func(t *testing.T, s webhook.Store) {
			require.Equal(t, 0, prune(t, s, at(time.Hour), 10))
		}},
	}
}
