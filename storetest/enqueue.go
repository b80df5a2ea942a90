package storetest

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook"
)

func getEvent(t *testing.T, s webhook.Store, id string) webhook.Event {
	t.Helper()
	ev, err := s.GetEvent(t.Context(), &webhook.GetEventParams{ID: id})
	require.NoError(t, err)
	return ev
}

func requireNoDelivery(t *testing.T, s webhook.Store, id string) {
	t.Helper()
	_, err := s.GetDelivery(t.Context(), &webhook.GetDeliveryParams{ID: id})
	require.ErrorIs(t, err, webhook.ErrNotFound, "delivery %s", id)
}

func requireNoEvent(t *testing.T, s webhook.Store, id string) {
	t.Helper()
	_, err := s.GetEvent(t.Context(), &webhook.GetEventParams{ID: id})
	require.ErrorIs(t, err, webhook.ErrNotFound, "event %s", id)
}

func enqueueCases() []testCase {
	return []testCase{
		{"StoresEventAndDeliveries", func(t *testing.T, s webhook.Store) {
			ev := newEvent("evt_1")
			d1 := newDelivery("dlv_1", "evt_1", "ep_a", base)
			d2 := newDelivery("dlv_2", "evt_1", "ep_b", at(time.Second))
			d2.CreatedAt, d2.UpdatedAt = at(-time.Second), at(-time.Millisecond)
			enqueue(t, s, item(ev, d1, d2))

			got := getEvent(t, s, "evt_1")
			require.Equal(t, normEvent(ev), normEvent(got))
			// The payload is kept byte for byte (receivers verify
			// signatures over bodies built from it).
			require.Equal(t, `{"id": "in_1",  "amount":42}`, string(got.Payload))
			require.Equal(t, normDelivery(d1), normDelivery(getDelivery(t, s, "dlv_1")))
			require.Equal(t, normDelivery(d2), normDelivery(getDelivery(t, s, "dlv_2")))
			ds := allDeliveries(t, s, webhook.ListDeliveriesParams{EventID: "evt_1"})
			require.Equal(t, []string{"dlv_1", "dlv_2"}, deliveryIDs(ds))
		}},
		{"EventWithoutOptionalFields", func(t *testing.T, s webhook.Store) {
			ev := webhook.Event{ID: "evt_1", Type: "ping", Time: base, Payload: json.RawMessage(`null`)}
			enqueue(t, s, item(ev, newDelivery("dlv_1", "evt_1", "ep_a", base)))
			require.Equal(t, normEvent(ev), normEvent(getEvent(t, s, "evt_1")))
		}},
		{"EventWithoutDeliveries", func(t *testing.T, s webhook.Store) {
			// An event no endpoint matched is still stored.
			enqueue(t, s, item(newEvent("evt_1")))
			getEvent(t, s, "evt_1")
			require.Empty(t, allDeliveries(t, s, webhook.ListDeliveriesParams{}))
		}},
		{"IdempotentOnEventID", func(t *testing.T, s webhook.Store) {
			enqueue(t, s, item(newEvent("evt_1"), newDelivery("dlv_1", "evt_1", "ep_a", base)))
			// The same event ID again, with another payload and other
			// deliveries: skipped whole, without an error.
			again := newEvent("evt_1")
			again.Payload = json.RawMessage(`{"other":true}`)
			again.Type = "other.type"
			enqueue(t, s,
				item(again, newDelivery("dlv_2", "evt_1", "ep_b", base), newDelivery("dlv_3", "evt_1", "ep_c", base)),
				item(newEvent("evt_2"), newDelivery("dlv_4", "evt_2", "ep_a", base)),
			)
			require.Equal(t, normEvent(newEvent("evt_1")), normEvent(getEvent(t, s, "evt_1")))
			requireNoDelivery(t, s, "dlv_2")
			requireNoDelivery(t, s, "dlv_3")
			// The other item of the call is stored.
			getEvent(t, s, "evt_2")
			getDelivery(t, s, "dlv_4")
			ids := deliveryIDs(allDeliveries(t, s, webhook.ListDeliveriesParams{}))
			require.Equal(t, []string{"dlv_1", "dlv_4"}, ids)
		}},
		{"IdempotentAfterDeliveryFinished", func(t *testing.T, s webhook.Store) {
			id := seedOne(t, s, 1, "ep_a", base)
			finish(t, s, id, base, webhook.StateSucceeded, 200)
			// Re-emitting does not make a finished delivery pending again.
			enqueue(t, s, item(newEvent(eventID(1)), newDelivery(id, eventID(1), "ep_a", base)))
			d := getDelivery(t, s, id)
			require.Equal(t, webhook.StateSucceeded, d.State)
			require.Equal(t, 1, d.Attempts)
		}},
		{"DuplicateWithinCall", func(t *testing.T, s webhook.Store) {
			first := newEvent("evt_1")
			second := newEvent("evt_1")
			second.Payload = json.RawMessage(`{"second":true}`)
			enqueue(t, s,
				item(first, newDelivery("dlv_1", "evt_1", "ep_a", base)),
				item(second, newDelivery("dlv_2", "evt_1", "ep_b", base)),
			)
			require.Equal(t, normEvent(first), normEvent(getEvent(t, s, "evt_1")))
			getDelivery(t, s, "dlv_1")
			requireNoDelivery(t, s, "dlv_2")
		}},
		{"DuplicateDeliveryIDFailsWhole", func(t *testing.T, s webhook.Store) {
			// A delivery ID already stored fails the whole call: the other
			// items of the call are not written either.
			enqueue(t, s, item(newEvent("evt_1"), newDelivery("dlv_1", "evt_1", "ep_a", base)))
			err := s.Enqueue(t.Context(), &webhook.EnqueueParams{Now: base, Items: []webhook.EnqueueItem{
				item(newEvent("evt_2"), newDelivery("dlv_2", "evt_2", "ep_a", base)),
				item(newEvent("evt_3"), newDelivery("dlv_1", "evt_3", "ep_b", at(time.Hour))),
			}})
			require.ErrorIs(t, err, webhook.ErrDuplicateDelivery)
			requireNoEvent(t, s, "evt_2")
			requireNoEvent(t, s, "evt_3")
			requireNoDelivery(t, s, "dlv_2")
			require.Equal(t, normDelivery(newDelivery("dlv_1", "evt_1", "ep_a", base)), normDelivery(getDelivery(t, s, "dlv_1")))
		}},
		{"DuplicateDeliveryIDWithinCallFails", func(t *testing.T, s webhook.Store) {
			err := s.Enqueue(t.Context(), &webhook.EnqueueParams{Now: base, Items: []webhook.EnqueueItem{
				item(newEvent("evt_1"), newDelivery("dlv_1", "evt_1", "ep_a", base)),
				item(newEvent("evt_2"), newDelivery("dlv_2", "evt_2", "ep_a", base), newDelivery("dlv_1", "evt_2", "ep_b", base)),
			}})
			require.ErrorIs(t, err, webhook.ErrDuplicateDelivery)
			requireNoEvent(t, s, "evt_1")
			requireNoEvent(t, s, "evt_2")
			requireNoDelivery(t, s, "dlv_1")
			requireNoDelivery(t, s, "dlv_2")
			requireNothingDue(t, s, farFuture)
		}},
		{"SkippedItemDoesNotCheckDeliveryIDs", func(t *testing.T, s webhook.Store) {
			// An item skipped for its event ID is skipped whole, even when
			// its delivery IDs are stored already.
			enqueue(t, s, item(newEvent("evt_1"), newDelivery("dlv_1", "evt_1", "ep_a", base)))
			enqueue(t, s,
				item(newEvent("evt_1"), newDelivery("dlv_1", "evt_1", "ep_a", base)),
				item(newEvent("evt_2"), newDelivery("dlv_2", "evt_2", "ep_a", base)),
			)
			getDelivery(t, s, "dlv_2")
		}},
		{"ManyItems", func(t *testing.T, s webhook.Store) {
			const n = 500
			items := make([]webhook.EnqueueItem, n)
			for i := range n {
				items[i] = item(newEvent(eventID(i)),
					newDelivery(deliveryID(2*i), eventID(i), "ep_a", base),
					newDelivery(deliveryID(2*i+1), eventID(i), "ep_b", base))
			}
			enqueue(t, s, items...)
			ds := allDeliveries(t, s, webhook.ListDeliveriesParams{Limit: 97})
			require.Len(t, ds, 2*n)
			for i, d := range ds {
				require.Equal(t, deliveryID(i), d.ID)
				require.Equal(t, eventID(i/2), d.EventID)
			}
			getEvent(t, s, eventID(0))
			getEvent(t, s, eventID(n-1))
		}},
		{"EmptyCall", func(t *testing.T, s webhook.Store) {
			require.NoError(t, s.Enqueue(t.Context(), &webhook.EnqueueParams{Now: base}))
		}},
		{"CopiesInput", func(t *testing.T, s webhook.Store) {
			ev := newEvent("evt_1")
			it := item(ev, newDelivery("dlv_1", "evt_1", "ep_a", base))
			enqueue(t, s, it)
			ev.Payload[2] = 'X'
			ev.Attributes["correlation_id"] = "changed"
			it.Deliveries[0].EndpointID = "changed"
			require.Equal(t, normEvent(newEvent("evt_1")), normEvent(getEvent(t, s, "evt_1")))
			require.Equal(t, "ep_a", getDelivery(t, s, "dlv_1").EndpointID)
		}},
		{"AtomicToReaders", func(t *testing.T, s webhook.Store) {
			// A reader that sees an event sees all of its deliveries.
			const n, fan = 40, 3
			var wg sync.WaitGroup
			defer wg.Wait()
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			wg.Add(1)
			errc := make(chan error, 1)
			go func() {
				defer wg.Done()
				for i := range n {
					ds := make([]webhook.Delivery, fan)
					for j := range fan {
						ds[j] = newDelivery(deliveryID(i*fan+j), eventID(i), endpointID(j), base)
					}
					if err := s.Enqueue(ctx, &webhook.EnqueueParams{Items: []webhook.EnqueueItem{item(newEvent(eventID(i)), ds...)}, Now: base}); err != nil {
						errc <- err
						return
					}
				}
			}()
			for i := 0; i < n; {
				_, err := s.GetEvent(ctx, &webhook.GetEventParams{ID: eventID(i)})
				if err != nil {
					require.ErrorIs(t, err, webhook.ErrNotFound)
					select {
					case err := <-errc:
						t.Fatalf("enqueue: %v", err)
					default:
					}
					require.NoError(t, ctx.Err(), "event %d never appeared", i)
					continue
				}
				page, err := s.ListDeliveries(ctx, &webhook.ListDeliveriesParams{EventID: eventID(i), Limit: 10})
				require.NoError(t, err)
				require.Len(t, page.Items, fan, "event %d visible without all its deliveries", i)
				i++
			}
		}},
	}
}

func getEventCases() []testCase {
	return []testCase{
		{"NotFound", func(t *testing.T, s webhook.Store) {
			requireNoEvent(t, s, "evt_missing")
		}},
		{"ReturnsCopy", func(t *testing.T, s webhook.Store) {
			enqueue(t, s, item(newEvent("evt_1")))
			got := getEvent(t, s, "evt_1")
			got.Payload[2] = 'X'
			got.Attributes["correlation_id"] = "changed"
			require.Equal(t, normEvent(newEvent("evt_1")), normEvent(getEvent(t, s, "evt_1")))
		}},
	}
}

func getDeliveryCases() []testCase {
	return []testCase{
		{"NotFound", func(t *testing.T, s webhook.Store) {
			requireNoDelivery(t, s, "dlv_missing")
		}},
	}
}
