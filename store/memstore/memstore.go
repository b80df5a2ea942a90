// Package memstore is an in-memory [webhook.Store] for tests and examples.
//
// It is not durable: everything it holds is lost when the process exits,
// so a crash loses every pending delivery. Use boltstore or pgstore for
// anything that must survive a restart. A Store is safe for concurrent use
// by many Dispatchers in one process; it copies records on the way in and
// out, so callers never share memory with it.
package memstore

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hooklet/webhook"
	"github.com/hooklet/webhook/internal/locktable"
)

// Store is an in-memory [webhook.Store]. The zero value is not usable; call
// [New].
type Store struct {
	mu          sync.Mutex
	closed      bool
	endpoints   map[string]webhook.Endpoint
	endpointIDs idSet             // every endpoint, for ListEndpoints
	tenantIDs   map[string]*idSet // the endpoints of each tenant
	events      map[string]*eventRec
	deliveries  map[string]*deliveryRec
	seq         uint64 // the enqueue order of ordered deliveries
	locks       locktable.Table
}

var (
	_ webhook.Store   = (*Store)(nil)
	_ webhook.Batcher = (*Store)(nil)
)

type eventRec struct {
	event      webhook.Event
	storedAt   time.Time
	deliveries int
}

type deliveryRec struct {
	d        webhook.Delivery
	token    string // empty when not leased
	until    time.Time
	attempts []webhook.Attempt
	seq      uint64 // place in its ordered sequence; 0 when unordered
	ackHash  []byte // the token hash a report must carry, while d.AwaitingReport
	reports  []webhook.Report
}

// seqKey names an ordered sequence: an endpoint and an ordering key.
type seqKey struct{ endpoint, key string }

// heads returns the head of every ordered sequence that has a pending
// delivery: the one enqueued first.
func (s *Store) heads() map[seqKey]*deliveryRec {
	h := map[seqKey]*deliveryRec{}
	for _, r := range s.deliveries {
		if !r.d.Ordered || r.d.State != webhook.StatePending {
			continue
		}
		k := seqKey{r.d.EndpointID, r.d.OrderingKey}
		if cur, ok := h[k]; !ok || r.seq < cur.seq {
			h[k] = r
		}
	}
	return h
}

// leasable reports whether r may be leased now that heads are known: an
// unordered delivery always, an ordered one only as its sequence's head.
func leasable(r *deliveryRec, heads map[seqKey]*deliveryRec) bool {
	return !r.d.Ordered || heads[seqKey{r.d.EndpointID, r.d.OrderingKey}] == r
}

// due reports when the pending delivery r can next be leased.
func (r *deliveryRec) due() time.Time {
	if r.token != "" {
		return r.until
	}
	return r.d.NextAttemptAt
}

// New returns an empty Store.
func New() *Store {
	return &Store{
		endpoints:  map[string]webhook.Endpoint{},
		tenantIDs:  map[string]*idSet{},
		events:     map[string]*eventRec{},
		deliveries: map[string]*deliveryRec{},
	}
}

// Close discards the store's contents; every later call returns
// [webhook.ErrClosed]. Closing again does nothing and returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.endpoints, s.events, s.deliveries = nil, nil, nil
	return nil
}

// lock checks ctx, takes the lock and checks the store is open. On nil the
// caller holds the lock.
func (s *Store) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("memstore: %w", webhook.ErrClosed)
	}
	return nil
}

// PutEndpoint creates or replaces an endpoint, storing a copy.
func (s *Store) PutEndpoint(ctx context.Context, p *webhook.PutEndpointParams) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if !p.IfUpdatedAt.IsZero() {
		old, ok := s.endpoints[p.Endpoint.ID]
		if !ok {
			return notFound("endpoint", p.Endpoint.ID)
		}
		if !old.UpdatedAt.Equal(p.IfUpdatedAt) {
			return fmt.Errorf("%w: endpoint %q changed since it was read", webhook.ErrConflict, p.Endpoint.ID)
		}
	}
	s.indexEndpoint(p.Endpoint.ID, p.Endpoint.Tenant)
	s.endpoints[p.Endpoint.ID] = p.Endpoint.Clone()
	return nil
}

// indexEndpoint files the endpoint id under tenant in the ID indexes,
// moving it from the tenant it had. Called with mu held, before the
// endpoint is stored.
func (s *Store) indexEndpoint(id, tenant string) {
	old, ok := s.endpoints[id]
	if ok && old.Tenant == tenant {
		return
	}
	if ok {
		s.unindexEndpoint(id, old.Tenant)
	} else {
		s.endpointIDs.add(id)
	}
	if tenant == "" {
		return
	}
	ids, ok := s.tenantIDs[tenant]
	if !ok {
		ids = &idSet{}
		s.tenantIDs[tenant] = ids
	}
	ids.add(id)
}

// unindexEndpoint drops the endpoint id from its tenant's index. Called
// with mu held.
func (s *Store) unindexEndpoint(id, tenant string) {
	if ids, ok := s.tenantIDs[tenant]; ok {
		ids.remove(id)
		if ids.len() == 0 {
			delete(s.tenantIDs, tenant)
		}
	}
}

// GetEndpoint returns a copy of one endpoint or [webhook.ErrNotFound].
func (s *Store) GetEndpoint(ctx context.Context, p *webhook.GetEndpointParams) (webhook.Endpoint, error) {
	if err := s.lock(ctx); err != nil {
		return webhook.Endpoint{}, err
	}
	defer s.mu.Unlock()
	ep, ok := s.endpoints[p.ID]
	if !ok {
		return webhook.Endpoint{}, notFound("endpoint", p.ID)
	}
	return webhook.Endpoint.Clone(ep), nil
}

// DeleteEndpoint removes an endpoint, keeping its deliveries, or returns
// [webhook.ErrNotFound].
func (s *Store) DeleteEndpoint(ctx context.Context, p *webhook.DeleteEndpointParams) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	old, ok := s.endpoints[p.ID]
	if !ok {
		return notFound("endpoint", p.ID)
	}
	s.unindexEndpoint(p.ID, old.Tenant)
	s.endpointIDs.remove(p.ID)
	delete(s.endpoints, p.ID)
	return nil
}

// ListEndpoints returns endpoints in ID order, a page at a time. The cursor
// is the ID of the last endpoint of the previous page. A page costs a
// binary search in an ordered index (of the tenant's endpoints when
// p.Tenant is set), not a scan.
func (s *Store) ListEndpoints(ctx context.Context, p *webhook.ListEndpointsParams) (webhook.Page[webhook.Endpoint], error) {
	if err := s.lock(ctx); err != nil {
		return webhook.Page[webhook.Endpoint]{}, err
	}
	defer s.mu.Unlock()
	index := &s.endpointIDs
	if p.Tenant != "" {
		if index = s.tenantIDs[p.Tenant]; index == nil {
			return webhook.Page[webhook.Endpoint]{Items: []webhook.Endpoint{}}, nil
		}
	}
	// One more than a page, so that page sees whether another follows.
	ids := index.after(p.Cursor, webhook.PageLimit(p.Limit)+1)
	return page(ids, p.Limit, func(id string) webhook.Endpoint { return webhook.Endpoint.Clone(s.endpoints[id]) }), nil
}

// Enqueue stores each new event with its deliveries; items whose event ID
// is already stored, or repeats an earlier item, are skipped. A delivery ID
// that is already stored, or repeats within the call, fails the whole call
// with an error wrapping [webhook.ErrDuplicateDelivery] and nothing is
// written.
func (s *Store) Enqueue(ctx context.Context, p *webhook.EnqueueParams) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	events := make(map[string]bool, len(p.Items))
	deliveries := map[string]bool{}
	var items []webhook.EnqueueItem
	for _, it := range p.Items {
		if _, ok := s.events[it.Event.ID]; ok || events[it.Event.ID] {
			continue
		}
		events[it.Event.ID] = true
		for _, d := range it.Deliveries {
			if _, ok := s.deliveries[d.ID]; ok || deliveries[d.ID] {
				return fmt.Errorf("memstore: enqueue: delivery %q: %w", d.ID, webhook.ErrDuplicateDelivery)
			}
			deliveries[d.ID] = true
		}
		items = append(items, it)
	}
	for _, it := range items {
		s.events[it.Event.ID] = &eventRec{event: webhook.Event.Clone(it.Event), storedAt: p.Now}
		for _, d := range it.Deliveries {
			r := &deliveryRec{d: d}
			r.d.AwaitingReport = false
			if d.Ordered {
				s.seq++
				r.seq = s.seq
			}
			s.deliveries[d.ID] = r
			if ev, ok := s.events[d.EventID]; ok {
				ev.deliveries++
			}
		}
	}
	return nil
}

// Lease hands up to Limit due deliveries to the caller, earliest due
// first (ties by ID), and of each ordered sequence only its head.
func (s *Store) Lease(ctx context.Context, p *webhook.LeaseParams) ([]webhook.Lease, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	if p.Limit <= 0 {
		return nil, nil
	}
	excluded := set(p.ExcludeEndpoints)
	heads := s.heads()
	batches := s.batches()
	var due []*deliveryRec
	for _, r := range s.deliveries {
		if r.d.State == webhook.StatePending && !excluded[r.d.EndpointID] && !r.due().After(p.Now) && leasable(r, heads) {
			due = append(due, r)
		}
	}
	slices.SortFunc(due, func(a, b *deliveryRec) int {
		return cmp.Or(a.due().Compare(b.due()), cmp.Compare(a.d.ID, b.d.ID))
	})
	// A formed batch goes whole, counted once, or not at all.
	var picked []*deliveryRec
	taken := map[string]bool{}
	for _, r := range due {
		if len(taken) >= p.Limit {
			break
		}
		if r.d.BatchID == "" {
			picked = append(picked, r)
			taken[r.d.ID] = true
			continue
		}
		if taken[r.d.BatchID] || !batchFree(batches[r.d.BatchID], p.Now) {
			continue
		}
		taken[r.d.BatchID] = true
		picked = append(picked, batches[r.d.BatchID]...)
	}
	due = picked
	out := make([]webhook.Lease, len(due))
	for i, r := range due {
		r.token = rand.Text()
		r.until = p.Until
		var ev webhook.Event
		if e, ok := s.events[r.d.EventID]; ok {
			ev = webhook.Event.Clone(e.event)
		}
		out[i] = webhook.Lease{Delivery: r.d, Event: ev, Token: r.token, Until: r.until}
	}
	return out, nil
}

// batches returns the pending members of every formed batch, in ID
// order.
func (s *Store) batches() map[string][]*deliveryRec {
	b := map[string][]*deliveryRec{}
	for _, r := range s.deliveries {
		if r.d.BatchID != "" && r.d.State == webhook.StatePending {
			b[r.d.BatchID] = append(b[r.d.BatchID], r)
		}
	}
	for _, rs := range b {
		slices.SortFunc(rs, func(a, b *deliveryRec) int { return cmp.Compare(a.d.ID, b.d.ID) })
	}
	return b
}

// batchFree reports whether no member of a batch is held by a live lease
// at now.
func batchFree(members []*deliveryRec, now time.Time) bool {
	for _, r := range members {
		if r.token != "" && r.until.After(now) {
			return false
		}
	}
	return true
}

// FormBatch records that the held deliveries of p.Leases form the batch
// p.BatchID and extends their leases, or, when a lease is stale, writes
// nothing and lists the stale ones.
func (s *Store) FormBatch(ctx context.Context, p *webhook.FormBatchParams) (webhook.BatchResult, error) {
	if err := s.lock(ctx); err != nil {
		return webhook.BatchResult{}, err
	}
	defer s.mu.Unlock()
	var res webhook.BatchResult
	for _, ref := range p.Leases {
		if r := s.held(ref); r == nil || r.d.State != webhook.StatePending {
			res.Stale = append(res.Stale, ref)
		}
	}
	if len(res.Stale) > 0 {
		return res, nil
	}
	for _, ref := range p.Leases {
		r := s.held(ref)
		r.d.BatchID = p.BatchID
		r.until = p.Until
	}
	return res, nil
}

// held returns the delivery whose lease ref names, or nil when the token
// is stale.
func (s *Store) held(ref webhook.LeaseRef) *deliveryRec {
	r, ok := s.deliveries[ref.DeliveryID]
	if !ok || r.token == "" || r.token != ref.Token {
		return nil
	}
	return r
}

// ExtendLeases moves the deadline of the leases still held.
func (s *Store) ExtendLeases(ctx context.Context, p *webhook.ExtendLeasesParams) (webhook.BatchResult, error) {
	if err := s.lock(ctx); err != nil {
		return webhook.BatchResult{}, err
	}
	defer s.mu.Unlock()
	var res webhook.BatchResult
	for _, ref := range p.Leases {
		r := s.held(ref)
		if r == nil {
			res.Stale = append(res.Stale, ref)
			continue
		}
		r.until = p.Until
	}
	return res, nil
}

// Complete records the outcomes of held leases and refuses stale ones.
func (s *Store) Complete(ctx context.Context, p *webhook.CompleteParams) (webhook.BatchResult, error) {
	if err := s.lock(ctx); err != nil {
		return webhook.BatchResult{}, err
	}
	defer s.mu.Unlock()
	var res webhook.BatchResult
	for _, o := range p.Outcomes {
		r := s.held(o.Lease)
		if r == nil {
			res.Stale = append(res.Stale, o.Lease)
			continue
		}
		for _, a := range o.Attempts {
			a = webhook.Attempt.Clone(a)
			a.DeliveryID = r.d.ID
			r.attempts = append(r.attempts, a)
		}
		if w := o.WaitEnded; w != nil && len(o.Attempts) == 0 {
			r.failLast(w)
		}
		r.ackHash = slices.Clone(o.AwaitTokenHash)
		r.d.AwaitingReport = len(o.AwaitTokenHash) > 0
		if n := len(o.Attempts); n > 0 {
			last := o.Attempts[n-1]
			r.d.Attempts += n
			r.d.LastStatusCode = last.StatusCode
			r.d.LastError = last.Error
		}
		r.d.State = o.State
		if o.State == webhook.StatePending {
			r.d.NextAttemptAt = o.NextAttemptAt
		}
		r.d.UpdatedAt = p.Now
		r.token, r.until = "", time.Time{}
	}
	return res, nil
}

// Release gives held leases back; the deliveries are due at Now.
func (s *Store) Release(ctx context.Context, p *webhook.ReleaseParams) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	for _, ref := range p.Leases {
		if r := s.held(ref); r != nil {
			r.token, r.until = "", time.Time{}
			r.d.NextAttemptAt = p.Now
			r.d.UpdatedAt = p.Now
		}
	}
	return nil
}

// NextDue returns the earliest instant a pending, not excluded delivery
// that is not waiting behind the head of its sequence becomes leasable.
func (s *Store) NextDue(ctx context.Context, p *webhook.NextDueParams) (time.Time, bool, error) {
	if err := s.lock(ctx); err != nil {
		return time.Time{}, false, err
	}
	defer s.mu.Unlock()
	excluded := set(p.ExcludeEndpoints)
	heads := s.heads()
	var next time.Time
	found := false
	for _, r := range s.deliveries {
		if r.d.State != webhook.StatePending || excluded[r.d.EndpointID] || !leasable(r, heads) {
			continue
		}
		if due := r.due(); !found || due.Before(next) {
			next, found = due, true
		}
	}
	return next, found, nil
}

// GetEvent returns a copy of one event or [webhook.ErrNotFound].
func (s *Store) GetEvent(ctx context.Context, p *webhook.GetEventParams) (webhook.Event, error) {
	if err := s.lock(ctx); err != nil {
		return webhook.Event{}, err
	}
	defer s.mu.Unlock()
	e, ok := s.events[p.ID]
	if !ok {
		return webhook.Event{}, notFound("event", p.ID)
	}
	return webhook.Event.Clone(e.event), nil
}

// GetDelivery returns one delivery or [webhook.ErrNotFound].
func (s *Store) GetDelivery(ctx context.Context, p *webhook.GetDeliveryParams) (webhook.Delivery, error) {
	if err := s.lock(ctx); err != nil {
		return webhook.Delivery{}, err
	}
	defer s.mu.Unlock()
	r, ok := s.deliveries[p.ID]
	if !ok {
		return webhook.Delivery{}, notFound("delivery", p.ID)
	}
	return r.d, nil
}

// ListDeliveries returns the deliveries matching every set filter, in ID
// order, a page at a time. The cursor is the ID of the last delivery of the
// previous page.
func (s *Store) ListDeliveries(ctx context.Context, p *webhook.ListDeliveriesParams) (webhook.Page[webhook.Delivery], error) {
	if err := s.lock(ctx); err != nil {
		return webhook.Page[webhook.Delivery]{}, err
	}
	defer s.mu.Unlock()
	if p.State != "" && !p.State.Valid() {
		return webhook.Page[webhook.Delivery]{}, fmt.Errorf("memstore: list deliveries: %w: unknown state %q", webhook.ErrInvalidParams, p.State)
	}
	var ids []string
	for id, r := range s.deliveries {
		if id > p.Cursor &&
			(p.EventID == "" || r.d.EventID == p.EventID) &&
			(p.EndpointID == "" || r.d.EndpointID == p.EndpointID) &&
			(p.State == "" || r.d.State == p.State) &&
			(p.EventType == "" || s.events[r.d.EventID] != nil && s.events[r.d.EventID].event.Type == p.EventType) {
			ids = append(ids, id)
		}
	}
	return page(ids, p.Limit, func(id string) webhook.Delivery { return s.deliveries[id].d }), nil
}

// ListAttempts returns a delivery's attempts in the order they were made,
// a page at a time, or [webhook.ErrNotFound] when the delivery is missing.
// The cursor is the count of attempts already listed.
func (s *Store) ListAttempts(ctx context.Context, p *webhook.ListAttemptsParams) (webhook.Page[webhook.Attempt], error) {
	if err := s.lock(ctx); err != nil {
		return webhook.Page[webhook.Attempt]{}, err
	}
	defer s.mu.Unlock()
	r, ok := s.deliveries[p.DeliveryID]
	if !ok {
		return webhook.Page[webhook.Attempt]{}, notFound("delivery", p.DeliveryID)
	}
	start := 0
	if p.Cursor != "" {
		n, err := strconv.Atoi(p.Cursor)
		if err != nil || n < 0 {
			return webhook.Page[webhook.Attempt]{}, fmt.Errorf("memstore: invalid cursor %q", p.Cursor)
		}
		start = min(n, len(r.attempts))
	}
	limit := webhook.PageLimit(p.Limit)
	end := min(start+limit, len(r.attempts))
	var pg webhook.Page[webhook.Attempt]
	for _, a := range r.attempts[start:end] {
		pg.Items = append(pg.Items, webhook.Attempt.Clone(a))
	}
	if end < len(r.attempts) {
		pg.Next = strconv.Itoa(end)
	}
	return pg, nil
}

// Redeliver makes a finished delivery pending again, due at Now; an
// ordered one joins the end of its sequence.
func (s *Store) Redeliver(ctx context.Context, p *webhook.RedeliverParams) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	r, ok := s.deliveries[p.DeliveryID]
	if !ok {
		return notFound("delivery", p.DeliveryID)
	}
	if !r.d.State.Finished() {
		return nil
	}
	r.d.State = webhook.StatePending
	r.d.NextAttemptAt = p.Now
	r.d.UpdatedAt = p.Now
	r.d.BatchID = ""
	if p.FreshSchedule {
		r.d.ScheduleStart = r.d.Attempts
	}
	r.token, r.until = "", time.Time{}
	if r.d.Ordered {
		s.seq++
		r.seq = s.seq
	}
	return nil
}

// Prune deletes up to Limit finished deliveries last updated before
// Before (failed ones before FailedBefore, when set), oldest first, with their attempts, then every event stored before
// Before that has no delivery left.
func (s *Store) Prune(ctx context.Context, p *webhook.PruneParams) (int, error) {
	if err := s.lock(ctx); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	var old []*deliveryRec
	for _, r := range s.deliveries {
		if r.d.State.Finished() && r.d.UpdatedAt.Before(p.Cutoff(r.d.State)) {
			old = append(old, r)
		}
	}
	slices.SortFunc(old, func(a, b *deliveryRec) int {
		return cmp.Or(a.d.UpdatedAt.Compare(b.d.UpdatedAt), cmp.Compare(a.d.ID, b.d.ID))
	})
	if len(old) > p.Limit {
		old = old[:max(p.Limit, 0)]
	}
	for _, r := range old {
		if ev, ok := s.events[r.d.EventID]; ok {
			ev.deliveries--
		}
		delete(s.deliveries, r.d.ID)
	}
	for id, e := range s.events {
		if e.deliveries <= 0 && e.storedAt.Before(p.Before) {
			delete(s.events, id)
		}
	}
	return len(old), nil
}

// page sorts ids and returns the first limit of them, made into items.
func page[T any](ids []string, limit int, item func(id string) T) webhook.Page[T] {
	slices.Sort(ids)
	limit = webhook.PageLimit(limit)
	var pg webhook.Page[T]
	if len(ids) > limit {
		ids = ids[:limit]
		pg.Next = ids[len(ids)-1]
	}
	pg.Items = make([]T, len(ids))
	for i, id := range ids {
		pg.Items[i] = item(id)
	}
	return pg
}

func notFound(kind, id string) error {
	return fmt.Errorf("memstore: %s %q: %w", kind, id, webhook.ErrNotFound)
}

func set(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}
