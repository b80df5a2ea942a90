package boltstore

import (
	"bytes"
	"container/heap"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	webhook "github.com/hooklet/webhook"
)

// queue is the set of buckets one write transaction touches, plus the
// endpoints whose earliest due time may have changed.
type queue struct {
	tx         *bolt.Tx
	deliveries space
	due        space
	heads      space
	headIndex  space
	leases     space
	finished   space
	dirty      map[string]struct{}
}

func newQueue(tx *bolt.Tx) *queue {
	return &queue{
		tx:         tx,
		deliveries: sp(tx, spaceDeliveries),
		due:        sp(tx, spaceEndpointIndex),
		heads:      sp(tx, spaceHeads),
		headIndex:  sp(tx, spaceHeadIndex),
		leases:     sp(tx, spaceLeases),
		finished:   sp(tx, spaceFinished),
		dirty:      make(map[string]struct{}),
	}
}

func (q *queue) getDelivery(id string) (webhook.Delivery, bool, error) {
	v := q.deliveries.Get([]byte(id))
	if v == nil {
		return webhook.Delivery{}, false, nil
	}
	d, err := decodeDelivery(id, v)
	if err != nil {
		return d, false, corrupt("delivery", id, err)
	}
	return d, true, nil
}

func (q *queue) putDelivery(d *webhook.Delivery) error {
	// bbolt keeps the value until commit: every Put gets its own buffer.
	return q.deliveries.Put([]byte(d.ID), encodeDelivery(nil, d))
}

func (q *queue) addDue(endpointID string, t time.Time, deliveryID string) error {
	q.dirty[endpointID] = struct{}{}
	return q.due.Put(dueKey(endpointID, t, deliveryID), nil)
}

func (q *queue) delDue(endpointID string, t time.Time, deliveryID string) error {
	q.dirty[endpointID] = struct{}{}
	return q.due.Delete(dueKey(endpointID, t, deliveryID))
}

func (q *queue) getLease(deliveryID string) (leaseRecord, bool, error) {
	v := q.leases.Get([]byte(deliveryID))
	if v == nil {
		return leaseRecord{}, false, nil
	}
	l, err := decodeLease(v)
	if err != nil {
		return l, false, corrupt("lease", deliveryID, err)
	}
	return l, true, nil
}

func (q *queue) putLease(deliveryID string, l *leaseRecord) error {
	return q.leases.Put([]byte(deliveryID), encodeLease(nil, l))
}

// dueAt is where a pending delivery sits in the due index: its lease
// deadline while leased, else its NextAttemptAt.
func (q *queue) dueAt(d *webhook.Delivery) (time.Time, bool, error) {
	l, ok, err := q.getLease(d.ID)
	if err != nil || !ok {
		return d.NextAttemptAt, false, err
	}
	return l.Until, true, nil
}

// finish moves a delivery out of the pending queue into the finished index.
func (q *queue) addFinished(d *webhook.Delivery) error {
	return q.finished.Put(timeKey(d.UpdatedAt, d.ID), nil)
}

func (q *queue) delFinished(d *webhook.Delivery) error {
	return q.finished.Delete(timeKey(d.UpdatedAt, d.ID))
}

// fixHeads brings the head indexes of the dirty endpoints in line with the
// due index.
func (q *queue) fixHeads() error {
	c := q.due.Cursor()
	for ep := range q.dirty {
		prefix := endpointPrefix(ep, subDue)
		var head []byte
		if k, _ := c.Seek(prefix); hasPrefix(k, prefix) {
			head = append([]byte{}, k[len(prefix):len(prefix)+timeLen]...)
		}
		old := q.heads.Get([]byte(ep))
		if bytes.Equal(old, head) && (old == nil) == (head == nil) {
			continue
		}
		if old != nil {
			if err := q.headIndex.Delete(append(append([]byte{}, old...), ep...)); err != nil {
				return err
			}
		}
		if head == nil {
			if err := q.heads.Delete([]byte(ep)); err != nil {
				return err
			}
			continue
		}
		if err := q.heads.Put([]byte(ep), head); err != nil {
			return err
		}
		if err := q.headIndex.Put(append(head[:timeLen:timeLen], ep...), nil); err != nil {
			return err
		}
	}
	clear(q.dirty)
	return nil
}

// releaseAllLeases puts every leased delivery back at its NextAttemptAt,
// which is in the past (it was due when leased), so it is due at once.
func releaseAllLeases(tx *bolt.Tx) error {
	q := newQueue(tx)
	var ids []string
	c := q.leases.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		ids = append(ids, string(k))
	}
	for _, id := range ids {
		l, _, err := q.getLease(id)
		if err != nil {
			return err
		}
		if err := q.leases.Delete([]byte(id)); err != nil {
			return err
		}
		d, ok, err := q.getDelivery(id)
		if err != nil {
			return err
		}
		if !ok || d.State != webhook.StatePending {
			continue
		}
		if err := q.delDue(d.EndpointID, l.Until, id); err != nil {
			return err
		}
		if err := q.addDue(d.EndpointID, d.NextAttemptAt, id); err != nil {
			return err
		}
	}
	return q.fixHeads()
}

// Enqueue stores each event with its deliveries in one durable
// transaction; items whose event ID is already stored, or repeated within
// the call, are skipped whole. A delivery with an empty State is stored as
// pending, with an empty EventID as the item's event, and zero CreatedAt
// and UpdatedAt as Now.
func (s *Store) Enqueue(ctx context.Context, p *webhook.EnqueueParams) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if len(p.Items) == 0 {
		return nil
	}
	return s.update(func(tx *bolt.Tx) error {
		q := newQueue(tx)
		events := sp(tx, spaceEvents)
		byEndpoint := sp(tx, spaceEndpointIndex)
		orphans := sp(tx, spaceOrphans)
		// IDs grow with time, so most keyspaces are appended to: fill
		// pages instead of leaving half of each empty.
		events.b.FillPercent = appendFillPercent
		q.deliveries.b.FillPercent = appendFillPercent
		var seen map[string]struct{}
		if len(p.Items) > 1 {
			seen = make(map[string]struct{}, len(p.Items))
		}
		var dlvIDs []string
		for i := range p.Items {
			it := &p.Items[i]
			if it.Event.ID == "" {
				return fmt.Errorf("boltstore: enqueue: item %d: %w: event ID is empty", i, webhook.ErrInvalidEvent)
			}
			if seen != nil {
				if _, dup := seen[it.Event.ID]; dup {
					continue
				}
				seen[it.Event.ID] = struct{}{}
			}
			evKey := []byte(it.Event.ID)
			if events.Get(evKey) != nil {
				continue
			}
			dlvIDs = dlvIDs[:0]
			for j := range it.Deliveries {
				d := it.Deliveries[j]
				if d.ID == "" {
					return fmt.Errorf("boltstore: enqueue: event %q: delivery %d has no ID", it.Event.ID, j)
				}
				dlvIDs = append(dlvIDs, d.ID)
				if q.deliveries.Get([]byte(d.ID)) != nil {
					return fmt.Errorf("boltstore: enqueue: event %q: delivery ID %q is already stored", it.Event.ID, d.ID)
				}
				d.EventID = it.Event.ID
				if d.State == "" {
					d.State = webhook.StatePending
				}
				if d.CreatedAt.IsZero() {
					d.CreatedAt = p.Now
				}
				if d.UpdatedAt.IsZero() {
					d.UpdatedAt = p.Now
				}
				if err := q.putDelivery(&d); err != nil {
					return err
				}
				if err := byEndpoint.Put(endpointDeliveryKey(d.EndpointID, d.ID), nil); err != nil {
					return err
				}
				var err error
				if d.State.Finished() {
					err = q.addFinished(&d)
				} else {
					err = q.addDue(d.EndpointID, d.NextAttemptAt, d.ID)
				}
				if err != nil {
					return err
				}
			}
			slices.Sort(dlvIDs)
			if err := events.Put(evKey, encodeEvent(nil, &it.Event, p.Now, dlvIDs)); err != nil {
				return err
			}
			if len(it.Deliveries) == 0 {
				if err := orphans.Put(timeKey(p.Now, it.Event.ID), nil); err != nil {
					return err
				}
			}
		}
		return q.fixHeads()
	})
}

// appendFillPercent is the bbolt FillPercent of the data bucket in an
// Enqueue, whose keys mostly arrive in ascending order.
const appendFillPercent = 0.95

// candidate is a due delivery found by Lease.
type candidate struct {
	endpointID string
	deliveryID string
	due        time.Time
}

// epCursor walks one endpoint's entries of the due index.
type epCursor struct {
	endpointID string
	prefix     []byte
	c          *cursor
	key        []byte // current key; the part after prefix is (due, delivery ID)
}

func (e *epCursor) rest() []byte { return e.key[len(e.prefix):] }

type cursorHeap []*epCursor

func (h cursorHeap) Len() int           { return len(h) }
func (h cursorHeap) Less(i, j int) bool { return bytes.Compare(h[i].rest(), h[j].rest()) < 0 }
func (h cursorHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)        { *h = append(*h, x.(*epCursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// scanDue returns up to limit deliveries due at now, earliest first, outside
// exclude. It merges the per-endpoint due lists, opening an endpoint's list
// only when the head index shows it could hold the next delivery, so it
// reads about limit entries plus one per endpoint passed over.
func scanDue(tx *bolt.Tx, now time.Time, limit int, exclude map[string]struct{}) []candidate {
	due := sp(tx, spaceEndpointIndex)
	hc := sp(tx, spaceHeadIndex).Cursor()
	nowKey := appendTime(nil, now)
	var h cursorHeap
	var out []candidate
	hk, _ := hc.First()
	for len(out) < limit {
		// Open every endpoint whose head could come before the current
		// minimum.
		for hk != nil && bytes.Compare(hk[:timeLen], nowKey) <= 0 &&
			(len(h) == 0 || bytes.Compare(hk[:timeLen], h[0].rest()[:timeLen]) <= 0) {
			ep := string(hk[timeLen:])
			hk, _ = hc.Next()
			if _, skip := exclude[ep]; skip {
				continue
			}
			e := &epCursor{endpointID: ep, prefix: endpointPrefix(ep, subDue), c: due.Cursor()}
			if k, _ := e.c.Seek(e.prefix); hasPrefix(k, e.prefix) {
				e.key = k
				heap.Push(&h, e)
			}
		}
		if len(h) == 0 {
			break
		}
		e := h[0]
		r := e.rest()
		if bytes.Compare(r[:timeLen], nowKey) > 0 {
			break
		}
		out = append(out, candidate{
			endpointID: e.endpointID,
			deliveryID: string(r[timeLen:]),
			due:        parseTime(r[:timeLen]),
		})
		if k, _ := e.c.Next(); hasPrefix(k, e.prefix) {
			e.key = k
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
	}
	return out
}

func excludeSet(ids []string) map[string]struct{} {
	if len(ids) == 0 {
		return nil
	}
	m := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		m[id] = struct{}{}
	}
	return m
}

// newToken returns a fresh random lease token.
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// Lease hands up to Limit due deliveries to Owner until Until, earliest due
// first, each with a fresh random token. A Limit of 0 or less leases
// nothing.
func (s *Store) Lease(ctx context.Context, p *webhook.LeaseParams) ([]webhook.Lease, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if p.Limit <= 0 {
		return nil, nil
	}
	var out []webhook.Lease
	err := s.update(func(tx *bolt.Tx) error {
		out = nil
		cands := scanDue(tx, p.Now, p.Limit, excludeSet(p.ExcludeEndpoints))
		if len(cands) == 0 {
			return nil
		}
		q := newQueue(tx)
		events := sp(tx, spaceEvents)
		evCache := make(map[string]webhook.Event)
		out = make([]webhook.Lease, 0, len(cands))
		for _, c := range cands {
			d, ok, err := q.getDelivery(c.deliveryID)
			if err != nil {
				return err
			}
			if !ok {
				return corrupt("due index entry", c.deliveryID, fmt.Errorf("delivery missing"))
			}
			ev, ok := evCache[d.EventID]
			if !ok {
				v := events.Get([]byte(d.EventID))
				if v == nil {
					return corrupt("delivery", d.ID, fmt.Errorf("event %q missing", d.EventID))
				}
				r, err := decodeEvent(d.EventID, v)
				if err != nil {
					return corrupt("event", d.EventID, err)
				}
				ev = r.Event
				evCache[d.EventID] = ev
			} else {
				ev = cloneEvent(ev)
			}
			l := leaseRecord{Until: p.Until, Token: newToken(), Owner: p.Owner}
			if err := q.putLease(d.ID, &l); err != nil {
				return err
			}
			if err := q.delDue(c.endpointID, c.due, d.ID); err != nil {
				return err
			}
			if err := q.addDue(c.endpointID, p.Until, d.ID); err != nil {
				return err
			}
			out = append(out, webhook.Lease{Delivery: d, Event: ev, Token: l.Token, Until: p.Until})
		}
		return q.fixHeads()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// cloneEvent copies the parts of ev that a caller could modify, so that
// two leases never share a payload or attribute map.
func cloneEvent(ev webhook.Event) webhook.Event {
	if ev.Payload != nil {
		ev.Payload = append([]byte{}, ev.Payload...)
	}
	if ev.Attributes != nil {
		m := make(map[string]string, len(ev.Attributes))
		for k, v := range ev.Attributes {
			m[k] = v
		}
		ev.Attributes = m
	}
	return ev
}

// heldLease returns the delivery a ref names when the ref's token is the
// one held, with its lease.
func (q *queue) heldLease(ref webhook.LeaseRef) (webhook.Delivery, leaseRecord, bool, error) {
	l, ok, err := q.getLease(ref.DeliveryID)
	if err != nil || !ok || l.Token != ref.Token || ref.Token == "" {
		return webhook.Delivery{}, l, false, err
	}
	d, ok, err := q.getDelivery(ref.DeliveryID)
	if err != nil || !ok || d.State != webhook.StatePending {
		return d, l, false, err
	}
	return d, l, true, nil
}

// ExtendLeases moves the deadline of the leases still held with the given
// tokens to Until; the others are listed in the result as stale.
func (s *Store) ExtendLeases(ctx context.Context, p *webhook.ExtendLeasesParams) (webhook.BatchResult, error) {
	var res webhook.BatchResult
	if err := s.begin(ctx); err != nil {
		return res, err
	}
	if len(p.Leases) == 0 {
		return res, nil
	}
	err := s.update(func(tx *bolt.Tx) error {
		res = webhook.BatchResult{}
		q := newQueue(tx)
		for _, ref := range p.Leases {
			d, l, ok, err := q.heldLease(ref)
			if err != nil {
				return err
			}
			if !ok {
				res.Stale = append(res.Stale, ref)
				continue
			}
			if err := q.delDue(d.EndpointID, l.Until, d.ID); err != nil {
				return err
			}
			l.Until = p.Until
			if err := q.putLease(d.ID, &l); err != nil {
				return err
			}
			if err := q.addDue(d.EndpointID, l.Until, d.ID); err != nil {
				return err
			}
		}
		return q.fixHeads()
	})
	return res, err
}

// Complete records the outcomes of leased deliveries in one durable
// transaction. Attempts are stored numbered from the delivery's Attempts+1
// in the order given; outcomes whose token is stale are listed in the
// result and nothing of them is written.
func (s *Store) Complete(ctx context.Context, p *webhook.CompleteParams) (webhook.BatchResult, error) {
	var res webhook.BatchResult
	if err := s.begin(ctx); err != nil {
		return res, err
	}
	if len(p.Outcomes) == 0 {
		return res, nil
	}
	err := s.update(func(tx *bolt.Tx) error {
		res = webhook.BatchResult{}
		q := newQueue(tx)
		attempts := sp(tx, spaceAttempts)
		for i := range p.Outcomes {
			o := &p.Outcomes[i]
			d, l, ok, err := q.heldLease(o.Lease)
			if err != nil {
				return err
			}
			if !ok {
				res.Stale = append(res.Stale, o.Lease)
				continue
			}
			if err := q.leases.Delete([]byte(d.ID)); err != nil {
				return err
			}
			if err := q.delDue(d.EndpointID, l.Until, d.ID); err != nil {
				return err
			}
			for j := range o.Attempts {
				a := o.Attempts[j]
				d.Attempts++
				if err := attempts.Put(attemptKey(d.ID, d.Attempts), encodeAttempt(nil, &a)); err != nil {
					return err
				}
				d.LastStatusCode = a.StatusCode
				d.LastError = a.Error
			}
			state := o.State
			if state == "" {
				state = webhook.StatePending
			}
			d.State = state
			d.UpdatedAt = p.Now
			if state.Finished() {
				if err := q.addFinished(&d); err != nil {
					return err
				}
			} else {
				d.NextAttemptAt = o.NextAttemptAt
				if err := q.addDue(d.EndpointID, d.NextAttemptAt, d.ID); err != nil {
					return err
				}
			}
			if err := q.putDelivery(&d); err != nil {
				return err
			}
		}
		return q.fixHeads()
	})
	return res, err
}

// Release gives leased deliveries back without an attempt: they are due at
// Now. Stale tokens are ignored.
func (s *Store) Release(ctx context.Context, p *webhook.ReleaseParams) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if len(p.Leases) == 0 {
		return nil
	}
	return s.update(func(tx *bolt.Tx) error {
		q := newQueue(tx)
		for _, ref := range p.Leases {
			d, l, ok, err := q.heldLease(ref)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if err := q.leases.Delete([]byte(d.ID)); err != nil {
				return err
			}
			if err := q.delDue(d.EndpointID, l.Until, d.ID); err != nil {
				return err
			}
			d.NextAttemptAt = p.Now
			d.UpdatedAt = p.Now
			if err := q.addDue(d.EndpointID, d.NextAttemptAt, d.ID); err != nil {
				return err
			}
			if err := q.putDelivery(&d); err != nil {
				return err
			}
		}
		return q.fixHeads()
	})
}

// NextDue returns the earliest instant at which Lease with the same
// ExcludeEndpoints could return a delivery, and false when none is pending.
// It reads one index entry per excluded endpoint at most, plus one.
func (s *Store) NextDue(ctx context.Context, p *webhook.NextDueParams) (time.Time, bool, error) {
	if err := s.begin(ctx); err != nil {
		return time.Time{}, false, err
	}
	exclude := excludeSet(p.ExcludeEndpoints)
	var (
		at    time.Time
		found bool
	)
	err := s.view(func(tx *bolt.Tx) error {
		c := sp(tx, spaceHeadIndex).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if _, skip := exclude[string(k[timeLen:])]; skip {
				continue
			}
			at, found = parseTime(k[:timeLen]), true
			return nil
		}
		return nil
	})
	if err != nil {
		return time.Time{}, false, err
	}
	return at, found, nil
}
