package webhook

import (
	"context"
	"slices"
	"time"
)

// Store keeps endpoints, events, deliveries and attempts, and hands due
// deliveries to the delivery engines that lease them. One Store may be
// shared by many Dispatchers (in one process or, for stores that support it,
// across processes); the Store, not the Dispatcher, guarantees that a
// delivery is leased to at most one live owner at a time.
//
// Every method must be safe for concurrent use, honour ctx, and return
// [ErrNotFound] for missing records and [ErrClosed] once the store is closed.
// Stores never read the clock: every method that needs the time gets it in
// its params (Now). storetest.Run proves an implementation.
//
// Records passed in are owned by the caller during the call only; records
// returned belong to the caller.
type Store interface {
	// PutEndpoint creates or replaces an endpoint. The endpoint is already
	// validated. When IfUpdatedAt is set, it writes only if the stored
	// endpoint exists and its UpdatedAt equals IfUpdatedAt, and otherwise
	// returns an error wrapping ErrConflict (ErrNotFound when there is
	// none) and changes nothing.
	PutEndpoint(ctx context.Context, p *PutEndpointParams) error
	// GetEndpoint returns one endpoint or ErrNotFound.
	GetEndpoint(ctx context.Context, p *GetEndpointParams) (Endpoint, error)
	// DeleteEndpoint removes an endpoint or returns ErrNotFound. Its
	// deliveries stay; the engine ends pending ones as failed.
	DeleteEndpoint(ctx context.Context, p *DeleteEndpointParams) error
	// ListEndpoints returns endpoints in ID order, a page at a time (see
	// [PageLimit]).
	ListEndpoints(ctx context.Context, p *ListEndpointsParams) (Page[Endpoint], error)

	// Enqueue stores each event with its deliveries, all in one atomic and
	// durable write: when it returns nil, every item is stored and survives
	// a crash. An item whose event ID is already stored (or repeats an
	// earlier item of the same call) is skipped whole: nothing new is
	// written for it and it is not an error. A delivery ID already stored,
	// or repeated within the call, fails the whole call with an error
	// wrapping [ErrDuplicateDelivery] and nothing is written.
	Enqueue(ctx context.Context, p *EnqueueParams) error

	// Lease hands up to Limit due deliveries to Owner until Until. A
	// delivery is due when it is pending and either its NextAttemptAt is at
	// or before Now and it is not leased, or its lease expired at or before
	// Now. Each lease carries a fresh token. Deliveries of the endpoints in
	// ExcludeEndpoints are not leased. Deliveries are handed out earliest
	// due first.
	//
	// Ordered deliveries ([Delivery.Ordered]) are handed out one at a time
	// per sequence: Lease hands out only the head of each (EndpointID,
	// OrderingKey), the earliest enqueued of its pending ordered
	// deliveries, and no other delivery of that sequence, not even while
	// the head is leased or waiting for a retry. Enqueue order is the
	// order in which Enqueue calls (and the host transactions of
	// [TxEnqueuer.EnqueueTx]) committed, items in slice order within a
	// call; the store, not the caller, enforces it, for every process
	// sharing it. A head that Complete leaves pending, that is released,
	// or whose lease expires stays the head; once it ends succeeded,
	// failed or skipped, the next delivery of its sequence is the head.
	// An empty OrderingKey is a sequence like any other. Unordered
	// deliveries neither wait for nor hold back ordered ones.
	Lease(ctx context.Context, p *LeaseParams) ([]Lease, error)
	// ExtendLeases moves the deadline of leases still held with the given
	// tokens. Leases whose token is stale are listed in the result and left
	// unchanged.
	ExtendLeases(ctx context.Context, p *ExtendLeasesParams) (BatchResult, error)
	// Complete records the outcomes of leased deliveries: each outcome's
	// attempts are appended and the delivery moves to its next state, all
	// in one durable write. Outcomes whose lease token is stale are refused
	// (listed in the result, nothing of them written); the others are
	// recorded.
	Complete(ctx context.Context, p *CompleteParams) (BatchResult, error)
	// Release gives leased deliveries back without an attempt: they become
	// due at Now. Stale tokens are ignored.
	Release(ctx context.Context, p *ReleaseParams) error
	// NextDue returns the earliest instant at which Lease with the same
	// ExcludeEndpoints could return a delivery, and false when no delivery is
	// pending. The instant may be at or before Now. Ordered deliveries
	// that are not the head of their sequence do not count: the earliest
	// instant is never one at which Lease would hand out nothing.
	NextDue(ctx context.Context, p *NextDueParams) (time.Time, bool, error)

	// GetEvent returns one event or ErrNotFound.
	GetEvent(ctx context.Context, p *GetEventParams) (Event, error)
	// GetDelivery returns one delivery or ErrNotFound.
	GetDelivery(ctx context.Context, p *GetDeliveryParams) (Delivery, error)
	// ListDeliveries returns deliveries in ID order, filtered, a page at a
	// time (see [PageLimit]). A State that is not [DeliveryState.Valid]
	// is an error wrapping [ErrInvalidParams]. A filter by state, endpoint
	// or both reads an index: a page of a rare state among many others
	// comes back full (or complete) in one call.
	ListDeliveries(ctx context.Context, p *ListDeliveriesParams) (Page[Delivery], error)
	// ListAttempts returns one delivery's attempts in the order they were
	// made, a page at a time (see [PageLimit]).
	ListAttempts(ctx context.Context, p *ListAttemptsParams) (Page[Attempt], error)
	// Redeliver makes a finished (succeeded, failed or skipped) delivery
	// pending again, due at Now, keeping its attempts. A pending delivery
	// is left as it is. Missing: ErrNotFound. An ordered delivery made
	// pending again joins the end of its sequence, as if enqueued at that
	// moment: it waits for every delivery of its (EndpointID, OrderingKey)
	// already pending, and is due at Now only when none is. It never
	// overtakes a head in flight, so a sequence still has one delivery in
	// flight at a time.
	Redeliver(ctx context.Context, p *RedeliverParams) error
	// Prune deletes up to Limit finished deliveries last updated before
	// Before (failed ones: before FailedBefore, when set), with their
	// attempts, and the events left with no delivery that were stored
	// before Before. It returns how many deliveries it deleted;
	// callers repeat while the count equals Limit.
	Prune(ctx context.Context, p *PruneParams) (int, error)

	// ListEvents returns the events stored at or after Since (the Now of
	// the Enqueue that stored them) in the order they were stored, a page
	// at a time (see [PageLimit]): by stored time, then by ID. The cursor
	// is opaque to callers. Backfill pages through it.
	ListEvents(ctx context.Context, p *ListEventsParams) (Page[Event], error)
	// AddDeliveries stores deliveries for events already stored, in one
	// atomic and durable write, and returns how many it added. A delivery
	// is skipped, without error, when its event is not stored (pruned) or
	// already has a delivery to the same endpoint, or when an earlier
	// delivery of the call goes to the same (event, endpoint): running the
	// same call twice adds nothing the second time. A delivery ID already
	// stored fails the whole call with an error wrapping
	// [ErrDuplicateDelivery]. Added deliveries are stored as given, except
	// that they are never ordered (Ordered is cleared): they fill a gap of
	// the past and must not hold back an endpoint's live sequences. An
	// empty State is pending, zero CreatedAt and UpdatedAt are Now.
	AddDeliveries(ctx context.Context, p *AddDeliveriesParams) (int, error)
}

// ListEventsParams are the parameters of [Store.ListEvents].
type ListEventsParams struct {
	// Since, when non-zero, lists only the events stored at or after it.
	Since  time.Time
	Cursor string
	// Limit caps the page size; see [PageLimit].
	Limit int
}

// AddDeliveriesParams are the parameters of [Store.AddDeliveries].
type AddDeliveriesParams struct {
	// Deliveries name their event with EventID.
	Deliveries []Delivery
	Now        time.Time
}

// Valid reports whether s is one of the four delivery states. The empty
// state is not one of them.
func (s DeliveryState) Valid() bool {
	switch s {
	case StatePending, StateSucceeded, StateFailed, StateSkipped:
		return true
	}
	return false
}

// Page sizes of the listings ([Store.ListEndpoints], [Store.ListDeliveries]
// and [Store.ListAttempts]). Every Store applies them through [PageLimit].
const (
	// PageLimitDefault is the page size of a listing whose Limit is 0 or
	// negative.
	PageLimitDefault = 100
	// PageLimitMax caps the page size of every listing: a larger Limit
	// returns pages of PageLimitMax items.
	PageLimitMax = 1000
)

// PageLimit returns the page size of a listing asked for limit items:
// [PageLimitDefault] when limit is 0 or negative (a negative limit is not an
// error), [PageLimitMax] when limit is larger, and limit otherwise. A page
// holds at most that many items. It may hold fewer and still have a Next
// cursor when a store bounds the work of one page, so callers page on
// until Next is empty rather than count items.
func PageLimit(limit int) int {
	switch {
	case limit <= 0:
		return PageLimitDefault
	case limit > PageLimitMax:
		return PageLimitMax
	}
	return limit
}

// Page is one page of a listing. Next is the cursor of the following page,
// empty on the last page.
type Page[T any] struct {
	Items []T
	Next  string
}

// DeliveryState is where a delivery stands.
type DeliveryState string

// Delivery states.
const (
	// StatePending: waiting for its next attempt, or being attempted.
	StatePending DeliveryState = "pending"
	// StateSucceeded: an attempt got a 2xx answer.
	StateSucceeded DeliveryState = "succeeded"
	// StateFailed: attempts ran out, or a failure that retrying cannot fix
	// (endpoint gone, template error). Replayable with Redeliver.
	StateFailed DeliveryState = "failed"
	// StateSkipped: the endpoint's template chose not to send this event.
	StateSkipped DeliveryState = "skipped"
)

// Finished reports whether the state is final until a Redeliver.
func (s DeliveryState) Finished() bool { return s != StatePending }

// Delivery is one event on its way to one endpoint.
type Delivery struct {
	ID         string
	EventID    string
	EndpointID string
	// OrderingKey is the event's [Event.OrderingKey], and Ordered whether
	// the endpoint was [Endpoint.Ordered] when the event was fanned out to
	// it. Both are fixed at enqueue: an endpoint that becomes ordered
	// orders the events emitted from then on, and its deliveries already
	// enqueued go unordered, neither waiting for nor holding back the
	// ordered ones; one that stops being ordered still sends the ordered
	// deliveries it has one at a time per key. See [Store.Lease].
	OrderingKey string
	Ordered     bool
	State       DeliveryState
	// Attempts counts the attempts recorded so far.
	Attempts int
	// NextAttemptAt is when a pending delivery is next due.
	NextAttemptAt time.Time
	// ScheduleStart counts the attempts made before the retry schedule
	// last restarted: the next attempt is number Attempts+1 of the
	// delivery and number Attempts+1-ScheduleStart of its schedule. It is
	// 0 until a [Store.Redeliver] with FreshSchedule sets it to Attempts.
	ScheduleStart int
	// LastStatusCode and LastError describe the latest attempt.
	LastStatusCode int
	LastError      string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// AwaitingReport is set while the delivery's last attempt, answered
	// 202 Accepted by an endpoint with an [Endpoint.AckTimeout], waits for
	// the receiver's report (see [Reporter]): the delivery is pending and
	// NextAttemptAt is the end of the wait. A Store sets it only through
	// [Outcome.AwaitTokenHash]; Enqueue and AddDeliveries store it
	// cleared.
	AwaitingReport bool
	// BatchID names the batch the delivery was last sent in (see
	// [BatchPolicy] and [Batcher]); empty when it never was, or since a
	// [Store.Redeliver]. While the delivery is pending, it is leased only
	// together with the other pending deliveries of its batch.
	BatchID string
}

// ErrorClass sorts attempt failures that got no HTTP answer, or could not be
// sent at all.
type ErrorClass string

// Error classes of an [Attempt]. An attempt that got an HTTP answer has an
// empty class and a StatusCode.
const (
	ClassNone             ErrorClass = ""
	ClassTimeout          ErrorClass = "timeout"           // no answer within the request timeout
	ClassConnection       ErrorClass = "connection"        // refused, reset, DNS, TLS
	ClassBlocked          ErrorClass = "blocked"           // the dial guard refused the address; final, never retried
	ClassTemplate         ErrorClass = "template"          // the template failed at render time
	ClassEndpointDisabled ErrorClass = "endpoint_disabled" // the endpoint was disabled or deleted
	ClassInternal         ErrorClass = "internal"          // anything else, e.g. a signer error
	// ClassAckTimeout: the receiver answered 202 Accepted and sent no
	// report within the endpoint's AckTimeout. The attempt keeps its
	// StatusCode (202).
	ClassAckTimeout ErrorClass = "ack_timeout"
	// ClassAckFailed: the receiver answered 202 Accepted, then reported
	// that the work failed; Error holds its message. The attempt keeps its
	// StatusCode (202).
	ClassAckFailed ErrorClass = "ack_failed"
)

// Attempt records one try at sending a delivery.
type Attempt struct {
	DeliveryID string
	// Number counts from 1 within the delivery.
	Number    int
	StartedAt time.Time
	Duration  time.Duration
	// StatusCode is the HTTP status, 0 when no answer came.
	StatusCode int
	ErrorClass ErrorClass
	// Error describes the failure in words; never carries a secret.
	Error string
	// ResponseBody is the start of the response body, up to
	// [Config.MaxResponseBodyBytes]; ResponseTruncated reports a longer body.
	ResponseBody      []byte
	ResponseTruncated bool
}

// Clone returns a deep copy of a: its ResponseBody is not shared with a.
func (a Attempt) Clone() Attempt {
	a.ResponseBody = slices.Clone(a.ResponseBody)
	return a
}

// Lease is a delivery handed to one owner until Until.
type Lease struct {
	Delivery Delivery
	Event    Event
	Token    string
	Until    time.Time
}

// LeaseRef names a held lease.
type LeaseRef struct {
	DeliveryID string
	Token      string
}

// BatchResult reports the items of a batch refused because their lease
// token was stale ([ErrLeaseLost]).
type BatchResult struct {
	Stale []LeaseRef
}

// Outcome is what became of one leased delivery.
type Outcome struct {
	Lease LeaseRef
	// Attempts made under this lease, in order, numbered from the
	// delivery's Attempts+1.
	Attempts []Attempt
	// State is the delivery's next state; NextAttemptAt is used when it is
	// StatePending.
	State         DeliveryState
	NextAttemptAt time.Time
	// AwaitTokenHash, when set, leaves the delivery awaiting its
	// receiver's report on the last of Attempts ([Delivery.AwaitingReport]):
	// State is StatePending and NextAttemptAt the end of the wait. Only a
	// [Reporter.Report] carrying this hash (the SHA-256 of the token the
	// request carried) may end the wait sooner. An outcome without it ends
	// any wait: the hash the delivery held is forgotten.
	AwaitTokenHash []byte
	// WaitEnded, when set, ends the wait of a delivery leased while it
	// awaited a report that did not come in time: Attempts is empty and
	// no attempt is added; the delivery's last attempt, the one that
	// awaited, takes WaitEnded's Class and Error (and so does the
	// delivery's LastError, its LastStatusCode staying), and the delivery
	// moves to State as with any outcome. One request is one attempt and
	// one step of the retry schedule, however its wait ends.
	WaitEnded *AttemptFailure
}

// AttemptFailure is how an attempt answered 202 Accepted ended in failure
// after its answer: no report in time ([ClassAckTimeout]) or a failure
// reported ([ClassAckFailed]).
type AttemptFailure struct {
	Class ErrorClass
	// Error describes the failure in words; at most 1 KiB of valid UTF-8.
	Error string
}

// EnqueueItem is one event and the deliveries it fans out to.
type EnqueueItem struct {
	Event      Event
	Deliveries []Delivery
}

// PutEndpointParams are the parameters of [Store.PutEndpoint].
type PutEndpointParams struct {
	Endpoint Endpoint
	// IfUpdatedAt, when non-zero, makes the write conditional: it happens
	// only if the stored endpoint's UpdatedAt equals it.
	IfUpdatedAt time.Time
}

// GetEndpointParams are the parameters of [Store.GetEndpoint].
type GetEndpointParams struct {
	ID string
}

// DeleteEndpointParams are the parameters of [Store.DeleteEndpoint].
type DeleteEndpointParams struct {
	ID string
}

// ListEndpointsParams are the parameters of [Store.ListEndpoints].
type ListEndpointsParams struct {
	// Tenant, when set, lists only that tenant's endpoints. A store serves
	// it from an index by tenant, so that a page costs the same however
	// many endpoints other tenants have.
	Tenant string
	Cursor string
	// Limit caps the page size; see [PageLimit].
	Limit int
}

// EnqueueParams are the parameters of [Store.Enqueue].
type EnqueueParams struct {
	Items []EnqueueItem
	Now   time.Time
}

// LeaseParams are the parameters of [Store.Lease].
type LeaseParams struct {
	Owner            string
	Now              time.Time
	Until            time.Time
	Limit            int
	ExcludeEndpoints []string
}

// ExtendLeasesParams are the parameters of [Store.ExtendLeases].
type ExtendLeasesParams struct {
	Leases []LeaseRef
	Now    time.Time
	Until  time.Time
}

// CompleteParams are the parameters of [Store.Complete].
type CompleteParams struct {
	Outcomes []Outcome
	Now      time.Time
}

// ReleaseParams are the parameters of [Store.Release].
type ReleaseParams struct {
	Leases []LeaseRef
	Now    time.Time
}

// NextDueParams are the parameters of [Store.NextDue].
type NextDueParams struct {
	Now              time.Time
	ExcludeEndpoints []string
}

// GetEventParams are the parameters of [Store.GetEvent].
type GetEventParams struct {
	ID string
}

// GetDeliveryParams are the parameters of [Store.GetDelivery].
type GetDeliveryParams struct {
	ID string
}

// ListDeliveriesParams are the parameters of [Store.ListDeliveries]. Empty
// filters match everything.
type ListDeliveriesParams struct {
	EventID    string
	EndpointID string
	State      DeliveryState
	// EventType lists only the deliveries of events of that type (exactly;
	// no patterns).
	EventType string
	Cursor    string
	// Limit caps the page size; see [PageLimit].
	Limit int
}

// ListAttemptsParams are the parameters of [Store.ListAttempts].
type ListAttemptsParams struct {
	DeliveryID string
	Cursor     string
	// Limit caps the page size; see [PageLimit].
	Limit int
}

// RedeliverParams are the parameters of [Store.Redeliver].
type RedeliverParams struct {
	DeliveryID string
	Now        time.Time
	// FreshSchedule restarts the retry schedule of the delivery made
	// pending again: its ScheduleStart becomes its Attempts, so it gets
	// the whole schedule once more. Without it, a delivery whose schedule
	// is used up gets one attempt.
	FreshSchedule bool
}

// PruneParams are the parameters of [Store.Prune].
type PruneParams struct {
	// Before is the cut-off of succeeded and skipped deliveries, and of
	// events left with no delivery: those last updated (stored) strictly
	// before it are deleted.
	Before time.Time
	// FailedBefore, when non-zero, is the cut-off of failed deliveries,
	// which are then kept until it rather than Before (usually earlier, so
	// that failures stay longer for inspection and replay). Zero: Before
	// applies to failed deliveries too.
	FailedBefore time.Time
	Limit        int
}

// Cutoff returns the cut-off that applies to a finished delivery in state
// st: FailedBefore for a failed one when it is set, Before otherwise.
func (p *PruneParams) Cutoff(st DeliveryState) time.Time {
	if st == StateFailed && !p.FailedBefore.IsZero() {
		return p.FailedBefore
	}
	return p.Before
}

// TxEnqueuer is implemented by stores that can enqueue inside a transaction
// the host already holds (for PostgreSQL, a pgx.Tx or a *sql.Tx), so that the webhook
// exists if and only if the host's own writes commit. See
// [Dispatcher.EmitTx].
type TxEnqueuer interface {
	// EnqueueTx does what [Store.Enqueue] does, inside tx, without
	// committing it. It returns an error wrapping [ErrInvalidTx] when tx is
	// not a transaction of the store's kind.
	EnqueueTx(ctx context.Context, tx any, p *EnqueueParams) error
}

// Notifier is implemented by stores shared by several processes. It tells
// the local engine about changes made by other processes, so that no
// process has to poll.
type Notifier interface {
	// Notifications returns a channel that receives a value after another
	// process (or a transaction committed through [TxEnqueuer]) may have
	// made deliveries due, or changed endpoints. Values may be coalesced and
	// may be lost; the engine still honours [Store.NextDue]. The channel is
	// closed when the store is closed.
	Notifications() <-chan Notification
}

// Notification is one change reported by a [Notifier].
type Notification struct {
	// EndpointsChanged reports that endpoints were created, replaced or
	// deleted; the receiver reloads them.
	EndpointsChanged bool
	// DeliveriesDue reports that deliveries were enqueued or released.
	DeliveriesDue bool
}
