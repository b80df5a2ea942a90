package boltstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"

	bolt "go.etcd.io/bbolt"

	webhook "github.com/hooklet/webhook"
)

func notFound(what, id string) error {
	return fmt.Errorf("boltstore: %s %q: %w", what, id, webhook.ErrNotFound)
}

// PutEndpoint creates or replaces an endpoint, secrets included. With
// IfUpdatedAt set, it replaces the stored endpoint only if its UpdatedAt is
// that instant (times are kept to the nanosecond), and otherwise returns an
// error wrapping [webhook.ErrConflict], or [webhook.ErrNotFound] when there
// is none.
func (s *Store) PutEndpoint(ctx context.Context, p *webhook.PutEndpointParams) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if p.Endpoint.ID == "" {
		return fmt.Errorf("boltstore: put endpoint: %w: ID is empty", webhook.ErrInvalidEndpoint)
	}
	return s.update(func(tx *bolt.Tx) error {
		b := sp(tx, spaceEndpointRecords)
		key := []byte(p.Endpoint.ID)
		v := b.Get(key)
		if v == nil && !p.IfUpdatedAt.IsZero() {
			return notFound("endpoint", p.Endpoint.ID)
		}
		if v != nil {
			old, err := decodeEndpoint(p.Endpoint.ID, v)
			if err != nil {
				return corrupt("endpoint", p.Endpoint.ID, err)
			}
			if !p.IfUpdatedAt.IsZero() && !old.UpdatedAt.Equal(p.IfUpdatedAt) {
				return fmt.Errorf("boltstore: put endpoint %q: %w: changed since it was read", p.Endpoint.ID, webhook.ErrConflict)
			}
			if old.Tenant != "" && old.Tenant != p.Endpoint.Tenant {
				if err := sp(tx, spaceTenantEndpoints).Delete(tenantEndpointKey(old.Tenant, old.ID)); err != nil {
					return err
				}
			}
		}
		if t := p.Endpoint.Tenant; t != "" {
			if err := sp(tx, spaceTenantEndpoints).Put(tenantEndpointKey(t, p.Endpoint.ID), nil); err != nil {
				return err
			}
		}
		return b.Put(key, encodeEndpoint(nil, &p.Endpoint))
	})
}

// GetEndpoint returns one endpoint or an error wrapping
// [webhook.ErrNotFound].
func (s *Store) GetEndpoint(ctx context.Context, p *webhook.GetEndpointParams) (webhook.Endpoint, error) {
	var ep webhook.Endpoint
	if err := s.begin(ctx); err != nil {
		return ep, err
	}
	err := s.view(func(tx *bolt.Tx) error {
		v := sp(tx, spaceEndpointRecords).Get([]byte(p.ID))
		if v == nil {
			return notFound("endpoint", p.ID)
		}
		var err error
		if ep, err = decodeEndpoint(p.ID, v); err != nil {
			return corrupt("endpoint", p.ID, err)
		}
		return nil
	})
	return ep, err
}

// DeleteEndpoint removes an endpoint or returns an error wrapping
// [webhook.ErrNotFound]. Its deliveries stay.
func (s *Store) DeleteEndpoint(ctx context.Context, p *webhook.DeleteEndpointParams) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		b := sp(tx, spaceEndpointRecords)
		v := b.Get([]byte(p.ID))
		if v == nil {
			return notFound("endpoint", p.ID)
		}
		old, err := decodeEndpoint(p.ID, v)
		if err != nil {
			return corrupt("endpoint", p.ID, err)
		}
		if old.Tenant != "" {
			if err := sp(tx, spaceTenantEndpoints).Delete(tenantEndpointKey(old.Tenant, p.ID)); err != nil {
				return err
			}
		}
		return b.Delete([]byte(p.ID))
	})
}

// ListEndpoints returns endpoints in ID order, a page at a time. The cursor
// is the ID of the last endpoint of the previous page. With p.Tenant set,
// it walks the tenant's index and reads only that tenant's endpoints.
func (s *Store) ListEndpoints(ctx context.Context, p *webhook.ListEndpointsParams) (webhook.Page[webhook.Endpoint], error) {
	var page webhook.Page[webhook.Endpoint]
	if err := s.begin(ctx); err != nil {
		return page, err
	}
	limit := webhook.PageLimit(p.Limit)
	err := s.view(func(tx *bolt.Tx) error {
		page = webhook.Page[webhook.Endpoint]{}
		add := func(id string, v []byte) (bool, error) {
			ep, err := decodeEndpoint(id, v)
			if err != nil {
				return false, corrupt("endpoint", id, err)
			}
			if len(page.Items) == limit {
				page.Next = page.Items[limit-1].ID
				return false, nil
			}
			page.Items = append(page.Items, ep)
			return true, nil
		}
		if p.Tenant != "" {
			records := sp(tx, spaceEndpointRecords)
			prefix := prefixKey(p.Tenant)
			c := sp(tx, spaceTenantEndpoints).Cursor()
			k, _ := c.Seek(prefix)
			if p.Cursor != "" {
				k, _ = seekAfter(c, tenantEndpointKey(p.Tenant, p.Cursor))
			}
			for ; hasPrefix(k, prefix); k, _ = c.Next() {
				id := string(k[len(prefix):])
				v := records.Get([]byte(id))
				if v == nil {
					return corrupt("tenant index of endpoint", id, errBadRecord)
				}
				if more, err := add(id, v); !more {
					return err
				}
			}
			return nil
		}
		c := sp(tx, spaceEndpointRecords).Cursor()
		k, v := c.First()
		if p.Cursor != "" {
			k, v = seekAfter(c, []byte(p.Cursor))
		}
		for ; k != nil; k, v = c.Next() {
			if more, err := add(string(k), v); !more {
				return err
			}
		}
		return nil
	})
	return page, err
}

// seekAfter positions c on the first key after k.
func seekAfter(c *cursor, k []byte) ([]byte, []byte) {
	ck, cv := c.Seek(k)
	if ck != nil && string(ck) == string(k) {
		return c.Next()
	}
	return ck, cv
}

// GetEvent returns one event or an error wrapping [webhook.ErrNotFound].
func (s *Store) GetEvent(ctx context.Context, p *webhook.GetEventParams) (webhook.Event, error) {
	var ev webhook.Event
	if err := s.begin(ctx); err != nil {
		return ev, err
	}
	err := s.view(func(tx *bolt.Tx) error {
		v := sp(tx, spaceEvents).Get([]byte(p.ID))
		if v == nil {
			return notFound("event", p.ID)
		}
		r, err := decodeEvent(p.ID, v)
		if err != nil {
			return corrupt("event", p.ID, err)
		}
		ev = r.Event
		return nil
	})
	return ev, err
}

// GetDelivery returns one delivery or an error wrapping
// [webhook.ErrNotFound].
func (s *Store) GetDelivery(ctx context.Context, p *webhook.GetDeliveryParams) (webhook.Delivery, error) {
	var d webhook.Delivery
	if err := s.begin(ctx); err != nil {
		return d, err
	}
	err := s.view(func(tx *bolt.Tx) error {
		var ok bool
		var err error
		d, ok, err = newQueue(tx).getDelivery(p.ID)
		if err == nil && !ok {
			err = notFound("delivery", p.ID)
		}
		return err
	})
	return d, err
}

// ListDeliveries returns deliveries in ID order, filtered, a page at a
// time. The cursor is the ID of the last delivery read. A filter by event
// reads the event's own list; one by event type reads the type index; one
// by state, endpoint or both reads the matching index, so a page of a rare
// state comes back full. At most
// [ListScanLimit] records are read per page. An unknown state is an error
// wrapping [webhook.ErrInvalidParams].
func (s *Store) ListDeliveries(ctx context.Context, p *webhook.ListDeliveriesParams) (webhook.Page[webhook.Delivery], error) {
	var page webhook.Page[webhook.Delivery]
	if p.State != "" && !p.State.Valid() {
		return page, fmt.Errorf("boltstore: list deliveries: %w: unknown state %q", webhook.ErrInvalidParams, p.State)
	}
	if err := s.begin(ctx); err != nil {
		return page, err
	}
	limit := webhook.PageLimit(p.Limit)
	err := s.view(func(tx *bolt.Tx) error {
		page = webhook.Page[webhook.Delivery]{}
		q := newQueue(tx)
		next, err := deliveryIDs(tx, p)
		if err != nil {
			return err
		}
		scanned, lastRead := 0, ""
		for id, ok := next(); ok; id, ok = next() {
			if scanned == ListScanLimit {
				page.Next = lastRead
				return nil
			}
			scanned++
			lastRead = id
			d, ok, err := q.getDelivery(id)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if (p.EventID != "" && d.EventID != p.EventID) ||
				(p.EndpointID != "" && d.EndpointID != p.EndpointID) ||
				(p.State != "" && d.State != p.State) {
				continue
			}
			if len(page.Items) == limit {
				page.Next = page.Items[limit-1].ID
				return nil
			}
			page.Items = append(page.Items, d)
		}
		return nil
	})
	return page, err
}

// deliveryIDs returns an iterator over the IDs of the deliveries that may
// match p, in ID order, after p.Cursor: the event's own list, the type
// index, the state indexes of the endpoint or of every endpoint, or every
// delivery.
func deliveryIDs(tx *bolt.Tx, p *webhook.ListDeliveriesParams) (func() (string, bool), error) {
	if p.EventID != "" {
		var ids []string
		if v := sp(tx, spaceEvents).Get([]byte(p.EventID)); v != nil {
			r, err := decodeEvent(p.EventID, v)
			if err != nil {
				return nil, corrupt("event", p.EventID, err)
			}
			ids = r.Deliveries
			if p.EventType != "" && r.Type != p.EventType {
				ids = nil
			}
		}
		if p.Cursor != "" {
			i, found := slices.BinarySearch(ids, p.Cursor)
			if found {
				i++
			}
			ids = ids[i:]
		}
		return func() (string, bool) {
			if len(ids) == 0 {
				return "", false
			}
			id := ids[0]
			ids = ids[1:]
			return id, true
		}, nil
	}
	var (
		c      *cursor
		prefix []byte
	)
	switch {
	case p.EventType != "":
		c, prefix = sp(tx, spaceTypes).Cursor(), prefixKey(p.EventType)
	case p.EndpointID != "" && p.State != "":
		c, prefix = sp(tx, spaceEndpointIndex).Cursor(), endpointStatePrefix(p.EndpointID, p.State)
	case p.State != "":
		return mergeIDs(tx, stateIndexPrefixes(tx, "", stateCodes[p.State]), p.Cursor), nil
	case p.EndpointID != "":
		return mergeIDs(tx, stateIndexPrefixes(tx, p.EndpointID, 0), p.Cursor), nil
	default:
		c = sp(tx, spaceDeliveries).Cursor()
	}
	var k []byte
	if p.Cursor != "" {
		k, _ = seekAfter(c, append(append([]byte{}, prefix...), p.Cursor...))
	} else {
		k, _ = c.Seek(prefix)
	}
	return func() (string, bool) {
		if !hasPrefix(k, prefix) {
			return "", false
		}
		id := string(k[len(prefix):])
		k, _ = c.Next()
		return id, true
	}, nil
}

// ListAttempts returns one delivery's attempts in the order they were made.
// The cursor is the number of the last attempt of the previous page. A
// missing delivery is an error wrapping [webhook.ErrNotFound].
func (s *Store) ListAttempts(ctx context.Context, p *webhook.ListAttemptsParams) (webhook.Page[webhook.Attempt], error) {
	var page webhook.Page[webhook.Attempt]
	if err := s.begin(ctx); err != nil {
		return page, err
	}
	after, err := numberCursor("attempts", p.Cursor)
	if err != nil {
		return page, err
	}
	limit := webhook.PageLimit(p.Limit)
	err = s.view(func(tx *bolt.Tx) error {
		page = webhook.Page[webhook.Attempt]{}
		return listNumbered(tx, spaceAttempts, "attempt", p.DeliveryID, after, limit, &page, decodeAttempt,
			func(a *webhook.Attempt) int { return a.Number })
	})
	return page, err
}

// numberCursor parses the cursor of a listing of what (attempts, reports)
// of one delivery: the number of the last record of the previous page, 0
// for the first page.
func numberCursor(what, cursor string) (int, error) {
	if cursor == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(cursor)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("boltstore: list %s: malformed cursor %q", what, cursor)
	}
	return n, nil
}

// listNumbered appends to page at most limit records of delivery id kept
// in the space tag under attemptKey(id, n), from the number after+1 on,
// decoded by decode; page.Next is set when more remain. A missing delivery
// is an error wrapping [webhook.ErrNotFound]; a record that does not
// decode is corrupt, named what.
func listNumbered[T any](tx *bolt.Tx, tag byte, what, id string, after, limit int, page *webhook.Page[T],
	decode func(id string, n int, v []byte) (T, error), number func(*T) int) error {
	if sp(tx, spaceDeliveries).Get([]byte(id)) == nil {
		return notFound("delivery", id)
	}
	c := sp(tx, tag).Cursor()
	prefix := prefixKey(id)
	for k, v := c.Seek(attemptKey(id, after+1)); hasPrefix(k, prefix) && len(k) == len(prefix)+4; k, v = c.Next() {
		if len(page.Items) == limit {
			page.Next = strconv.Itoa(number(&page.Items[limit-1]))
			return nil
		}
		rec, err := decode(id, int(binary.BigEndian.Uint32(k[len(prefix):])), v)
		if err != nil {
			return corrupt(what, id, err)
		}
		page.Items = append(page.Items, rec)
	}
	return nil
}

// Redeliver makes a finished delivery pending again, due at Now, keeping
// its attempts; a pending one is left as it is. An ordered one joins the
// end of its sequence. A missing delivery is an
// error wrapping [webhook.ErrNotFound].
func (s *Store) Redeliver(ctx context.Context, p *webhook.RedeliverParams) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		q := newQueue(tx)
		d, ok, err := q.getDelivery(p.DeliveryID)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("delivery", p.DeliveryID)
		}
		if !d.State.Finished() {
			return nil
		}
		old := d
		d.State = webhook.StatePending
		d.NextAttemptAt = p.Now
		d.UpdatedAt = p.Now
		d.BatchID = "" // it goes alone, or in a new batch
		if p.FreshSchedule {
			d.ScheduleStart = d.Attempts
		}
		if d.Ordered {
			// At the end of its sequence: due now only when it leads.
			if err := q.joinSequence(&d); err != nil {
				return err
			}
		}
		if err := q.save(&old, &d); err != nil {
			return err
		}
		return q.fixHeads(p.Now)
	})
}
