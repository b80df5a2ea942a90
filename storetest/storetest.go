// Package storetest is the conformance suite for [webhook.Store]. Every
// store runs it from its own tests:
//
//	func TestStore(t *testing.T) {
//		t.Parallel()
//		storetest.Run(t, func(t *testing.T) webhook.Store {
//			s := memstore.New()
//			t.Cleanup(func() { _ = s.Close() })
//			return s
//		})
//	}
//
// The suite enforces the contracts written on [webhook.Store] and its
// records. Where those contracts leave a choice, the suite picks the reading
// a shared SQL store can also satisfy and says so next to the test:
//
//   - Records are stored as given: PutEndpoint overwrites every field,
//     CreatedAt included; JSON (Payload, Settings) is kept byte for byte;
//     a nil Retry stays nil and an empty Retry.Schedule stays non-nil.
//     Nil and empty collections are otherwise equivalent.
//   - Deliveries may name endpoints the store does not hold.
//   - A lease is stale only once the delivery was leased again, released
//     or completed ([webhook.ErrLeaseLost]); a lease past its Until that
//     nobody took is still held. Refs naming a missing delivery are stale.
//   - Release makes a delivery's NextAttemptAt equal to Now.
//   - Lease orders unleased deliveries by NextAttemptAt; where an expired
//     lease falls in that order is the store's choice. While a delivery is
//     leased, its NextAttemptAt and UpdatedAt are the store's business.
//   - NextDue reports false when every pending delivery is excluded.
//   - Complete sets UpdatedAt to Now, and LastStatusCode and LastError from
//     the last attempt of the outcome (unchanged when it has none).
//   - ListAttempts of a missing delivery is ErrNotFound; a listing whose
//     filters match nothing is an empty page; a ListDeliveries state that
//     is not one of the four is an error wrapping ErrInvalidParams, and a
//     filter by state (with or without an endpoint) reads an index: 3
//     failed among 12,000 pending come back in one page of 100.
//   - ListEvents orders by stored time (the Now of the Enqueue that stored
//     the event), then ID. AddDeliveries compares (EventID, EndpointID)
//     with the deliveries stored and those earlier in the call. Next is empty exactly on the
//     last page, and cursors are positions in ID order that survive
//     inserts and deletes between pages.
//   - Prune compares UpdatedAt < Before (for failed deliveries
//     UpdatedAt < FailedBefore, when set), and an event's stored time is the
//     Now of the Enqueue that stored it; a Prune call that returns less
//     than Limit has also removed every prunable event.
//   - A call whose ctx is already done returns an error wrapping the
//     context's error and changes nothing.
//   - An ordered sequence is (EndpointID, OrderingKey) over the pending
//     deliveries with Ordered set; a delivery's place in it is fixed when it
//     is enqueued or redelivered, whatever its ID or NextAttemptAt. A
//     redelivered delivery waiting behind others has NextAttemptAt equal to
//     the Redeliver's Now, and is due at it once it heads its sequence.
//   - A conditional PutEndpoint compares IfUpdatedAt with the stored
//     UpdatedAt as instants, at the precision the store keeps; the
//     UpdatedAt a read returns always matches.
//
// Beyond [webhook.Store], the suite proves the capabilities a store
// claims, each in a group of its own that runs only when the store
// implements it (decided on one store of the factory, made up front):
//
//   - Close: a store with a Close() error method answers
//     [webhook.ErrClosed] once closed, and closing again returns nil.
//   - TxEnqueuer: a [webhook.TxEnqueuer] must also be a [TxBeginner], so
//     that the suite can begin the host transactions it enqueues in.
//   - Peer: a [PeerOpener] shares its storage with the peers it opens, and
//     leases stay exclusive across them.
//   - QueueStats: a [webhook.QueueStatser] counts pending, due and
//     delayed deliveries and finds the oldest due one.
//   - Locker: a [webhook.Locker] hands a named lock to one owner at a
//     time, renews it for its owner, frees it on Unlock or once its Until
//     is at or before Now, and (with PeerOpener) across peers.
//   - Reporter: a [webhook.Reporter] keeps receivers' reports: a report
//     is taken only with the token hash of the wait it ends, before the
//     end of that wait and while the delivery is not leased; exactly one
//     of racing reports (or of a report and the lease that ends the wait)
//     wins; a refused report changes nothing; the timeout and a failed
//     report complete the attempt that awaited rather than add one; with
//     PeerOpener, a report reaches the store through any peer.
//   - Batcher: a [webhook.Batcher] records batches all or nothing, leases
//     a formed batch whole (never split by Limit, by a live lease or by
//     owners racing), and Redeliver takes a delivery out of its batch;
//     with [webhook.Reporter], a report with Batch set reaches every
//     member that awaits it.
//   - Notifier: a [webhook.Notifier] closes its channel on Close, reports
//     committed host transactions (with TxBeginner) and its peers' changes
//     (with PeerOpener). A [ReadyNotifier] is waited for first.
//
// A store adds TxBeginner, PeerOpener or ReadyNotifier in its own test by
// wrapping itself in a struct that embeds it; pgstore's test does all
// three.
//
// Import storetest from _test.go files only.
package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hooklet/webhook"
)

// Run runs the conformance suite against the stores newStore makes. Each
// subtest calls newStore once and expects a fresh, empty store of its own;
// newStore registers the store's cleanup with t.Cleanup. Subtests run in
// parallel and are named Method/Behaviour, e.g. "Lease/ExclusiveBetweenOwners".
//
// Stores never read the clock: the suite passes explicit times, all with
// microsecond precision, so a store may keep times to the microsecond. It
// compares times as instants, so a store may return them in any location.
//
// Run calls newStore once more, before the subtests, to learn which
// capability groups apply (see the package doc). When the store has a
// Close() error method, the Close subtests close their store; the
// factory's cleanup must then cope with a store that is already closed.
func Run(t *testing.T, newStore func(t *testing.T) webhook.Store) {
	t.Helper()
	gs := append(groups(), capabilityGroups(newStore(t))...)
	for _, g := range gs {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.fn(t, newStore(t))
				})
			}
		})
	}
}

// testCase is one subtest: it gets its own fresh store.
type testCase struct {
	name string
	fn   func(t *testing.T, s webhook.Store)
}

// group is one Method of the suite.
type group struct {
	name  string
	cases []testCase
}

func groups() []group {
	return []group{
		{"PutEndpoint", append(putEndpointCases(), conditionalPutCases()...)},
		{"GetEndpoint", getEndpointCases()},
		{"DeleteEndpoint", deleteEndpointCases()},
		{"ListEndpoints", append(listEndpointsCases(), listEndpointsPageLimitCase())},
		{"Enqueue", enqueueCases()},
		{"GetEvent", getEventCases()},
		{"GetDelivery", getDeliveryCases()},
		{"Lease", leaseCases()},
		{"ExtendLeases", extendLeasesCases()},
		{"Complete", completeCases()},
		{"Release", releaseCases()},
		{"NextDue", nextDueCases()},
		{"ListDeliveries", append(append(listDeliveriesCases(), listDeliveriesPageLimitCase()), append(listDeliveriesIndexCases(), listDeliveriesTypeCases()...)...)},
		{"ListEvents", listEventsCases()},
		{"AddDeliveries", addDeliveriesCases()},
		{"ListAttempts", append(listAttemptsCases(), listAttemptsPageLimitCase())},
		{"Redeliver", append(redeliverCases(), redeliverScheduleCases()...)},
		{"Prune", pruneCases()},
		{"Concurrency", concurrencyCases()},
		{"Context", contextCases()},
		{"Ordering", orderingCases()},
	}
}

// base is the suite's fixed "now". It has microsecond precision and is not
// in UTC, so stores that normalise locations are still compared fairly.
var base = time.Date(2030, time.March, 4, 5, 6, 7, 891234000, time.FixedZone("X", 2*60*60))

// at returns base plus d.
func at(d time.Duration) time.Time { return base.Add(d) }

// farFuture is a lease deadline no test reaches.
var farFuture = at(1000 * time.Hour)

// Naming helpers keep IDs of one shape, so byte order and any SQL
// collation agree on their order.
func eventID(i int) string    { return fmt.Sprintf("evt_%05d", i) }
func deliveryID(i int) string { return fmt.Sprintf("dlv_%05d", i) }
func endpointID(i int) string { return fmt.Sprintf("ep_%05d", i) }

// utc returns t as UTC without a monotonic reading, the form the suite
// compares.
func utc(t time.Time) time.Time { return t.UTC() }

// normEndpoint returns ep in comparable form: times in UTC, empty
// collections as nil. Retry.Schedule keeps the difference between nil (the
// default schedule) and empty (no retries), which a store must preserve.
func normEndpoint(ep webhook.Endpoint) webhook.Endpoint {
	ep.CreatedAt, ep.UpdatedAt, ep.FailingSince = utc(ep.CreatedAt), utc(ep.UpdatedAt), utc(ep.FailingSince)
	if len(ep.EventTypes) == 0 {
		ep.EventTypes = nil
	}
	if len(ep.Settings) == 0 {
		ep.Settings = nil
	}
	if len(ep.Filter) == 0 {
		ep.Filter = nil
	}
	if len(ep.Headers) == 0 {
		ep.Headers = nil
	}
	if len(ep.Secrets) == 0 {
		ep.Secrets = nil
	} else {
		ep.Secrets = slices.Clone(ep.Secrets)
		for i := range ep.Secrets {
			ep.Secrets[i].ExpiresAt = utc(ep.Secrets[i].ExpiresAt)
		}
	}
	return ep
}

// normEvent returns e in comparable form.
func normEvent(e webhook.Event) webhook.Event {
	e.Time = utc(e.Time)
	if len(e.Payload) == 0 {
		e.Payload = nil
	}
	if len(e.Attributes) == 0 {
		e.Attributes = nil
	}
	return e
}

// normDelivery returns d in comparable form.
func normDelivery(d webhook.Delivery) webhook.Delivery {
	d.NextAttemptAt = utc(d.NextAttemptAt)
	d.CreatedAt = utc(d.CreatedAt)
	d.UpdatedAt = utc(d.UpdatedAt)
	return d
}

// normAttempt returns a in comparable form.
func normAttempt(a webhook.Attempt) webhook.Attempt {
	a.StartedAt = utc(a.StartedAt)
	if len(a.ResponseBody) == 0 {
		a.ResponseBody = nil
	}
	return a
}

func normAll[T any](xs []T, f func(T) T) []T {
	out := make([]T, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

// requireSameInstant checks two times name the same instant.
func requireSameInstant(t *testing.T, want, got time.Time, msgAndArgs ...any) {
	t.Helper()
	if !want.Equal(got) {
		t.Fatalf("time: want %s, got %s %s", want.UTC().Format(time.RFC3339Nano), got.UTC().Format(time.RFC3339Nano), fmt.Sprint(msgAndArgs...))
	}
}
