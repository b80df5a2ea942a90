package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook"
)

// run starts n goroutines running f at once and waits for them; it fails
// the test with the first error.
func run(t *testing.T, n int, f func(ctx context.Context, g int) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	start := make(chan struct{})
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for g := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := f(ctx, g); err != nil {
				errs <- fmt.Errorf("goroutine %d: %w", g, err)
				cancel()
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// leaseAllConcurrently has workers lease at now until nothing is left and
// returns every lease handed out.
func leaseAllConcurrently(t *testing.T, s webhook.Store, workers int, now, until time.Time) []webhook.Lease {
	t.Helper()
	var mu sync.Mutex
	var all []webhook.Lease
	run(t, workers, func(ctx context.Context, g int) error {
		for ctx.Err() == nil {
			ls, err := s.Lease(ctx, &webhook.LeaseParams{Owner: fmt.Sprintf("owner-%d", g), Now: now, Until: until, Limit: 3})
			if err != nil {
				return err
			}
			if len(ls) == 0 {
				return nil
			}
			mu.Lock()
			all = append(all, ls...)
			mu.Unlock()
		}
		return ctx.Err()
	})
	return all
}

func requireEachOnce(t *testing.T, ls []webhook.Lease, want []string) {
	t.Helper()
	seen := map[string]int{}
	tokens := map[string]bool{}
	for _, l := range ls {
		seen[l.Delivery.ID]++
		require.False(t, tokens[l.Token], "token handed out twice")
		tokens[l.Token] = true
	}
	for id, c := range seen {
		require.Equal(t, 1, c, "delivery %s leased %d times while its lease was live", id, c)
	}
	require.ElementsMatch(t, want, leaseIDs(ls))
}

func concurrencyCases() []testCase {
	return []testCase{
		{"LeaseExclusive", func(t *testing.T, s webhook.Store) {
			const n, workers = 300, 8
			seedMany(t, s, n, base)
			first := leaseAllConcurrently(t, s, workers, base, at(time.Minute))
			requireEachOnce(t, first, seedIDs(n))
			// After expiry, every delivery comes back once, with a new token.
			second := leaseAllConcurrently(t, s, workers, at(time.Minute), at(2*time.Minute))
			requireEachOnce(t, second, seedIDs(n))
			old := map[string]string{}
			for _, l := range first {
				old[l.Delivery.ID] = l.Token
			}
			for _, l := range second {
				require.NotEqual(t, old[l.Delivery.ID], l.Token)
			}
		}},
		{"CompleteRacesReLease", func(t *testing.T, s webhook.Store) {
			// Owner a completes its expired leases while owner b leases
			// the same deliveries: for each delivery exactly one wins,
			// a's outcome or b's lease, never both, never neither.
			const n = 200
			seedMany(t, s, n, base)
			aLeases := lease(t, s, "a", base, at(time.Minute), n)
			require.Len(t, aLeases, n)
			var stale []webhook.LeaseRef
			var bLeases []webhook.Lease
			run(t, 2, func(ctx context.Context, g int) error {
				if g == 0 {
					for i := 0; i < n; i += 10 {
						os := make([]webhook.Outcome, 0, 10)
						for _, l := range aLeases[i:min(i+10, n)] {
							os = append(os, webhook.Outcome{Lease: ref(l), State: webhook.StateSucceeded,
								Attempts: []webhook.Attempt{attempt(l.Delivery.ID, 1, base, 200)}})
						}
						res, err := s.Complete(ctx, &webhook.CompleteParams{Outcomes: os, Now: at(time.Minute)})
						if err != nil {
							return err
						}
						stale = append(stale, res.Stale...)
					}
					return nil
				}
				for {
					ls, err := s.Lease(ctx, &webhook.LeaseParams{Owner: "b", Now: at(time.Minute), Until: at(time.Hour), Limit: 7})
					if err != nil {
						return err
					}
					if len(ls) == 0 {
						return nil
					}
					bLeases = append(bLeases, ls...)
				}
			})
			staleIDs := map[string]bool{}
			for _, r := range stale {
				staleIDs[r.DeliveryID] = true
			}
			bIDs := map[string]bool{}
			for _, l := range bLeases {
				require.False(t, bIDs[l.Delivery.ID], "b leased %s twice", l.Delivery.ID)
				bIDs[l.Delivery.ID] = true
			}
			for _, id := range seedIDs(n) {
				d := getDelivery(t, s, id)
				if bIDs[id] {
					require.True(t, staleIDs[id], "%s: b leased it and a's outcome was accepted", id)
					require.Equal(t, webhook.StatePending, d.State, id)
					require.Equal(t, 0, d.Attempts, id)
				} else {
					require.False(t, staleIDs[id], "%s: a's outcome refused but b never leased it", id)
					require.Equal(t, webhook.StateSucceeded, d.State, id)
					require.Equal(t, 1, d.Attempts, id)
				}
			}
		}},
		{"EnqueueLeaseComplete", func(t *testing.T, s webhook.Store) {
			const producers, perProducer, fan, workers = 3, 40, 2, 4
			const total = producers * perProducer * fan
			var completed, attempts atomic.Int64
			var producing sync.WaitGroup
			producing.Add(producers)
			run(t, producers+workers, func(ctx context.Context, g int) error {
				if g < producers {
					defer producing.Done()
					for i := range perProducer {
						e := g*perProducer + i
						ds := make([]webhook.Delivery, fan)
						for j := range fan {
							ds[j] = newDelivery(deliveryID(e*fan+j), eventID(e), endpointID(j), base)
						}
						// Every item twice, the second a no-op.
						for range 2 {
							err := s.Enqueue(ctx, &webhook.EnqueueParams{Now: base,
								Items: []webhook.EnqueueItem{item(newEvent(eventID(e)), ds...)}})
							if err != nil {
								return err
							}
						}
					}
					return nil
				}
				owner := fmt.Sprintf("worker-%d", g)
				for completed.Load() < total {
					if err := ctx.Err(); err != nil {
						return fmt.Errorf("gave up with %d of %d completed: %w", completed.Load(), total, err)
					}
					ls, err := s.Lease(ctx, &webhook.LeaseParams{Owner: owner, Now: base, Until: farFuture, Limit: 5})
					if err != nil {
						return err
					}
					if len(ls) == 0 {
						continue
					}
					os := make([]webhook.Outcome, len(ls))
					for i, l := range ls {
						os[i] = webhook.Outcome{Lease: ref(l), State: webhook.StateSucceeded,
							Attempts: []webhook.Attempt{attempt(l.Delivery.ID, l.Delivery.Attempts+1, base, 200)}}
					}
					res, err := s.Complete(ctx, &webhook.CompleteParams{Outcomes: os, Now: at(time.Second)})
					if err != nil {
						return err
					}
					if len(res.Stale) != 0 {
						return fmt.Errorf("live leases refused as stale: %v", res.Stale)
					}
					completed.Add(int64(len(ls)))
					attempts.Add(int64(len(ls)))
				}
				return nil
			})
			producing.Wait()
			require.EqualValues(t, total, completed.Load())
			ds := allDeliveries(t, s, webhook.ListDeliveriesParams{Limit: 50})
			require.Len(t, ds, total)
			for _, d := range ds {
				require.Equal(t, webhook.StateSucceeded, d.State, d.ID)
				require.Equal(t, 1, d.Attempts, d.ID)
			}
			require.Empty(t, allDeliveries(t, s, webhook.ListDeliveriesParams{State: webhook.StatePending}))
			requireNothingDue(t, s, at(time.Hour))
		}},
	}
}
