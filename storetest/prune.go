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
		{"NothingToDo", func(t *testing.T, s webhook.Store) {
			require.Equal(t, 0, prune(t, s, at(time.Hour), 10))
		}},
	}
}
