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

// orderedDelivery is the suite's delivery to an ordered endpoint, in the
// sequence named by key.
func orderedDelivery(id, evID, epID, key string, due time.Time) webhook.Delivery {
	d := newDelivery(id, evID, epID, due)
	d.OrderingKey, d.Ordered = key, true
	return d
}

// seedOrdered enqueues, in one call of its own, event i with one ordered
// delivery to epID in the sequence key, due at due, and returns the
// delivery's ID.
func seedOrdered(t *testing.T, s webhook.Store, i int, epID, key string, due time.Time) string {
	t.Helper()
	enqueue(t, s, item(newEvent(eventID(i)), orderedDelivery(deliveryID(i), eventID(i), epID, key, due)))
	return deliveryID(i)
}

// succeed completes a held lease as succeeded, with one attempt, at now.
func succeed(t *testing.T, s webhook.Store, l webhook.Lease, now time.Time) {
	t.Helper()
	completeAs(t, s, l, now, webhook.StateSucceeded)
}

// completeAs completes a held lease with one attempt and the given state.
func completeAs(t *testing.T, s webhook.Store, l webhook.Lease, now time.Time, state webhook.DeliveryState) {
	t.Helper()
	status := 200
	if state != webhook.StateSucceeded {
		status = 500
	}
	complete(t, s, now, webhook.Outcome{Lease: ref(l), State: state,
		Attempts: []webhook.Attempt{attempt(l.Delivery.ID, l.Delivery.Attempts+1, now, status)}})
}

// orderingCases prove that Lease hands out only the head of each ordered
// sequence (see [webhook.Store.Lease]).
func orderingCases() []testCase {
	return []testCase{
		{"KeepsKeyAndMode", func(t *testing.T, s webhook.Store) {
			d := orderedDelivery("dlv_1", "evt_1", "ep_a", "customer_42", base)
			enqueue(t, s, item(newEvent("evt_1"), d))
			require.Equal(t, normDelivery(d), normDelivery(getDelivery(t, s, "dlv_1")))
			l := leaseOne(t, s, "a", base, at(time.Minute), "dlv_1")
			require.Equal(t, "customer_42", l.Delivery.OrderingKey)
			require.True(t, l.Delivery.Ordered)
			ds := allDeliveries(t, s, webhook.ListDeliveriesParams{EndpointID: "ep_a"})
			require.Len(t, ds, 1)
			require.Equal(t, "customer_42", ds[0].OrderingKey)
			require.True(t, ds[0].Ordered)
		}},
		{"HeadsOnly", func(t *testing.T, s webhook.Store) {
			first := seedOrdered(t, s, 1, "ep_a", "k", base)
			seedOrdered(t, s, 2, "ep_a", "k", base)
			seedOrdered(t, s, 3, "ep_a", "k", base)
			leaseOne(t, s, "a", base, at(time.Minute), first)
			require.Empty(t, lease(t, s, "b", base, at(time.Minute), 10))
		}},
		{"EnqueueOrderNotDueOrID", func(t *testing.T, s webhook.Store) {
			// Sequence order is enqueue order: neither an earlier
			// NextAttemptAt nor a smaller ID lets a later delivery pass.
			enqueue(t, s, item(newEvent("evt_1"), orderedDelivery("dlv_9", "evt_1", "ep_a", "k", base)))
			enqueue(t, s, item(newEvent("evt_2"), orderedDelivery("dlv_1", "evt_2", "ep_a", "k", at(-time.Hour))))
			l := leaseOne(t, s, "a", base, at(time.Minute), "dlv_9")
			succeed(t, s, l, base)
			leaseOne(t, s, "a", base, at(time.Minute), "dlv_1")
		}},
		{"BatchInSliceOrder", func(t *testing.T, s webhook.Store) {
			// Within one Enqueue call, items are in slice order.
			ids := []string{"dlv_c", "dlv_a", "dlv_d", "dlv_b"}
			items := make([]webhook.EnqueueItem, len(ids))
			for i, id := range ids {
				items[i] = item(newEvent(eventID(i)), orderedDelivery(id, eventID(i), "ep_a", "k", base))
			}
			enqueue(t, s, items...)
			for _, id := range ids {
				l := leaseOne(t, s, "a", base, at(time.Minute), id)
				succeed(t, s, l, base)
			}
			requireNothingDue(t, s, farFuture)
		}},
		{"NextAfterFinished", func(t *testing.T, s webhook.Store) {
			// A head that ends succeeded, failed for good or skipped lets
			// the next one of its sequence go.
			for i, state := range []webhook.DeliveryState{webhook.StateSucceeded, webhook.StateFailed, webhook.StateSkipped} {
				key := string(state)
				head := seedOrdered(t, s, 10*i, "ep_a", key, base)
				next := seedOrdered(t, s, 10*i+1, "ep_a", key, base)
				seedOrdered(t, s, 10*i+2, "ep_a", key, base)
				l := leaseOne(t, s, "a", base, at(time.Minute), head)
				completeAs(t, s, l, base, state)
				leaseOne(t, s, "a", base, at(time.Minute), next)
			}
		}},
		{"NotWhileHeadLeased", func(t *testing.T, s webhook.Store) {
			head := seedOrdered(t, s, 1, "ep_a", "k", base)
			seedOrdered(t, s, 2, "ep_a", "k", base)
			leaseOne(t, s, "a", base, at(time.Minute), head)
			require.Empty(t, lease(t, s, "b", at(time.Minute-time.Microsecond), at(time.Hour), 10))
			requireNextDue(t, s, base, at(time.Minute))
		}},
		{"RetryKeepsHead", func(t *testing.T, s webhook.Store) {
			// A head left pending for a retry holds back its sequence
			// until the retry, and is the one leased then.
			head := seedOrdered(t, s, 1, "ep_a", "k", base)
			next := seedOrdered(t, s, 2, "ep_a", "k", base)
			l := leaseOne(t, s, "a", base, at(time.Minute), head)
			complete(t, s, base, webhook.Outcome{Lease: ref(l), State: webhook.StatePending, NextAttemptAt: at(time.Hour),
				Attempts: []webhook.Attempt{attempt(head, 1, base, 503)}})
			require.Empty(t, lease(t, s, "a", at(time.Minute), at(2*time.Minute), 10))
			requireNextDue(t, s, at(time.Minute), at(time.Hour))
			l = leaseOne(t, s, "a", at(time.Hour), at(2*time.Hour), head)
			succeed(t, s, l, at(time.Hour))
			leaseOne(t, s, "a", at(time.Hour), at(2*time.Hour), next)
		}},
		{"ExpiryHandsHeadAgain", func(t *testing.T, s webhook.Store) {
			head := seedOrdered(t, s, 1, "ep_a", "k", base)
			next := seedOrdered(t, s, 2, "ep_a", "k", base)
			first := leaseOne(t, s, "dead", base, at(time.Minute), head)
			second := leaseOne(t, s, "b", at(time.Minute), at(2*time.Minute), head)
			require.NotEqual(t, first.Token, second.Token)
			res := completeBatch(t, s, at(time.Minute), webhook.Outcome{Lease: ref(first), State: webhook.StateSucceeded,
				Attempts: []webhook.Attempt{attempt(head, 1, base, 200)}})
			require.Len(t, res.Stale, 1, "the lapsed owner's outcome must be refused")
			require.Empty(t, lease(t, s, "c", at(time.Minute), at(2*time.Minute), 10))
			succeed(t, s, second, at(time.Minute))
			leaseOne(t, s, "c", at(time.Minute), at(2*time.Minute), next)
		}},
		{"ReleaseKeepsHead", func(t *testing.T, s webhook.Store) {
			head := seedOrdered(t, s, 1, "ep_a", "k", base)
			seedOrdered(t, s, 2, "ep_a", "k", base)
			l := leaseOne(t, s, "a", base, at(time.Minute), head)
			release(t, s, base, ref(l))
			leaseOne(t, s, "b", base, at(time.Minute), head)
		}},
		{"KeysInParallel", func(t *testing.T, s webhook.Store) {
			var heads []string
			for k := range 5 {
				key := fmt.Sprint("key_", k)
				heads = append(heads, seedOrdered(t, s, 10*k, "ep_a", key, base))
				seedOrdered(t, s, 10*k+1, "ep_a", key, base)
			}
			require.Equal(t, heads, leaseIDs(lease(t, s, "a", base, at(time.Minute), 100)))
		}},
		{"EmptyKeyIsOneSequence", func(t *testing.T, s webhook.Store) {
			head := seedOrdered(t, s, 1, "ep_a", "", base)
			seedOrdered(t, s, 2, "ep_a", "", base)
			other := seedOrdered(t, s, 3, "ep_b", "", base) // another endpoint, another sequence
			require.Equal(t, []string{head, other}, leaseIDs(lease(t, s, "a", base, at(time.Minute), 10)))
			require.Empty(t, lease(t, s, "a", base, at(time.Minute), 10))
		}},
		{"SameKeyOtherEndpoint", func(t *testing.T, s webhook.Store) {
			a := seedOrdered(t, s, 1, "ep_a", "k", base)
			b := seedOrdered(t, s, 2, "ep_b", "k", base)
			seedOrdered(t, s, 3, "ep_a", "k", base)
			require.Equal(t, []string{a, b}, leaseIDs(lease(t, s, "a", base, at(time.Minute), 10)))
		}},
		{"UnorderedUnaffected", func(t *testing.T, s webhook.Store) {
			// Unordered deliveries with the same key all go at once, and
			// neither wait for nor hold back the ordered ones.
			var want []string
			for i := range 3 {
				d := newDelivery(deliveryID(i), eventID(i), "ep_a", base)
				d.OrderingKey = "k"
				enqueue(t, s, item(newEvent(eventID(i)), d))
				want = append(want, d.ID)
			}
			head := seedOrdered(t, s, 10, "ep_a", "k", base)
			seedOrdered(t, s, 11, "ep_a", "k", base)
			want = append(want, head)
			require.Equal(t, want, leaseIDs(lease(t, s, "a", base, at(time.Minute), 10)))
		}},
		{"NextDueCountsHeadsOnly", func(t *testing.T, s webhook.Store) {
			seedOrdered(t, s, 1, "ep_a", "k", at(time.Hour))
			seedOrdered(t, s, 2, "ep_a", "k", base) // due earlier, but behind the head
			requireNextDue(t, s, base, at(time.Hour))
			require.Empty(t, lease(t, s, "a", base, at(time.Minute), 10))
		}},
		{"ExcludedHeadHoldsSequence", func(t *testing.T, s webhook.Store) {
			seedOrdered(t, s, 1, "ep_a", "k", base)
			seedOrdered(t, s, 2, "ep_a", "k", base)
			require.Empty(t, lease(t, s, "a", base, at(time.Minute), 10, "ep_a"))
			requireNothingDue(t, s, base, "ep_a")
		}},
		{"RedeliverJoinsTheEnd", func(t *testing.T, s webhook.Store) {
			// A finished delivery made pending again waits behind those
			// already pending in its sequence, even the one in flight.
			first := seedOrdered(t, s, 1, "ep_a", "k", base)
			second := seedOrdered(t, s, 2, "ep_a", "k", base)
			third := seedOrdered(t, s, 3, "ep_a", "k", base)
			l := leaseOne(t, s, "a", base, at(time.Minute), first)
			succeed(t, s, l, base)
			l = leaseOne(t, s, "a", base, at(time.Minute), second)
			redeliver(t, s, first, at(time.Second))
			d := getDelivery(t, s, first)
			require.Equal(t, webhook.StatePending, d.State)
			require.Empty(t, lease(t, s, "b", at(time.Second), at(time.Minute), 10), "redelivered delivery overtook the head")
			succeed(t, s, l, at(time.Second))
			l = leaseOne(t, s, "a", at(time.Second), at(time.Minute), third)
			succeed(t, s, l, at(time.Second))
			l = leaseOne(t, s, "a", at(time.Second), at(time.Minute), first)
			require.Equal(t, 1, l.Delivery.Attempts)
		}},
		{"RedeliverAloneIsDue", func(t *testing.T, s webhook.Store) {
			head := seedOrdered(t, s, 1, "ep_a", "k", base)
			l := leaseOne(t, s, "a", base, at(time.Minute), head)
			completeAs(t, s, l, base, webhook.StateFailed)
			redeliver(t, s, head, at(time.Hour))
			requireNextDue(t, s, at(time.Hour), at(time.Hour))
			l = leaseOne(t, s, "a", at(time.Hour), at(2*time.Hour), head)
			// Enqueued after the redelivery, so behind it.
			next := seedOrdered(t, s, 2, "ep_a", "k", at(time.Hour))
			require.Empty(t, lease(t, s, "a", at(time.Hour), at(2*time.Hour), 10))
			succeed(t, s, l, at(time.Hour))
			leaseOne(t, s, "a", at(time.Hour), at(2*time.Hour), next)
		}},
		{"RedeliverPendingNoop", func(t *testing.T, s webhook.Store) {
			head := seedOrdered(t, s, 1, "ep_a", "k", base)
			next := seedOrdered(t, s, 2, "ep_a", "k", base)
			redeliver(t, s, next, base) // pending: left where it is
			redeliver(t, s, head, base)
			l := leaseOne(t, s, "a", base, at(time.Minute), head)
			succeed(t, s, l, base)
			leaseOne(t, s, "a", base, at(time.Minute), next)
		}},
		{"PruneKeepsSequence", func(t *testing.T, s webhook.Store) {
			head := seedOrdered(t, s, 1, "ep_a", "k", base)
			next := seedOrdered(t, s, 2, "ep_a", "k", base)
			l := leaseOne(t, s, "a", base, at(time.Minute), head)
			succeed(t, s, l, base)
			n, err := s.Prune(t.Context(), &webhook.PruneParams{Before: at(time.Hour), Limit: 100})
			require.NoError(t, err)
			require.Equal(t, 1, n)
			later := seedOrdered(t, s, 3, "ep_a", "k", base)
			l = leaseOne(t, s, "a", base, at(time.Minute), next)
			succeed(t, s, l, base)
			leaseOne(t, s, "a", base, at(time.Minute), later)
		}},
		{"ConcurrentWorkersKeepOrder", func(t *testing.T, s webhook.Store) {
			drainOrdered(t, []webhook.Store{s})
		}},
	}
}

// orderedPeerCases prove that the head rule holds across stores sharing
// their storage (see [PeerOpener]).
func orderedPeerCases() []testCase {
	return []testCase{
		{"OrderedHeadAcrossPeers", func(t *testing.T, s webhook.Store) {
			peer := s.(PeerOpener).OpenPeer(t)
			head := seedOrdered(t, s, 1, "ep_a", "k", base)
			next := seedOrdered(t, peer, 2, "ep_a", "k", base)
			seedOrdered(t, s, 3, "ep_a", "k", base)
			l := leaseOne(t, peer, "b", base, at(time.Minute), head)
			require.Empty(t, lease(t, s, "a", base, at(time.Minute), 10))
			succeed(t, s, l, base)
			leaseOne(t, s, "a", base, at(time.Minute), next)
			require.Empty(t, lease(t, peer, "b", base, at(time.Minute), 10))
		}},
		{"OrderedConcurrentEnqueueAcrossPeers", func(t *testing.T, s webhook.Store) {
			// Two processes emit into one sequence at once, each in its
			// own order: each one's events are delivered in that order.
			peer := s.(PeerOpener).OpenPeer(t)
			stores := []webhook.Store{s, peer}
			const per = 40
			run(t, 2, func(ctx context.Context, g int) error {
				for i := range per {
					n := g*1000 + i
					err := stores[g].Enqueue(ctx, &webhook.EnqueueParams{Now: base, Items: []webhook.EnqueueItem{
						item(newEvent(eventID(n)), orderedDelivery(deliveryID(n), eventID(n), "ep_a", "k", base)),
					}})
					if err != nil {
						return err
					}
				}
				return nil
			})
			var got []string
			for range 2 * per {
				ls := lease(t, stores[len(got)%2], "a", base, at(time.Minute), 10)
				require.Len(t, ls, 1, "one sequence, one head")
				got = append(got, ls[0].Delivery.ID)
				succeed(t, stores[len(got)%2], ls[0], base)
			}
			for g := range 2 {
				var mine []string
				for _, id := range got {
					var n int
					_, err := fmt.Sscanf(id, "dlv_%d", &n)
					require.NoError(t, err)
					if n/1000 == g {
						mine = append(mine, id)
					}
				}
				want := make([]string, per)
				for i := range per {
					want[i] = deliveryID(g*1000 + i)
				}
				require.Equal(t, want, mine)
			}
		}},
		{"OrderedConcurrentWorkersAcrossPeers", func(t *testing.T, s webhook.Store) {
			drainOrdered(t, []webhook.Store{s, s.(PeerOpener).OpenPeer(t)})
		}},
	}
}

// drainOrdered enqueues an ordered backlog over a few keys and has
// workers on stores lease and complete it at once, some outcomes as
// retries: no two deliveries of a key are ever leased together, and each
// key's deliveries succeed in enqueue order.
func drainOrdered(t *testing.T, stores []webhook.Store) {
	t.Helper()
	const keys, perKey, workers = 4, 25, 6
	var items []webhook.EnqueueItem
	want := map[string][]string{}
	for i := range perKey {
		for k := range keys {
			n := i*keys + k
			key := fmt.Sprint("key_", k)
			items = append(items, item(newEvent(eventID(n)), orderedDelivery(deliveryID(n), eventID(n), "ep_a", key, base)))
			want[key] = append(want[key], deliveryID(n))
		}
	}
	enqueue(t, stores[0], items...)
	pos := map[string]int{} // delivery ID -> its place in its key's sequence
	for _, ids := range want {
		for i, id := range ids {
			pos[id] = i
		}
	}
	var mu sync.Mutex
	got := map[string][]string{} // per key, recorded before the outcome is written
	retried := map[string]bool{}
	total := 0
	run(t, workers, func(ctx context.Context, g int) error {
		st := stores[g%len(stores)]
		for ctx.Err() == nil {
			mu.Lock()
			done := total == keys*perKey
			mu.Unlock()
			if done {
				return nil
			}
			ls, err := st.Lease(ctx, &webhook.LeaseParams{Owner: fmt.Sprint("w", g), Now: base, Until: at(time.Hour), Limit: 3})
			if err != nil {
				return err
			}
			os := make([]webhook.Outcome, len(ls))
			mu.Lock()
			for i, l := range ls {
				key := l.Delivery.OrderingKey
				// Every delivery before this one in its sequence has
				// succeeded: none is pending, let alone in flight.
				if n := len(got[key]); n != pos[l.Delivery.ID] {
					mu.Unlock()
					return fmt.Errorf("key %s: %s leased after %d of its %d predecessors", key, l.Delivery.ID, n, pos[l.Delivery.ID])
				}
				o := webhook.Outcome{Lease: ref(l), State: webhook.StateSucceeded,
					Attempts: []webhook.Attempt{attempt(l.Delivery.ID, l.Delivery.Attempts+1, base, 200)}}
				if !retried[l.Delivery.ID] && pos[l.Delivery.ID]%3 == 1 {
					retried[l.Delivery.ID] = true
					o.State, o.NextAttemptAt = webhook.StatePending, base
					o.Attempts[0].StatusCode = 503
				} else {
					got[key] = append(got[key], l.Delivery.ID)
					total++
				}
				os[i] = o
			}
			mu.Unlock()
			if len(os) == 0 {
				continue
			}
			res, err := st.Complete(ctx, &webhook.CompleteParams{Now: base, Outcomes: os})
			if err != nil {
				return err
			}
			if len(res.Stale) > 0 {
				return fmt.Errorf("%d live leases refused as stale", len(res.Stale))
			}
		}
		return ctx.Err()
	})
	require.Equal(t, want, got)
	requireNothingDue(t, stores[0], farFuture)
}
