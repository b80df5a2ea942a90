package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook"
)

// The store methods recovery stands on: ListEvents and AddDeliveries
// (backfill), and the indexed filters of ListDeliveries.

// enqueueAt stores items at now.
func enqueueAt(t *testing.T, s webhook.Store, now time.Time, items ...webhook.EnqueueItem) {
	t.Helper()
	require.NoError(t, s.Enqueue(t.Context(), &webhook.EnqueueParams{Items: items, Now: now}))
}

// allEvents lists the events matching p, page by page.
func allEvents(t *testing.T, s webhook.Store, p webhook.ListEventsParams) []webhook.Event {
	t.Helper()
	return collect(t, func(cursor string) (webhook.Page[webhook.Event], error) {
		q := p
		q.Cursor = cursor
		return s.ListEvents(t.Context(), &q)
	}, p.Limit)
}

func eventIDs(es []webhook.Event) []string {
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	return ids
}

// addDeliveries adds ds at now and returns how many were added.
func addDeliveries(t *testing.T, s webhook.Store, now time.Time, ds ...webhook.Delivery) int {
	t.Helper()
	n, err := s.AddDeliveries(t.Context(), &webhook.AddDeliveriesParams{Deliveries: ds, Now: now})
	require.NoError(t, err)
	return n
}

func listEventsCases() []testCase {
	return []testCase{
		{"InStoredOrderSince", func(t *testing.T, s webhook.Store) {
			// Stored at base+0s .. base+9s, IDs in reverse of stored
			// order within each pair, so the order is by time, not ID.
			var want []string
			for i := range 10 {
				id := eventID(100 - i)
				enqueueAt(t, s, at(time.Duration(i)*time.Second), item(newEvent(id)))
				if i >= 4 {
					want = append(want, id)
				}
			}
			for _, limit := range []int{1, 3, 6, 0} {
				got := allEvents(t, s, webhook.ListEventsParams{Since: at(4 * time.Second), Limit: limit})
				require.Equal(t, want, eventIDs(got), "limit %d", limit)
			}
			all := allEvents(t, s, webhook.ListEventsParams{})
			require.Len(t, all, 10)
			require.Equal(t, normEvent(newEvent(eventID(100))), normEvent(all[0]))
		}},
		{"SameInstantByID", func(t *testing.T, s webhook.Store) {
			var items []webhook.EnqueueItem
			for _, i := range []int{5, 2, 9, 1} {
				items = append(items, item(newEvent(eventID(i))))
			}
			enqueue(t, s, items...)
			got := allEvents(t, s, webhook.ListEventsParams{Limit: 1})
			require.Equal(t, []string{eventID(1), eventID(2), eventID(5), eventID(9)}, eventIDs(got))
		}},
		{"EmptyIsEmpty", func(t *testing.T, s webhook.Store) {
			seedOne(t, s, 1, "ep_a", base)
			page, err := s.ListEvents(t.Context(), &webhook.ListEventsParams{Since: at(time.Hour)})
			require.NoError(t, err)
			require.Empty(t, page.Items)
			require.Empty(t, page.Next)
		}},
	}
}

func addDeliveriesCases() []testCase {
	return []testCase{
		{"AddsOnceToStoredEvents", func(t *testing.T, s webhook.Store) {
			enqueue(t, s, item(newEvent(eventID(1)), newDelivery(deliveryID(1), eventID(1), "ep_a", base)),
				item(newEvent(eventID(2))))
			now := at(time.Hour)
			ds := []webhook.Delivery{
				{ID: deliveryID(10), EventID: eventID(1), EndpointID: "ep_a", NextAttemptAt: now}, // ep_a has one
				{ID: deliveryID(11), EventID: eventID(1), EndpointID: "ep_b", NextAttemptAt: now},
				{ID: deliveryID(12), EventID: eventID(2), EndpointID: "ep_b", NextAttemptAt: now},
				{ID: deliveryID(13), EventID: eventID(2), EndpointID: "ep_b", NextAttemptAt: now}, // repeats 12
				{ID: deliveryID(14), EventID: "evt_missing", EndpointID: "ep_b", NextAttemptAt: now},
			}
			require.Equal(t, 2, addDeliveries(t, s, now, ds...))
			for _, id := range []string{deliveryID(10), deliveryID(13), deliveryID(14)} {
				_, err := s.GetDelivery(t.Context(), &webhook.GetDeliveryParams{ID: id})
				require.ErrorIs(t, err, webhook.ErrNotFound, id)
			}
			d := getDelivery(t, s, deliveryID(11))
			require.Equal(t, webhook.StatePending, d.State)
			require.Equal(t, eventID(1), d.EventID)
			requireSameInstant(t, now, d.CreatedAt)
			requireSameInstant(t, now, d.NextAttemptAt)
			// Again, with fresh IDs: nothing new.
			for i := range ds {
				ds[i].ID = deliveryID(20 + i)
			}
			require.Zero(t, addDeliveries(t, s, now, ds...))
			// The added ones are found by event, by endpoint, and leased.
			got := deliveryIDs(allDeliveries(t, s, webhook.ListDeliveriesParams{EventID: eventID(2)}))
			require.Equal(t, []string{deliveryID(12)}, got)
			got = deliveryIDs(allDeliveries(t, s, webhook.ListDeliveriesParams{EndpointID: "ep_b"}))
			require.Equal(t, []string{deliveryID(11), deliveryID(12)}, got)
			ls := lease(t, s, "a", now, at(2*time.Hour), 10)
			require.ElementsMatch(t, []string{deliveryID(1), deliveryID(11), deliveryID(12)}, leaseIDs(ls))
		}},
		{"DuplicateIDFailsWhole", func(t *testing.T, s webhook.Store) {
			id := seedOne(t, s, 1, "ep_a", base)
			enqueue(t, s, item(newEvent(eventID(2))))
			_, err := s.AddDeliveries(t.Context(), &webhook.AddDeliveriesParams{Now: base, Deliveries: []webhook.Delivery{
				{ID: deliveryID(5), EventID: eventID(2), EndpointID: "ep_b", NextAttemptAt: base},
				{ID: id, EventID: eventID(2), EndpointID: "ep_c", NextAttemptAt: base},
			}})
			require.ErrorIs(t, err, webhook.ErrDuplicateDelivery)
			_, err = s.GetDelivery(t.Context(), &webhook.GetDeliveryParams{ID: deliveryID(5)})
			require.ErrorIs(t, err, webhook.ErrNotFound)
		}},
		{"NeverOrdered", func(t *testing.T, s webhook.Store) {
			ev := newEvent(eventID(1))
			d := newDelivery(deliveryID(1), ev.ID, "ep_a", base)
			d.Ordered, d.OrderingKey = true, ev.OrderingKey
			enqueue(t, s, item(ev, d))
			enqueue(t, s, item(newEvent(eventID(2))))
			n := addDeliveries(t, s, base, webhook.Delivery{ID: deliveryID(2), EventID: eventID(2), EndpointID: "ep_a",
				Ordered: true, OrderingKey: ev.OrderingKey, NextAttemptAt: base})
			require.Equal(t, 1, n)
			require.False(t, getDelivery(t, s, deliveryID(2)).Ordered)
			// Not held back by the ordered head of the same key.
			ls := lease(t, s, "a", base, at(time.Hour), 10)
			require.ElementsMatch(t, []string{deliveryID(1), deliveryID(2)}, leaseIDs(ls))
		}},
		{"PrunedEventGetsNone", func(t *testing.T, s webhook.Store) {
			// An event whose only delivery was pruned is gone: adding to
			// it adds nothing.
			id := seedOne(t, s, 1, "ep_a", base)
			finish(t, s, id, base, webhook.StateSucceeded, 200)
			for {
				n, err := s.Prune(t.Context(), &webhook.PruneParams{Before: at(time.Hour), Limit: 100})
				require.NoError(t, err)
				if n < 100 {
					break
				}
			}
			require.Zero(t, addDeliveries(t, s, at(time.Hour), webhook.Delivery{ID: deliveryID(2), EventID: eventID(1), EndpointID: "ep_b"}))
			require.Empty(t, allEvents(t, s, webhook.ListEventsParams{}))
		}},
	}
}

// listDeliveriesIndexCases prove the filters of ListDeliveries read
// indexes: a rare state among many comes back whole in one call.
func listDeliveriesIndexCases() []testCase {
	return []testCase{
		{"RareStateInOnePage", func(t *testing.T, s webhook.Store) {
			const n = 12000
			items := make([]webhook.EnqueueItem, 0, n)
			var failed []string
			for i := range n {
				d := newDelivery(deliveryID(i), eventID(i), endpointID(i%2), base)
				if i == 7 || i == 6001 || i == n-2 {
					d.State = webhook.StateFailed
					failed = append(failed, d.ID)
				}
				items = append(items, item(newEvent(eventID(i)), d))
				if len(items) == 500 {
					enqueue(t, s, items...)
					items = items[:0]
				}
			}
			page, err := s.ListDeliveries(t.Context(), &webhook.ListDeliveriesParams{State: webhook.StateFailed, Limit: 100})
			require.NoError(t, err)
			require.Equal(t, failed, deliveryIDs(page.Items))
			require.Empty(t, page.Next)
			page, err = s.ListDeliveries(t.Context(), &webhook.ListDeliveriesParams{
				State: webhook.StateFailed, EndpointID: endpointID(0), Limit: 100})
			require.NoError(t, err)
			require.Equal(t, []string{deliveryID(n - 2)}, deliveryIDs(page.Items))
			require.Empty(t, page.Next)
			page, err = s.ListDeliveries(t.Context(), &webhook.ListDeliveriesParams{
				State: webhook.StateFailed, EndpointID: endpointID(1), Cursor: deliveryID(7), Limit: 100})
			require.NoError(t, err)
			require.Equal(t, []string{deliveryID(6001)}, deliveryIDs(page.Items))
			require.Empty(t, page.Next)
			page, err = s.ListDeliveries(t.Context(), &webhook.ListDeliveriesParams{
				State: webhook.StateFailed, EndpointID: endpointID(1), Cursor: deliveryID(6001), Limit: 100})
			require.NoError(t, err)
			require.Empty(t, page.Items)
			require.Empty(t, page.Next)
			page, err = s.ListDeliveries(t.Context(), &webhook.ListDeliveriesParams{State: webhook.StatePending, Limit: 100})
			require.NoError(t, err)
			require.Len(t, page.Items, 100)
			require.NotEmpty(t, page.Next)
		}},
		{"StateFollowsChanges", func(t *testing.T, s webhook.Store) {
			ids := seedMany(t, s, 4, base)
			finish(t, s, ids[1], base, webhook.StateFailed, 500)
			finish(t, s, ids[2], base, webhook.StateFailed, 500)
			require.NoError(t, s.Redeliver(t.Context(), &webhook.RedeliverParams{DeliveryID: ids[2], Now: at(time.Minute)}))
			for st, want := range map[webhook.DeliveryState][]string{
				webhook.StateFailed:    {ids[1]},
				webhook.StatePending:   {ids[0], ids[2], ids[3]},
				webhook.StateSucceeded: {},
			} {
				for _, ep := range []string{"", endpointID(0)} {
					got := deliveryIDs(allDeliveries(t, s, webhook.ListDeliveriesParams{State: st, EndpointID: ep, Limit: 1}))
					require.Equal(t, want, got, "state %s endpoint %q", st, ep)
				}
			}
		}},
		{"UnknownStateIsError", func(t *testing.T, s webhook.Store) {
			seedOne(t, s, 1, "ep_a", base)
			for _, st := range []webhook.DeliveryState{"fail", "PENDING", "dead"} {
				_, err := s.ListDeliveries(t.Context(), &webhook.ListDeliveriesParams{State: st})
				require.ErrorIs(t, err, webhook.ErrInvalidParams, fmt.Sprint(st))
			}
		}},
	}
}

// listDeliveriesTypeCases prove the event type filter, alone and with the
// others.
func listDeliveriesTypeCases() []testCase {
	return []testCase{
		{"EventType", func(t *testing.T, s webhook.Store) {
			types := []string{"invoice.paid", "invoice.created", "customer.deleted"}
			var items []webhook.EnqueueItem
			want := map[string][]string{}
			for e := range 9 {
				ev := newEvent(eventID(e))
				ev.Type = types[e%3]
				var ds []webhook.Delivery
				for p := range 2 {
					k := 2*e + p
					ds = append(ds, newDelivery(deliveryID(k), ev.ID, endpointID(p), base))
					want[ev.Type] = append(want[ev.Type], deliveryID(k))
				}
				items = append(items, item(ev, ds...))
			}
			enqueue(t, s, items...)
			finish(t, s, deliveryID(2), base, webhook.StateFailed, 500)  // event 1, invoice.created, ep 0
			finish(t, s, deliveryID(15), base, webhook.StateFailed, 500) // event 7, invoice.created, ep 1
			for _, typ := range types {
				got := deliveryIDs(allDeliveries(t, s, webhook.ListDeliveriesParams{EventType: typ, Limit: 1}))
				require.Equal(t, want[typ], got, typ)
			}
			for _, c := range []struct {
				p    webhook.ListDeliveriesParams
				want []string
			}{
				{webhook.ListDeliveriesParams{EventType: "invoice.created", State: webhook.StateFailed}, []string{deliveryID(2), deliveryID(15)}},
				{webhook.ListDeliveriesParams{EventType: "invoice.created", EndpointID: endpointID(1)}, []string{deliveryID(3), deliveryID(9), deliveryID(15)}},
				{webhook.ListDeliveriesParams{EventType: "invoice.created", EndpointID: endpointID(1), State: webhook.StateFailed}, []string{deliveryID(15)}},
				{webhook.ListDeliveriesParams{EventType: "invoice.created", EventID: eventID(4)}, []string{deliveryID(8), deliveryID(9)}},
				{webhook.ListDeliveriesParams{EventType: "invoice.paid", EventID: eventID(4)}, []string{}},
				{webhook.ListDeliveriesParams{EventType: "invoice.*"}, []string{}},
				{webhook.ListDeliveriesParams{EventType: "missing"}, []string{}},
			} {
				got := deliveryIDs(allDeliveries(t, s, c.p))
				require.Equal(t, c.want, got, "%+v", c.p)
			}
		}},
		{"EventTypeAfterPrune", func(t *testing.T, s webhook.Store) {
			ids := seedMany(t, s, 3, base)
			finish(t, s, ids[0], base, webhook.StateSucceeded, 200)
			n, err := s.Prune(t.Context(), &webhook.PruneParams{Before: at(time.Hour), Limit: 10})
			require.NoError(t, err)
			require.Equal(t, 1, n)
			got := deliveryIDs(allDeliveries(t, s, webhook.ListDeliveriesParams{EventType: "invoice.paid"}))
			require.Equal(t, ids[1:], got)
		}},
	}
}

// redeliverScheduleCases prove FreshSchedule: the delivery remembers where
// its schedule restarted, and a lease hands that on to the engine.
func redeliverScheduleCases() []testCase {
	return []testCase{
		{"FreshScheduleSetsScheduleStart", func(t *testing.T, s webhook.Store) {
			ids := seedMany(t, s, 2, base)
			for _, l := range lease(t, s, "a", base, at(time.Hour), 2) {
				id := l.Delivery.ID
				complete(t, s, at(time.Second), webhook.Outcome{Lease: ref(l), State: webhook.StateFailed,
					Attempts: []webhook.Attempt{attempt(id, 1, base, 500), attempt(id, 2, base, 500), attempt(id, 3, base, 500)}})
			}
			now := at(time.Minute)
			require.NoError(t, s.Redeliver(t.Context(), &webhook.RedeliverParams{DeliveryID: ids[0], Now: now, FreshSchedule: true}))
			require.NoError(t, s.Redeliver(t.Context(), &webhook.RedeliverParams{DeliveryID: ids[1], Now: now}))
			require.Equal(t, 3, getDelivery(t, s, ids[0]).ScheduleStart)
			require.Zero(t, getDelivery(t, s, ids[1]).ScheduleStart)
			ls := lease(t, s, "a", now, at(time.Hour), 10)
			require.Len(t, ls, 2)
			for _, l := range ls {
				want := 0
				if l.Delivery.ID == ids[0] {
					want = 3
				}
				require.Equal(t, want, l.Delivery.ScheduleStart, l.Delivery.ID)
				require.Equal(t, 3, l.Delivery.Attempts)
			}
			// It stays through outcomes and a plain redelivery.
			complete(t, s, at(2*time.Minute), webhook.Outcome{Lease: ref(ls[0]), State: webhook.StateFailed,
				Attempts: []webhook.Attempt{attempt(ls[0].Delivery.ID, 4, now, 500)}})
			require.NoError(t, s.Redeliver(t.Context(), &webhook.RedeliverParams{DeliveryID: ls[0].Delivery.ID, Now: at(3 * time.Minute)}))
			d := getDelivery(t, s, ls[0].Delivery.ID)
			require.Equal(t, 4, d.Attempts)
			require.Equal(t, ls[0].Delivery.ScheduleStart, d.ScheduleStart)
		}},
	}
}
