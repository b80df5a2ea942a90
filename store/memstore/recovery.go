package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hooklet/webhook"
)

// ListEvents returns the events stored at or after Since, by stored time
// then ID, a page at a time. The cursor is the stored time (Unix
// nanoseconds) and ID of the last event of the previous page.
func (s *Store) ListEvents(ctx context.Context, p *webhook.ListEventsParams) (webhook.Page[webhook.Event], error) {
	var pg webhook.Page[webhook.Event]
	afterAt, afterID, err := parseEventCursor(p.Cursor)
	if err != nil {
		return pg, err
	}
	if err := s.lock(ctx); err != nil {
		return pg, err
	}
	defer s.mu.Unlock()
	var recs []*eventRec
	for _, e := range s.events {
		if !p.Since.IsZero() && e.storedAt.Before(p.Since) {
			continue
		}
		if p.Cursor != "" && cmp.Or(e.storedAt.Compare(afterAt), strings.Compare(e.event.ID, afterID)) <= 0 {
			continue
		}
		recs = append(recs, e)
	}
	slices.SortFunc(recs, func(a, b *eventRec) int {
		return cmp.Or(a.storedAt.Compare(b.storedAt), strings.Compare(a.event.ID, b.event.ID))
	})
	limit := webhook.PageLimit(p.Limit)
	if len(recs) > limit {
		recs = recs[:limit]
		last := recs[limit-1]
		pg.Next = strconv.FormatInt(last.storedAt.UnixNano(), 10) + ":" + last.event.ID
	}
	for _, e := range recs {
		pg.Items = append(pg.Items, webhook.Event.Clone(e.event))
	}
	return pg, nil
}

// parseEventCursor splits a cursor of ListEvents.
func parseEventCursor(c string) (time.Time, string, error) {
	if c == "" {
		return time.Time{}, "", nil
	}
	ns, id, ok := strings.Cut(c, ":")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil {
		return time.Time{}, "", fmt.Errorf("memstore: list events: %w: malformed cursor %q", webhook.ErrInvalidParams, c)
	}
	return time.Unix(0, n), id, nil
}

// AddDeliveries stores deliveries for stored events that have none to the
// same endpoint, unordered, and returns how many it added.
func (s *Store) AddDeliveries(ctx context.Context, p *webhook.AddDeliveriesParams) (int, error) {
	if err := s.lock(ctx); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	type pair struct{ event, endpoint string }
	has := map[pair]bool{}
	for _, r := range s.deliveries {
		has[pair{r.d.EventID, r.d.EndpointID}] = true
	}
	ids := map[string]bool{}
	var add []webhook.Delivery
	for _, d := range p.Deliveries {
		if _, ok := s.deliveries[d.ID]; ok || ids[d.ID] {
			return 0, fmt.Errorf("memstore: add deliveries: delivery %q: %w", d.ID, webhook.ErrDuplicateDelivery)
		}
		ids[d.ID] = true
		k := pair{d.EventID, d.EndpointID}
		if _, ok := s.events[d.EventID]; !ok || has[k] {
			continue
		}
		has[k] = true
		d.Ordered = false
		d.State = cmp.Or(d.State, webhook.StatePending)
		if d.CreatedAt.IsZero() {
			d.CreatedAt = p.Now
		}
		if d.UpdatedAt.IsZero() {
			d.UpdatedAt = p.Now
		}
		if d.NextAttemptAt.IsZero() {
			d.NextAttemptAt = p.Now
		}
		add = append(add, d)
	}
	for _, d := range add {
		d.AwaitingReport = false
		s.deliveries[d.ID] = &deliveryRec{d: d}
		s.events[d.EventID].deliveries++
	}
	return len(add), nil
}
