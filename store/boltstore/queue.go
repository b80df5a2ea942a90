package boltstore

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/binary"
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
	sequences  space
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
		sequences:  sp(tx, spaceSequences),
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
	return q.due.putTagged(appendDueKey(q.due.tagged(), endpointID, t, deliveryID), nil)
}

func (q *queue) delDue(endpointID string, t time.Time, deliveryID string) error {
	q.dirty[endpointID] = struct{}{}
	return q.due.deleteTagged(appendDueKey(q.due.tagged(), endpointID, t, deliveryID))
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

// save writes d and moves its entry in the due or finished index from
// where old had it; old is nil for a delivery not stored yet. A pending
// ordered delivery has a due entry only while it heads its sequence. The
// heads of the endpoints touched follow at the transaction's fixHeads.
func (q *queue) save(old, d *webhook.Delivery) error {
	if old != nil {
		var err error
		if old.State.Finished() {
			err = q.delFinished(old)
		} else if q.queued(old) {
			err = q.delDue(old.EndpointID, old.NextAttemptAt, old.ID)
		}
		if err != nil {
			return err
		}
	}
	if err := q.indexState(old, d); err != nil {
		return err
	}
	if err := q.indexBatch(old, d); err != nil {
		return err
	}
	var err error
	if d.State.Finished() {
		err = q.addFinished(d)
	} else if q.queued(d) {
		err = q.addDue(d.EndpointID, d.NextAttemptAt, d.ID)
	}
	if err != nil {
		return err
	}
	return q.putDelivery(d)
}

// queued reports whether the pending delivery d belongs in the due index:
// it is unordered, or the head of its sequence.
func (q *queue) queued(d *webhook.Delivery) bool {
	if !d.Ordered {
		return true
	}
	prefix := sequencePrefix(d.EndpointID, d.OrderingKey)
	k, v := q.sequences.Cursor().Seek(prefix)
	return hasPrefix(k, prefix) && string(v) == d.ID
}

// joinSequence puts the ordered delivery d at the end of its sequence.
// Call it before saving d as pending.
func (q *queue) joinSequence(d *webhook.Delivery) error {
	meta := sp(q.tx, spaceMeta)
	var n uint64
	if v := meta.Get([]byte("seq")); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	n++
	if err := meta.Put([]byte("seq"), binary.BigEndian.AppendUint64(nil, n)); err != nil {
		return err
	}
	k := binary.BigEndian.AppendUint64(sequencePrefix(d.EndpointID, d.OrderingKey), n)
	return q.sequences.Put(k, []byte(d.ID))
}

// leaveSequence takes the ordered delivery d, which has just ended, out of
// its sequence; when it was the head, the next one becomes due.
func (q *queue) leaveSequence(d *webhook.Delivery) error {
	prefix := sequencePrefix(d.EndpointID, d.OrderingKey)
	c := q.sequences.Cursor()
	first := true
	for k, v := c.Seek(prefix); hasPrefix(k, prefix); k, v = c.Next() {
		if string(v) != d.ID {
			first = false
			continue
		}
		if err := q.sequences.Delete(append([]byte{}, k...)); err != nil {
			return err
		}
		if !first {
			return nil
		}
		k, v = c.Seek(prefix)
		if !hasPrefix(k, prefix) {
			return nil
		}
		next, ok, err := q.getDelivery(string(v))
		if err != nil || !ok {
			return err
		}
		return q.addDue(next.EndpointID, next.NextAttemptAt, next.ID)
	}
	return nil
}

// addFinished adds a delivery to the finished index, with its state's
// code as the value so that Prune tells failed deliveries apart without
// reading them. Entries written by earlier versions have no value.
func (q *queue) addFinished(d *webhook.Delivery) error {
	return q.finished.putTagged(appendTimeKey(q.finished.tagged(), d.UpdatedAt, d.ID), []byte{stateCodes[d.State]})
}

func (q *queue) delFinished(d *webhook.Delivery) error {
	return q.finished.deleteTagged(appendTimeKey(q.finished.tagged(), d.UpdatedAt, d.ID))
}

// fixHeads brings the head indexes of the dirty endpoints in line with the
// due index, as of now. A head is never later than its endpoint's earliest
// due entry, and it is that entry's time, except in one case: when the
// earliest entry moved later but is still due at now, the head stays where
// it was. An endpoint whose deliveries are due is visited by every Lease
// anyway, and leaving its head alone spares a write each time a Complete
// takes the front of its backlog. A zero now keeps every head exact.
func (q *queue) fixHeads(now time.Time) error {
	c := q.due.Cursor()
	nowKey := appendTime(nil, now)
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
		if old != nil && head != nil && !now.IsZero() &&
			bytes.Compare(old, head) < 0 && bytes.Compare(head, nowKey) <= 0 {
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

// releaseAllLeases puts every delivery that a file of an earlier version
// left leased back at its NextAttemptAt, which is in the past (it was due
// when leased), so it is due at once. Leases now live in memory only (see
// leaseTable); files written since hold none.
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
	return q.fixHeads(time.Time{})
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
		orphans := sp(tx, spaceOrphans)
		eventTimes := sp(tx, spaceEventTimes)
		types := sp(tx, spaceTypes)
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
					return fmt.Errorf("boltstore: enqueue: event %q: delivery %q: %w", it.Event.ID, d.ID, webhook.ErrDuplicateDelivery)
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
				if d.Ordered && d.State == webhook.StatePending {
					if err := q.joinSequence(&d); err != nil {
						return err
					}
				}
				d.AwaitingReport = false
				if err := q.save(nil, &d); err != nil {
					return err
				}
				if err := types.putTagged(appendTypeKey(types.tagged(), it.Event.Type, d.ID), nil); err != nil {
					return err
				}
			}
			slices.Sort(dlvIDs)
			if err := events.Put(evKey, encodeEvent(nil, &it.Event, p.Now, dlvIDs)); err != nil {
				return err
			}
			if err := eventTimes.putTagged(appendTimeKey(eventTimes.tagged(), p.Now, it.Event.ID), nil); err != nil {
				return err
			}
			if len(it.Deliveries) == 0 {
				if err := orphans.Put(timeKey(p.Now, it.Event.ID), nil); err != nil {
					return err
				}
			}
		}
		return q.fixHeads(p.Now)
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
// exclude, passing over those that held blocks. It merges the
// per-endpoint due lists, opening an endpoint's list only when the head
// index shows it could hold the next delivery, so it reads about limit
// entries, plus one per endpoint passed over, plus the leased entries it
// steps over (no more than the leases held). The caller holds held.mu.
func scanDue(tx *bolt.Tx, now time.Time, limit int, exclude map[string]struct{}, held *leaseTable) []candidate {
	due := sp(tx, spaceEndpointIndex)
	hc := sp(tx, spaceHeadIndex).Cursor()
	nowKey := appendTime(nil, now)
	var h cursorHeap
	var out []candidate
	n := 0 // toward limit: a batch counts once
	var taken map[string]bool
	hk, _ := hc.First()
	for n < limit {
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
		if !held.blocks(r[timeLen:], now) {
			id := string(r[timeLen:])
			batch, members, ok := held.batchCandidates(tx, id, now)
			switch {
			case batch == "":
				out = append(out, candidate{endpointID: e.endpointID, deliveryID: id, due: parseTime(r[:timeLen])})
				n++
			case ok && !taken[batch]:
				// A formed batch goes whole, or not at all.
				if taken == nil {
					taken = map[string]bool{}
				}
				taken[batch] = true
				for _, m := range members {
					out = append(out, candidate{endpointID: e.endpointID, deliveryID: m, due: parseTime(r[:timeLen])})
				}
				n++
			}
		}
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
