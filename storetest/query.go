package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook"
)

// seedGrid enqueues 6 events, each delivered to 3 endpoints, and finishes
// some of the deliveries: delivery k = 3*event+endpoint ends succeeded when
// k%3 == 0, failed when k%4 == 1 and stays pending otherwise. It returns
// the states by delivery ID.
func seedGrid(t *testing.T, s webhook.Store) map[string]webhook.DeliveryState {
	t.Helper()
	states := map[string]webhook.DeliveryState{}
	var items []webhook.EnqueueItem
	for e := range 6 {
		var ds []webhook.Delivery
		for p := range 3 {
			k := 3*e + p
			ds = append(ds, newDelivery(deliveryID(k), eventID(e), endpointID(p), at(time.Duration(k)*time.Second)))
		}
		items = append(items, item(newEvent(eventID(e)), ds...))
	}
	enqueue(t, s, items...)
	for k := range 18 {
		state := webhook.StatePending
		switch {
		case k%3 == 0:
			state = webhook.StateSucceeded
		case k%4 == 1:
			state = webhook.StateFailed
		}
		states[deliveryID(k)] = state
	}
	// Finish in due order so each is the one lease returns.
	for k := range 18 {
		if st := states[deliveryID(k)]; st.Finished() {
			l := leaseOne(t, s, "a", at(time.Duration(k)*time.Second), at(time.Hour), deliveryID(k))
			complete(t, s, at(time.Duration(k)*time.Second), webhook.Outcome{Lease: ref(l), State: st,
				Attempts: []webhook.Attempt{attempt(deliveryID(k), 1, base, 200)}})
		} else {
			// Lease and release, to keep later ones first in line.
			l := leaseOne(t, s, "a", at(time.Duration(k)*time.Second), at(time.Hour), deliveryID(k))
			release(t, s, at(100*time.Hour), ref(l))
		}
	}
	return states
}

func listDeliveriesCases() []testCase {
	return []testCase{
		{"Filters", func(t *testing.T, s webhook.Store) {
			states := seedGrid(t, s)
			match := func(evIdx, epIdx int, st webhook.DeliveryState) []string {
				ids := []string{}
				for k := range 18 {
					id := deliveryID(k)
					if evIdx >= 0 && k/3 != evIdx || epIdx >= 0 && k%3 != epIdx || st != "" && states[id] != st {
						continue
					}
					ids = append(ids, id)
				}
				return ids
			}
			cases := []struct {
				ev, ep int
				st     webhook.DeliveryState
			}{
				{-1, -1, ""},
				{2, -1, ""},
				{-1, 1, ""},
				{-1, -1, webhook.StatePending},
				{-1, -1, webhook.StateSucceeded},
				{-1, -1, webhook.StateFailed},
				{-1, -1, webhook.StateSkipped},
				{4, 0, ""},
				{-1, 2, webhook.StatePending},
				{3, -1, webhook.StateFailed},
				{5, 1, webhook.StateSucceeded},
			}
			for _, c := range cases {
				p := webhook.ListDeliveriesParams{State: c.st, Limit: 4}
				if c.ev >= 0 {
					p.EventID = eventID(c.ev)
				}
				if c.ep >= 0 {
					p.EndpointID = endpointID(c.ep)
				}
				got := allDeliveries(t, s, p)
				require.Equal(t, match(c.ev, c.ep, c.st), deliveryIDs(got), "filter %+v", p)
				for _, d := range got {
					require.Equal(t, states[d.ID], d.State)
				}
			}
		}},
		{"NoMatchIsEmpty", func(t *testing.T, s webhook.Store) {
			seedOne(t, s, 1, "ep_a", base)
			for _, p := range []webhook.ListDeliveriesParams{
				{EventID: "evt_missing"}, {EndpointID: "ep_missing"}, {State: webhook.StateFailed},
			} {
				page, err := s.ListDeliveries(t.Context(), &p)
				require.NoError(t, err)
				require.Empty(t, page.Items)
				require.Empty(t, page.Next)
			}
		}},
		{"PaginatesInIDOrder", func(t *testing.T, s webhook.Store) {
			const n = 101
			var items []webhook.EnqueueItem
			for i := range n {
				j := (i * 37) % n // scrambled insertion order
				items = append(items, item(newEvent(eventID(j)), newDelivery(deliveryID(j), eventID(j), "ep_a", base)))
			}
			enqueue(t, s, items...)
			for _, limit := range []int{1, 10, 101, 500} {
				got := deliveryIDs(allDeliveries(t, s, webhook.ListDeliveriesParams{Limit: limit}))
				requireStrictlyAscending(t, got)
				require.Equal(t, seedIDs(n), got, "limit %d", limit)
			}
		}},
		{"PaginatesFiltered", func(t *testing.T, s webhook.Store) {
			var items []webhook.EnqueueItem
			var want []string
			for i := range 60 {
				ep := "ep_b"
				if i%4 == 0 {
					ep = "ep_a"
					want = append(want, deliveryID(i))
				}
				items = append(items, item(newEvent(eventID(i)), newDelivery(deliveryID(i), eventID(i), ep, base)))
			}
			enqueue(t, s, items...)
			got := deliveryIDs(allDeliveries(t, s, webhook.ListDeliveriesParams{EndpointID: "ep_a", Limit: 4}))
			require.Equal(t, want, got)
		}},
		{"ExactMultipleOfLimit", func(t *testing.T, s webhook.Store) {
			seedMany(t, s, 6, base)
			page, err := s.ListDeliveries(t.Context(), &webhook.ListDeliveriesParams{Limit: 3})
			require.NoError(t, err)
			require.Len(t, page.Items, 3)
			page, err = s.ListDeliveries(t.Context(), &webhook.ListDeliveriesParams{Limit: 3, Cursor: page.Next})
			require.NoError(t, err)
			require.Len(t, page.Items, 3)
			require.Empty(t, page.Next, "Next must be empty on the last page")
		}},
		{"DefaultLimit", func(t *testing.T, s webhook.Store) {
			seedMany(t, s, 3, base)
			page, err := s.ListDeliveries(t.Context(), &webhook.ListDeliveriesParams{})
			require.NoError(t, err)
			require.Equal(t, seedIDs(3), deliveryIDs(page.Items))
			require.Empty(t, page.Next)
		}},
	}
}

func listAttemptsCases() []testCase {
	return []testCase{
		{"InOrderWithPagination", func(t *testing.T, s webhook.Store) {
			id := seedOne(t, s, 1, "ep_a", base)
			var want []webhook.Attempt
			now := base
			// 4 leases of 1, 3, 2 and 1 attempts.
			for round, k := range []int{1, 3, 2, 1} {
				l := leaseOne(t, s, "a", now, now.Add(time.Minute), id)
				var atts []webhook.Attempt
				for j := range k {
					atts = append(atts, attempt(id, l.Delivery.Attempts+j+1, now.Add(time.Duration(j)*time.Second), 500+round))
				}
				want = append(want, atts...)
				complete(t, s, now.Add(10*time.Second), webhook.Outcome{Lease: ref(l), Attempts: atts,
					State: webhook.StatePending, NextAttemptAt: now.Add(time.Minute)})
				now = now.Add(time.Minute)
			}
			for _, limit := range []int{0, 1, 2, 3, 7, 100} {
				got := allAttempts(t, s, id, limit)
				require.Equal(t, normAll(want, normAttempt), normAll(got, normAttempt), "limit %d", limit)
			}
			require.Equal(t, 7, getDelivery(t, s, id).Attempts)
		}},
		{"NoAttemptsIsEmpty", func(t *testing.T, s webhook.Store) {
			id := seedOne(t, s, 1, "ep_a", base)
			page, err := s.ListAttempts(t.Context(), &webhook.ListAttemptsParams{DeliveryID: id})
			require.NoError(t, err)
			require.Empty(t, page.Items)
			require.Empty(t, page.Next)
		}},
		{"MissingDeliveryNotFound", func(t *testing.T, s webhook.Store) {
			// The delivery the call names is a record; a missing one is
			// ErrNotFound, not an empty page.
			_, err := s.ListAttempts(t.Context(), &webhook.ListAttemptsParams{DeliveryID: "dlv_missing"})
			require.ErrorIs(t, err, webhook.ErrNotFound)
		}},
		{"OnlyThatDelivery", func(t *testing.T, s webhook.Store) {
			seedMany(t, s, 2, base)
			finish(t, s, deliveryID(0), base, webhook.StateSucceeded, 200)
			finish(t, s, deliveryID(1), base, webhook.StateFailed, 500)
			got := allAttempts(t, s, deliveryID(1), 0)
			require.Len(t, got, 1)
			require.Equal(t, 500, got[0].StatusCode)
			require.Equal(t, deliveryID(1), got[0].DeliveryID)
		}},
	}
}
