package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook"
)

// NewEvent returns a complete event with the given ID, made at t: every
// field is set, and its payload has spacing a store must keep byte for
// byte. The suite builds its events with it; a store's own tests may too.
func NewEvent(id string, t time.Time) webhook.Event {
	return webhook.Event{
		ID:          id,
		Type:        "invoice.paid",
		Tenant:      "acme",
		OrderingKey: "customer_" + id,
		Time:        t,
		Payload:     json.RawMessage(`{"id": "in_1",  "amount":42}`),
		Attributes:  map[string]string{"correlation_id": "c-" + id},

		TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		TraceState:  "vendor=" + id,
	}
}

// NewDelivery returns a pending delivery of the event eventID to the
// endpoint endpointID, created (and last updated) at now and due at due.
func NewDelivery(id, eventID, endpointID string, now, due time.Time) webhook.Delivery {
	return webhook.Delivery{
		ID:            id,
		EventID:       eventID,
		EndpointID:    endpointID,
		State:         webhook.StatePending,
		NextAttemptAt: due,
		CreatedAt:     now,
		UpdatedAt:     now,
	}
}

// NewItem returns an enqueue item of ev and the deliveries it fans out to.
func NewItem(ev webhook.Event, ds ...webhook.Delivery) webhook.EnqueueItem {
	return webhook.EnqueueItem{Event: ev, Deliveries: ds}
}

// newEvent is the suite's event, made a minute before base.
func newEvent(id string) webhook.Event { return NewEvent(id, at(-time.Minute)) }

// newDelivery is the suite's delivery, created at base and due at due.
func newDelivery(id, evID, epID string, due time.Time) webhook.Delivery {
	return NewDelivery(id, evID, epID, base, due)
}

// item is [NewItem].
func item(ev webhook.Event, ds ...webhook.Delivery) webhook.EnqueueItem { return NewItem(ev, ds...) }

// enqueue stores items at base.
func enqueue(t *testing.T, s webhook.Store, items ...webhook.EnqueueItem) {
	t.Helper()
	require.NoError(t, s.Enqueue(t.Context(), &webhook.EnqueueParams{Items: items, Now: base}))
}

// seedOne enqueues one event with one delivery to endpoint epID, due at
// due, and returns the delivery's ID. The event and delivery share the
// index i.
func seedOne(t *testing.T, s webhook.Store, i int, epID string, due time.Time) string {
	t.Helper()
	enqueue(t, s, item(newEvent(eventID(i)), newDelivery(deliveryID(i), eventID(i), epID, due)))
	return deliveryID(i)
}

// seedMany enqueues n events in one call, each with one delivery to
// endpointID(0), all due at due, and returns the delivery IDs.
func seedMany(t *testing.T, s webhook.Store, n int, due time.Time) []string {
	t.Helper()
	items := make([]webhook.EnqueueItem, n)
	ids := make([]string, n)
	for i := range n {
		items[i] = item(newEvent(eventID(i)), newDelivery(deliveryID(i), eventID(i), endpointID(0), due))
		ids[i] = deliveryID(i)
	}
	enqueue(t, s, items...)
	return ids
}

// lease leases for owner at now until until.
func lease(t *testing.T, s webhook.Store, owner string, now, until time.Time, limit int, exclude ...string) []webhook.Lease {
	t.Helper()
	ls, err := s.Lease(t.Context(), &webhook.LeaseParams{
		Owner: owner, Now: now, Until: until, Limit: limit, ExcludeEndpoints: exclude,
	})
	require.NoError(t, err)
	require.LessOrEqual(t, len(ls), limit, "lease returned more than Limit")
	for _, l := range ls {
		require.NotEmpty(t, l.Token, "lease without a token")
		require.Equal(t, webhook.StatePending, l.Delivery.State, "leased a delivery that is not pending")
		requireSameInstant(t, until, l.Until, "lease Until")
	}
	return ls
}

// leaseOne leases exactly one delivery and checks its ID.
func leaseOne(t *testing.T, s webhook.Store, owner string, now, until time.Time, wantID string) webhook.Lease {
	t.Helper()
	ls := lease(t, s, owner, now, until, 10)
	require.Len(t, ls, 1, "want exactly one lease")
	require.Equal(t, wantID, ls[0].Delivery.ID)
	return ls[0]
}

// leaseIDs returns the delivery IDs of ls, sorted.
func leaseIDs(ls []webhook.Lease) []string {
	ids := make([]string, len(ls))
	for i, l := range ls {
		ids[i] = l.Delivery.ID
	}
	slices.Sort(ids)
	return ids
}

func ref(l webhook.Lease) webhook.LeaseRef {
	return webhook.LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token}
}

// attempt returns a complete attempt record.
func attempt(dID string, n int, started time.Time, status int) webhook.Attempt {
	a := webhook.Attempt{
		DeliveryID: dID,
		Number:     n,
		StartedAt:  started,
		Duration:   time.Duration(n) * 150 * time.Millisecond,
		StatusCode: status,
	}
	switch {
	case status == 0:
		a.ErrorClass = webhook.ClassConnection
		a.Error = fmt.Sprintf("dial tcp: connection refused (attempt %d)", n)
	case status >= 300:
		a.Error = fmt.Sprintf("status %d", status)
		a.ResponseBody = []byte(fmt.Sprintf("{\"error\":\"nope %d\"}\n", n))
		a.ResponseTruncated = n%2 == 0
	default:
		a.ResponseBody = []byte("ok")
	}
	return a
}

// complete records one outcome and requires it was not stale.
func complete(t *testing.T, s webhook.Store, now time.Time, o webhook.Outcome) {
	t.Helper()
	res, err := s.Complete(t.Context(), &webhook.CompleteParams{Outcomes: []webhook.Outcome{o}, Now: now})
	require.NoError(t, err)
	require.Empty(t, res.Stale, "outcome refused as stale")
}

// finish leases the delivery id at now and completes it with one attempt
// and the given state; the delivery must be due at now. Other deliveries
// due at now that the lease picks up are released at now.
func finish(t *testing.T, s webhook.Store, id string, now time.Time, state webhook.DeliveryState, status int) {
	t.Helper()
	ls := lease(t, s, "finisher", now, now.Add(time.Minute), 1000)
	var others []webhook.LeaseRef
	found := false
	for _, l := range ls {
		if l.Delivery.ID != id {
			others = append(others, ref(l))
			continue
		}
		found = true
		complete(t, s, now, webhook.Outcome{
			Lease:    ref(l),
			Attempts: []webhook.Attempt{attempt(id, l.Delivery.Attempts+1, now, status)},
			State:    state,
		})
	}
	require.True(t, found, "delivery %s not due at %s", id, now)
	if len(others) > 0 {
		require.NoError(t, s.Release(t.Context(), &webhook.ReleaseParams{Leases: others, Now: now}))
	}
}

// getDelivery fetches one delivery.
func getDelivery(t *testing.T, s webhook.Store, id string) webhook.Delivery {
	t.Helper()
	d, err := s.GetDelivery(t.Context(), &webhook.GetDeliveryParams{ID: id})
	require.NoError(t, err)
	return d
}

// allAttempts lists every attempt of a delivery, page by page.
func allAttempts(t *testing.T, s webhook.Store, id string, limit int) []webhook.Attempt {
	t.Helper()
	return collect(t, func(cursor string) (webhook.Page[webhook.Attempt], error) {
		return s.ListAttempts(t.Context(), &webhook.ListAttemptsParams{DeliveryID: id, Cursor: cursor, Limit: limit})
	}, limit)
}

// allDeliveries lists the deliveries matching p, page by page.
func allDeliveries(t *testing.T, s webhook.Store, p webhook.ListDeliveriesParams) []webhook.Delivery {
	t.Helper()
	return collect(t, func(cursor string) (webhook.Page[webhook.Delivery], error) {
		q := p
		q.Cursor = cursor
		return s.ListDeliveries(t.Context(), &q)
	}, p.Limit)
}

func deliveryIDs(ds []webhook.Delivery) []string {
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return ids
}

// collect walks every page of a listing. It checks that pages respect
// limit (when positive), that every page but the last names a following
// page and carries items, and that the walk ends.
//
// The suite requires Next to be empty exactly on the last page: a store
// looks one row ahead rather than returning a trailing empty page.
func collect[T any](t *testing.T, page func(cursor string) (webhook.Page[T], error), limit int) []T {
	t.Helper()
	var all []T
	cursor := ""
	for range 10000 {
		p, err := page(cursor)
		require.NoError(t, err)
		if limit > 0 {
			require.LessOrEqual(t, len(p.Items), limit, "page larger than Limit")
		}
		all = append(all, p.Items...)
		if p.Next == "" {
			return all
		}
		require.NotEmpty(t, p.Items, "a page with a Next cursor carries no items")
		require.NotEqual(t, cursor, p.Next, "cursor did not advance")
		cursor = p.Next
	}
	t.Fatal("listing did not end after 10000 pages")
	return nil
}

// requireStrictlyAscending checks ids are in strictly increasing order,
// which also proves none repeats.
func requireStrictlyAscending(t *testing.T, ids []string) {
	t.Helper()
	for i := 1; i < len(ids); i++ {
		require.Less(t, ids[i-1], ids[i], "listing not in strictly ascending ID order at %d", i)
	}
}
