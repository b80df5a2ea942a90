package boltstore

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/hooklet/webhook"
)

// indexState moves delivery d in its endpoint's state index (subStates)
// from old's state; old is nil for a new delivery.
func (q *queue) indexState(old, d *webhook.Delivery) error {
	if old != nil {
		if old.State == d.State {
			return nil
		}
		if err := q.unindexState(old); err != nil {
			return err
		}
	}
	return q.due.putTagged(appendEndpointStateKey(q.due.tagged(), d.EndpointID, d.State, d.ID), nil)
}

// unindexState takes delivery d out of the state index.
func (q *queue) unindexState(d *webhook.Delivery) error {
	return q.due.deleteTagged(appendEndpointStateKey(q.due.tagged(), d.EndpointID, d.State, d.ID))
}

// indexesKey names, under spaceMeta, the version of the indexes a file
// holds beyond those of its layout, which Open brings up to date once:
//
//   - none: written before the state, type and event-time indexes, which
//     are built;
//   - "1": with a global state index (spaceStates) and a list of every
//     delivery per endpoint (subDeliveries) besides the endpoints' state
//     indexes, which hold the same entries: both are deleted;
//   - "2": the endpoints' state indexes alone serve listings by state and
//     by endpoint.
const (
	indexesKey     = "indexes"
	indexesVersion = "2"
)

// buildIndexes brings the indexes of a file up to indexesVersion, and
// marks it. A new file is only marked.
func buildIndexes(tx *bolt.Tx) error {
	meta := sp(tx, spaceMeta)
	switch string(meta.Get([]byte(indexesKey))) {
	case indexesVersion:
		return nil
	case "":
		if err := buildRecoveryIndexes(tx); err != nil {
			return err
		}
	}
	if err := deletePrefix(sp(tx, spaceStates), nil); err != nil {
		return err
	}
	byEndpoint := sp(tx, spaceEndpointIndex)
	for _, ep := range indexedEndpoints(tx) {
		if err := deletePrefix(byEndpoint, endpointPrefix(ep, subDeliveries)); err != nil {
			return err
		}
	}
	return meta.Put([]byte(indexesKey), []byte(indexesVersion))
}

// buildRecoveryIndexes builds the state, type and event-time indexes of a
// file written before they existed.
func buildRecoveryIndexes(tx *bolt.Tx) error {
	q := newQueue(tx)
	c := q.deliveries.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		d, err := decodeDelivery(string(k), v)
		if err != nil {
			return corrupt("delivery", string(k), err)
		}
		if err := q.indexState(nil, &d); err != nil {
			return err
		}
	}
	times := sp(tx, spaceEventTimes)
	types := sp(tx, spaceTypes)
	ec := sp(tx, spaceEvents).Cursor()
	for k, v := ec.First(); k != nil; k, v = ec.Next() {
		r, err := decodeEvent(string(k), v)
		if err != nil {
			return corrupt("event", string(k), err)
		}
		if err := times.Put(timeKey(r.StoredAt, r.ID), nil); err != nil {
			return err
		}
		for _, id := range r.Deliveries {
			if q.deliveries.Get([]byte(id)) == nil {
				continue // pruned
			}
			if err := types.Put(typeKey(r.Type, id), nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// indexedEndpoints returns the IDs of the endpoints with an entry in
// spaceEndpointIndex, deleted endpoints included, in key order.
func indexedEndpoints(tx *bolt.Tx) []string {
	var out []string
	c := sp(tx, spaceEndpointIndex).Cursor()
	for k, _ := c.First(); len(k) >= 2; {
		n := int(binary.BigEndian.Uint16(k))
		if len(k) < 2+n {
			break
		}
		id := string(k[2 : 2+n])
		out = append(out, id)
		k, _ = c.Seek(endpointPrefix(id, subEnd))
	}
	return out
}

// ListEvents returns the events stored at or after Since, by stored time
// then ID, a page at a time, from the event-time index. The cursor is the
// index key of the last event of the previous page: its stored time in hex
// and its ID.
func (s *Store) ListEvents(ctx context.Context, p *webhook.ListEventsParams) (webhook.Page[webhook.Event], error) {
	var page webhook.Page[webhook.Event]
	var after []byte
	if p.Cursor != "" {
		t, err := hex.DecodeString(p.Cursor[:min(len(p.Cursor), 2*timeLen)])
		if err != nil || len(t) != timeLen {
			return page, fmt.Errorf("boltstore: list events: %w: malformed cursor %q", webhook.ErrInvalidParams, p.Cursor)
		}
		after = append(t, p.Cursor[2*timeLen:]...)
	}
	if err := s.begin(ctx); err != nil {
		return page, err
	}
	limit := webhook.PageLimit(p.Limit)
	err := s.view(func(tx *bolt.Tx) error {
		page = webhook.Page[webhook.Event]{}
		events := sp(tx, spaceEvents)
		c := sp(tx, spaceEventTimes).Cursor()
		var k []byte
		switch {
		case after != nil:
			k, _ = seekAfter(c, after)
		case !p.Since.IsZero():
			k, _ = c.Seek(appendTime(nil, p.Since))
		default:
			k, _ = c.First()
		}
		if after != nil && !p.Since.IsZero() && string(k) < string(appendTime(nil, p.Since)) {
			k, _ = c.Seek(appendTime(nil, p.Since))
		}
		var last []byte
		for ; k != nil; k, _ = c.Next() {
			if len(page.Items) == limit {
				page.Next = hex.EncodeToString(last[:timeLen]) + string(last[timeLen:])
				return nil
			}
			id := string(k[timeLen:])
			v := events.Get([]byte(id))
			if v == nil {
				continue
			}
			r, err := decodeEvent(id, v)
			if err != nil {
				return corrupt("event", id, err)
			}
			page.Items = append(page.Items, r.Event)
			last = append(last[:0], k...)
		}
		return nil
	})
	return page, err
}

// AddDeliveries stores deliveries for stored events that have none to the
// same endpoint, unordered, in one transaction, and returns how many it
// added.
func (s *Store) AddDeliveries(ctx context.Context, p *webhook.AddDeliveriesParams) (int, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	if len(p.Deliveries) == 0 {
		return 0, nil
	}
	var n int
	err := s.update(func(tx *bolt.Tx) error {
		n = 0
		q := newQueue(tx)
		events := sp(tx, spaceEvents)
		orphans := sp(tx, spaceOrphans)
		types := sp(tx, spaceTypes)
		ids := make(map[string]bool, len(p.Deliveries))
		added := map[string]eventRecord{}
		for i := range p.Deliveries {
			d := p.Deliveries[i]
			if d.ID == "" {
				return fmt.Errorf("boltstore: add deliveries: %w: delivery %d has no ID", webhook.ErrInvalidParams, i)
			}
			if ids[d.ID] || q.deliveries.Get([]byte(d.ID)) != nil {
				return fmt.Errorf("boltstore: add deliveries: delivery %q: %w", d.ID, webhook.ErrDuplicateDelivery)
			}
			ids[d.ID] = true
			r, ok := added[d.EventID]
			if !ok {
				v := events.Get([]byte(d.EventID))
				if v == nil {
					continue
				}
				var err error
				if r, err = decodeEvent(d.EventID, v); err != nil {
					return corrupt("event", d.EventID, err)
				}
			}
			var dupErr error
			if slices.ContainsFunc(r.Deliveries, func(id string) bool {
				other, ok, err := q.getDelivery(id)
				if err != nil {
					dupErr = err
				}
				return ok && other.EndpointID == d.EndpointID
			}) {
				continue
			}
			if dupErr != nil {
				return dupErr
			}
			d.Ordered = false
			if d.State == "" {
				d.State = webhook.StatePending
			}
			if d.CreatedAt.IsZero() {
				d.CreatedAt = p.Now
			}
			if d.UpdatedAt.IsZero() {
				d.UpdatedAt = p.Now
			}
			if d.NextAttemptAt.IsZero() {
				d.NextAttemptAt = p.Now
			}
			d.AwaitingReport = false
			if err := q.save(nil, &d); err != nil {
				return err
			}
			if err := types.Put(typeKey(r.Type, d.ID), nil); err != nil {
				return err
			}
			if len(r.Deliveries) == 0 {
				if err := orphans.Delete(timeKey(r.StoredAt, r.ID)); err != nil {
					return err
				}
			}
			r.Deliveries = append(slices.Clone(r.Deliveries), d.ID)
			slices.Sort(r.Deliveries)
			added[d.EventID] = r
			n++
		}
		for id, r := range added {
			if err := events.Put([]byte(id), encodeEvent(nil, &r.Event, r.StoredAt, r.Deliveries)); err != nil {
				return err
			}
		}
		return q.fixHeads(p.Now)
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// unindexType takes the delivery deliveryID of the event eventID out of
// the type index. types caches event types by event ID across calls.
func unindexType(events space, eventID, deliveryID string, types map[string]string) error {
	typ, ok := types[eventID]
	if !ok {
		v := events.Get([]byte(eventID))
		if v == nil {
			return nil
		}
		r, err := decodeEvent(eventID, v)
		if err != nil {
			return corrupt("event", eventID, err)
		}
		typ = r.Type
		types[eventID] = typ
	}
	return sp(events.b.Tx(), spaceTypes).Delete(typeKey(typ, deliveryID))
}
