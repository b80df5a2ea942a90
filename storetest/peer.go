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

// peerCases are the cases of stores whose storage other processes share
// (see [PeerOpener]): the guarantees of [webhook.Store] hold across them.
func peerCases() []testCase {
	return []testCase{
		{"SeesWrites", func(t *testing.T, s webhook.Store) {
			peer := s.(PeerOpener).OpenPeer(t)
			putEndpoint(t, s, fullEndpoint("ep_1"))
			requireSameEndpoint(t, fullEndpoint("ep_1"), getEndpoint(t, peer, "ep_1"))
			seedOne(t, peer, 1, "ep_a", base)
			getEvent(t, s, eventID(1))
			l := leaseOne(t, s, "me", base, at(time.Minute), deliveryID(1))
			complete(t, s, base, webhook.Outcome{Lease: ref(l), State: webhook.StateSucceeded,
				Attempts: []webhook.Attempt{attempt(deliveryID(1), 1, base, 200)}})
			require.Equal(t, webhook.StateSucceeded, getDelivery(t, peer, deliveryID(1)).State)
		}},
		{"StaleAcrossPeers", func(t *testing.T, s webhook.Store) {
			// A lease that expired and was taken by a peer is stale for
			// its first owner.
			peer := s.(PeerOpener).OpenPeer(t)
			id := seedOne(t, s, 1, "ep_a", base)
			first := leaseOne(t, s, "a", base, at(time.Minute), id)
			require.Empty(t, lease(t, peer, "b", at(time.Minute-time.Microsecond), at(2*time.Minute), 10))
			second := leaseOne(t, peer, "b", at(time.Minute), at(2*time.Minute), id)
			require.Equal(t, []webhook.LeaseRef{ref(first)}, extend(t, s, at(time.Minute), at(time.Hour), ref(first)).Stale)
			res := completeBatch(t, s, at(time.Minute), webhook.Outcome{Lease: ref(first), State: webhook.StateFailed,
				Attempts: []webhook.Attempt{attempt(id, 1, base, 500)}})
			require.Equal(t, []webhook.LeaseRef{ref(first)}, res.Stale)
			complete(t, peer, at(time.Minute), webhook.Outcome{Lease: ref(second), State: webhook.StateSucceeded,
				Attempts: []webhook.Attempt{attempt(id, 1, at(time.Minute), 200)}})
			d := getDelivery(t, s, id)
			require.Equal(t, webhook.StateSucceeded, d.State)
			require.Equal(t, 1, d.Attempts)
		}},
		{"LeaseCompleteExclusive", func(t *testing.T, s webhook.Store) {
			// Workers on two stores lease and complete a backlog at once:
			// every delivery is handed out exactly once and every outcome
			// is taken.
			const n, workers = 400, 8
			stores := []webhook.Store{s, s.(PeerOpener).OpenPeer(t)}
			seedMany(t, s, n, base)
			var mu sync.Mutex
			var all []webhook.Lease
			run(t, workers, func(ctx context.Context, g int) error {
				st := stores[g%len(stores)]
				for ctx.Err() == nil {
					ls, err := st.Lease(ctx, &webhook.LeaseParams{Owner: fmt.Sprint("w", g), Now: base, Until: at(time.Hour), Limit: 7})
					if err != nil || len(ls) == 0 {
						return err
					}
					mu.Lock()
					all = append(all, ls...)
					mu.Unlock()
					os := make([]webhook.Outcome, len(ls))
					for i, l := range ls {
						os[i] = webhook.Outcome{Lease: ref(l), State: webhook.StateSucceeded,
							Attempts: []webhook.Attempt{attempt(l.Delivery.ID, 1, base, 204)}}
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
			requireEachOnce(t, all, seedIDs(n))
			requireNothingDue(t, stores[1], farFuture)
		}},
	}
}
