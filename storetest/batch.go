package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook"
)

// leaseAny leases like lease, without the Limit check: a formed batch
// may take a Lease past its Limit.
func leaseAny(t *testing.T, s webhook.Store, owner string, now, until time.Time, limit int) []webhook.Lease {
	t.Helper()
	ls, err := s.Lease(t.Context(), &webhook.LeaseParams{Owner: owner, Now: now, Until: until, Limit: limit})
	require.NoError(t, err)
	for _, l := range ls {
		require.NotEmpty(t, l.Token, "lease without a token")
		require.Equal(t, webhook.StatePending, l.Delivery.State, "leased a delivery that is not pending")
	}
	return ls
}

func formBatch(t *testing.T, s webhook.Store, id string, now, until time.Time, ls ...webhook.Lease) webhook.BatchResult {
	t.Helper()
	refs := make([]webhook.LeaseRef, len(ls))
	for i, l := range ls {
		refs[i] = ref(l)
	}
	res, err := s.(webhook.Batcher).FormBatch(t.Context(), &webhook.FormBatchParams{BatchID: id, Leases: refs, Now: now, Until: until})
	require.NoError(t, err)
	return res
}

// seedBatch enqueues n deliveries to ep_b due at base, leases them for
// owner "a" for 30 s, forms them into batch "batch_1", which extends
// their leases to until, and returns the leases.
func seedBatch(t *testing.T, s webhook.Store, n int, until time.Time) []webhook.Lease {
	t.Helper()
	for i := range n {
		seedOne(t, s, i, "ep_b", base)
	}
	ls := leaseAny(t, s, "a", base, at(30*time.Second), n)
	require.Len(t, ls, n)
	require.Empty(t, formBatch(t, s, "batch_1", base, until, ls...).Stale)
	return ls
}

func batcherCases() []testCase {
	return []testCase{
		{"FormBatch/RecordsMembersAndExtends", func(t *testing.T, s webhook.Store) {
			ls := seedBatch(t, s, 3, at(time.Minute))
			for _, l := range ls {
				require.Equal(t, "batch_1", getDelivery(t, s, l.Delivery.ID).BatchID)
			}
			// FormBatch extended the leases past their first deadline.
			require.Empty(t, leaseAny(t, s, "b", at(45*time.Second), at(time.Hour), 10))
		}},
		{"FormBatch/StaleRefusesWhole", func(t *testing.T, s webhook.Store) {
			seedOne(t, s, 1, "ep_b", base)
			seedOne(t, s, 2, "ep_b", base)
			ls := leaseAny(t, s, "a", base, at(time.Minute), 10)
			require.Len(t, ls, 2)
			release(t, s, base, ref(ls[1]))
			res := formBatch(t, s, "batch_1", base, at(time.Hour), ls...)
			require.Equal(t, []webhook.LeaseRef{ref(ls[1])}, res.Stale)
			for _, l := range ls {
				require.Empty(t, getDelivery(t, s, l.Delivery.ID).BatchID, "a refused batch wrote a member")
			}
			// The held lease was not extended either.
			require.Len(t, leaseAny(t, s, "b", at(2*time.Minute), at(time.Hour), 10), 2)
		}},
		{"Lease/BatchWholeBeyondLimit", func(t *testing.T, s webhook.Store) {
			ls := seedBatch(t, s, 3, at(time.Minute))
			seedOne(t, s, 9, "ep_c", at(2*time.Minute))
			// The leases expired (a crash): the batch comes back whole,
			// past Limit. (Whether it counts once toward Limit, leaving
			// room for the other delivery, is the store's choice.)
			got := leaseAny(t, s, "b", at(3*time.Minute), at(time.Hour), 2)
			require.Subset(t, leaseIDs(got), []string{deliveryID(0), deliveryID(1), deliveryID(2)})
			require.LessOrEqual(t, len(got), 4)
			for _, l := range got {
				if l.Delivery.EndpointID == "ep_b" {
					require.Equal(t, "batch_1", l.Delivery.BatchID)
				}
			}
			// The old tokens are stale.
			res, err := s.Complete(t.Context(), &webhook.CompleteParams{Now: at(4 * time.Minute), Outcomes: []webhook.Outcome{
				{Lease: ref(ls[0]), State: webhook.StateSucceeded, Attempts: []webhook.Attempt{attempt(ls[0].Delivery.ID, 1, at(3*time.Minute), 200)}},
			}})
			require.NoError(t, err)
			require.Equal(t, []webhook.LeaseRef{ref(ls[0])}, res.Stale)
		}},
		{"Lease/BatchLimitOne", func(t *testing.T, s webhook.Store) {
			seedBatch(t, s, 4, at(time.Minute))
			got := leaseAny(t, s, "b", at(2*time.Minute), at(time.Hour), 1)
			require.Len(t, got, 4, "Limit split a batch")
		}},
		{"Lease/LiveMemberHoldsBatch", func(t *testing.T, s webhook.Store) {
			ls := seedBatch(t, s, 3, at(time.Hour))
			// One member comes back early; the others are still held.
			release(t, s, at(time.Minute), ref(ls[0]))
			require.Empty(t, leaseAny(t, s, "b", at(time.Minute), at(2*time.Hour), 10), "a batch was split")
			release(t, s, at(time.Minute), ref(ls[1]), ref(ls[2]))
			require.Len(t, leaseAny(t, s, "b", at(time.Minute), at(2*time.Hour), 10), 3)
		}},
		{"Lease/RetriedBatchWhole", func(t *testing.T, s webhook.Store) {
			ls := seedBatch(t, s, 3, at(time.Minute))
			var outs []webhook.Outcome
			for _, l := range ls {
				outs = append(outs, webhook.Outcome{Lease: ref(l), State: webhook.StatePending, NextAttemptAt: at(5 * time.Minute),
					Attempts: []webhook.Attempt{attempt(l.Delivery.ID, 1, at(time.Minute), 503)}})
			}
			res, err := s.Complete(t.Context(), &webhook.CompleteParams{Now: at(time.Minute), Outcomes: outs})
			require.NoError(t, err)
			require.Empty(t, res.Stale)
			require.Empty(t, leaseAny(t, s, "b", at(4*time.Minute), at(time.Hour), 10))
			got := leaseAny(t, s, "b", at(5*time.Minute), at(time.Hour), 1)
			require.Len(t, got, 3)
			for _, l := range got {
				require.Equal(t, "batch_1", l.Delivery.BatchID)
				require.Equal(t, 1, l.Delivery.Attempts)
			}
		}},
		{"Lease/OwnersRaceForBatch", func(t *testing.T, s webhook.Store) {
			seedBatch(t, s, 5, at(time.Minute))
			var (
				wg   sync.WaitGroup
				mu   sync.Mutex
				gots [][]webhook.Lease
			)
			for _, owner := range []string{"b", "c", "d", "e"} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ls, err := s.Lease(t.Context(), &webhook.LeaseParams{Owner: owner, Now: at(2 * time.Minute), Until: at(time.Hour), Limit: 1})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					gots = append(gots, ls)
					mu.Unlock()
				}()
			}
			wg.Wait()
			total := 0
			for _, g := range gots {
				require.Contains(t, []int{0, 5}, len(g), "a batch was split between owners")
				total += len(g)
			}
			require.LessOrEqual(t, total, 5)
		}},
		{"Redeliver/ClearsBatch", func(t *testing.T, s webhook.Store) {
			ls := seedBatch(t, s, 2, at(time.Minute))
			var outs []webhook.Outcome
			for _, l := range ls {
				outs = append(outs, webhook.Outcome{Lease: ref(l), State: webhook.StateSucceeded,
					Attempts: []webhook.Attempt{attempt(l.Delivery.ID, 1, base, 200)}})
			}
			_, err := s.Complete(t.Context(), &webhook.CompleteParams{Now: base, Outcomes: outs})
			require.NoError(t, err)
			// A finished member keeps the batch it was sent in.
			require.Equal(t, "batch_1", getDelivery(t, s, ls[0].Delivery.ID).BatchID)
			require.NoError(t, s.Redeliver(t.Context(), &webhook.RedeliverParams{DeliveryID: ls[0].Delivery.ID, Now: at(time.Minute)}))
			require.Empty(t, getDelivery(t, s, ls[0].Delivery.ID).BatchID)
			got := leaseAny(t, s, "b", at(time.Minute), at(time.Hour), 10)
			require.Equal(t, []string{ls[0].Delivery.ID}, leaseIDs(got))
			require.Empty(t, got[0].Delivery.BatchID)
		}},
	}
}
