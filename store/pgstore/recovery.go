package pgstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hooklet/webhook"
)

// ListEvents returns the events stored at or after Since, by stored time
// then ID, a page at a time, from the index events (stored_at, id). The
// cursor is the stored time (Unix microseconds) and ID of the last event
// of the previous page.
func (s *Store) ListEvents(ctx context.Context, p *webhook.ListEventsParams) (webhook.Page[webhook.Event], error) {
	var pg webhook.Page[webhook.Event]
	if err := s.check(); err != nil {
		return pg, err
	}
	limit := webhook.PageLimit(p.Limit)
	sql := "SELECT " + eventColumns + ", stored_at FROM " + s.q.schema + ".events WHERE true"
	var args []any
	if p.Cursor != "" {
		us, id, ok := strings.Cut(p.Cursor, ":")
		n, err := strconv.ParseInt(us, 10, 64)
		if !ok || err != nil {
			return pg, fmt.Errorf("pgstore: list events: %w: malformed cursor %q", webhook.ErrInvalidParams, p.Cursor)
		}
		args = append(args, time.UnixMicro(n), id)
		sql += " AND (stored_at, id) > ($1, $2)"
	}
	if !p.Since.IsZero() {
		args = append(args, p.Since)
		sql += " AND stored_at >= $" + strconv.Itoa(len(args))
	}
	args = append(args, limit+1)
	sql += " ORDER BY stored_at, id LIMIT $" + strconv.Itoa(len(args))
	type row struct {
		ev     webhook.Event
		stored time.Time
	}
	rows, _ := s.pool.Query(ctx, sql, args...)
	rs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var (
			x     row
			attrs []byte
		)
		ev := &x.ev
		if err := r.Scan(&ev.ID, &ev.Type, &ev.Tenant, &ev.Time, &ev.Payload, &attrs, &ev.TraceParent,
			&ev.TraceState, &ev.OrderingKey, &x.stored); err != nil {
			return x, err
		}
		return x, fixEvent(ev, attrs)
	})
	if err != nil {
		return pg, wrap("list events", err)
	}
	if len(rs) > limit {
		rs = rs[:limit]
		last := rs[limit-1]
		pg.Next = strconv.FormatInt(last.stored.UnixMicro(), 10) + ":" + last.ev.ID
	}
	for _, r := range rs {
		pg.Items = append(pg.Items, r.ev)
	}
	return pg, nil
}

// AddDeliveries stores deliveries for stored events that have none to the
// same endpoint, unordered, in one transaction, and returns how many it
// added. It locks the events first, so that concurrent calls for the same
// events add each (event, endpoint) once: the insert that follows sees
// what the calls before it committed.
func (s *Store) AddDeliveries(ctx context.Context, p *webhook.AddDeliveriesParams) (int, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	defer s.due.clear() // a write may change the next due time
	n := len(p.Deliveries)
	if n == 0 {
		return 0, nil
	}
	var (
		id, event, endpoint, state, lastError, key = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		attempts, status                           = make([]int32, n), make([]int32, n)
		next, created, updated                     = make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
		seen                                       = make(map[string]bool, n)
	)
	for i, d := range p.Deliveries {
		if seen[d.ID] {
			return 0, fmt.Errorf("pgstore: add deliveries: delivery %q: %w", d.ID, webhook.ErrDuplicateDelivery)
		}
		seen[d.ID] = true
		id[i], event[i], endpoint[i] = d.ID, d.EventID, d.EndpointID
		state[i] = string(cmp.Or(d.State, webhook.StatePending))
		attempts[i], status[i] = int32(d.Attempts), int32(d.LastStatusCode)
		lastError[i], key[i] = d.LastError, d.OrderingKey
		next[i] = cmp.Or(d.NextAttemptAt, p.Now)
		created[i] = cmp.Or(d.CreatedAt, p.Now)
		updated[i] = cmp.Or(d.UpdatedAt, p.Now)
	}
	var added int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT 1 FROM "+s.q.schema+".events WHERE id = ANY($1) ORDER BY id FOR UPDATE", event); err != nil {
			return err
		}
		var dup string
		err := tx.QueryRow(ctx, "SELECT id FROM "+s.q.schema+".deliveries WHERE id = ANY($1) LIMIT 1", id).Scan(&dup)
		switch {
		case err == nil:
			return fmt.Errorf("delivery %q: %w", dup, webhook.ErrDuplicateDelivery)
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		return tx.QueryRow(ctx, s.q.addDeliveries, id, event, endpoint, state, attempts, next, status, lastError,
			created, updated, key, s.channel, notifyDeliveries+":"+s.origin).Scan(&added, new(int64))
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation && strings.HasPrefix(pgErr.TableName, "deliveries") {
		return 0, fmt.Errorf("pgstore: add deliveries: %w: %s", webhook.ErrDuplicateDelivery, pgErr.Detail)
	}
	if errors.Is(err, webhook.ErrDuplicateDelivery) {
		return 0, fmt.Errorf("pgstore: add deliveries: %w", err)
	}
	if err != nil {
		return 0, wrapInput("add deliveries", err, webhook.ErrInvalidParams)
	}
	return added, nil
}

// addDeliveries inserts, of the deliveries given as arrays ($1..$11), the
// first of each (event, endpoint) whose event is stored and has no
// delivery to that endpoint, unordered, and notifies ($12, $13) when it
// added any. It returns how many it added.
const addDeliveries = `
WITH input AS (
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::timestamptz[],
		$7::int[], $8::text[], $9::timestamptz[], $10::timestamptz[], $11::text[]) WITH ORDINALITY
		AS i(id, event_id, endpoint_id, state, attempts, next_attempt_at, last_status_code, last_error,
			created_at, updated_at, ordering_key, n)
), pick AS (
	SELECT DISTINCT ON (i.event_id, i.endpoint_id) i.* FROM input AS i
	WHERE EXISTS (SELECT 1 FROM {{s}}.events AS e WHERE e.id = i.event_id)
	AND NOT EXISTS (SELECT 1 FROM {{s}}.deliveries AS d WHERE d.event_id = i.event_id AND d.endpoint_id = i.endpoint_id)
	ORDER BY i.event_id, i.endpoint_id, i.n
), ins AS (
	INSERT INTO {{s}}.deliveries (id, event_id, endpoint_id, state, attempts, next_attempt_at, due_at,
		last_status_code, last_error, created_at, updated_at, ordering_key, ordered, seq)
	SELECT id, event_id, endpoint_id, state, attempts, next_attempt_at, next_attempt_at,
		last_status_code, last_error, created_at, updated_at, ordering_key, false, 0 FROM pick
	RETURNING state
)
SELECT (SELECT count(*) FROM ins)::int,
	(SELECT count(*) FROM (SELECT pg_notify($12, $13) FROM (SELECT 1 FROM ins WHERE state = 'pending' LIMIT 1) AS x) AS n)`
