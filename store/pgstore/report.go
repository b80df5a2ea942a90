package pgstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	webhook "github.com/hooklet/webhook"
)

var _ webhook.Reporter = (*Store)(nil)

// reportQuery records a report and applies it, in one statement: $1 the
// delivery, $2 the token hash, $3 now, $4..$6 the report's status, message
// and progress, $7 and $8 the next state and due time, $9 and $10 the
// class and error of a failure, $11 the channel. The delivery's row is
// locked first and matched on everything the contract asks (pending,
// awaiting that hash, not leased, before the end of the wait): of racing
// reports, or a report and the Lease that ends the wait, the one that
// locks the row second sees it changed and matches nothing. The report's
// number comes from the row's count, read under that lock. A report that
// ends an ordered head gives back its place in the sequence, as complete
// does; advance then runs in the same transaction.
const reportQuery = `
WITH lead AS MATERIALIZED (
	SELECT id, batch_id FROM {{s}}.deliveries
	WHERE id = $1 AND state = 'pending' AND ack_token_hash = $2::bytea AND lease_token IS NULL
		AND next_attempt_at > $3::timestamptz
	FOR UPDATE
), mates AS MATERIALIZED (
	SELECT d.id FROM {{s}}.deliveries AS d, lead
	WHERE $12::boolean AND lead.batch_id <> '' AND d.batch_id <> '' AND d.batch_id = lead.batch_id AND d.id <> lead.id
		AND d.state = 'pending' AND d.ack_token_hash = $2::bytea AND d.lease_token IS NULL
		AND d.next_attempt_at > $3::timestamptz
	ORDER BY d.id
	FOR UPDATE OF d
), cur AS MATERIALIZED (
	SELECT id FROM lead UNION ALL SELECT id FROM mates
), up AS (
	UPDATE {{s}}.deliveries AS d SET
		reports = d.reports + 1,
		updated_at = $3::timestamptz,
		state = CASE WHEN $4::text = 'running' THEN 'pending' ELSE $7::text END,
		next_attempt_at = CASE WHEN $4::text = 'running' OR $7::text = 'pending' THEN $8::timestamptz ELSE d.next_attempt_at END,
		due_at = CASE WHEN $4::text = 'running' OR $7::text = 'pending' THEN $8::timestamptz ELSE d.due_at END,
		ack_token_hash = CASE WHEN $4::text = 'running' THEN d.ack_token_hash END,
		last_error = CASE WHEN $9::text <> '' THEN $10::text ELSE d.last_error END
	FROM cur WHERE d.id = cur.id AND d.state = 'pending'
	RETURNING d.id, d.event_id, d.endpoint_id, d.state, d.attempts, d.next_attempt_at,
		d.last_status_code, d.last_error, d.created_at, d.updated_at, d.ordering_key, d.ordered,
		d.schedule_start, d.ack_token_hash IS NOT NULL AS awaiting, d.reports AS num, d.batch_id
), ins AS (
	INSERT INTO {{s}}.reports (delivery_id, number, attempt, status, message, progress, received_at)
	SELECT id, num, attempts, $4::text, $5::text, $6::float8, $3::timestamptz FROM up
), ended AS (
	SELECT endpoint_id, ordering_key, count(*) AS n FROM up
	WHERE ordered AND state <> 'pending' GROUP BY endpoint_id, ordering_key
), seqlock AS MATERIALIZED (
	SELECT s.endpoint_id, s.ordering_key FROM {{s}}.sequences AS s
	JOIN ended USING (endpoint_id, ordering_key)
	ORDER BY s.endpoint_id, s.ordering_key FOR UPDATE OF s
), seqdone AS (
	UPDATE {{s}}.sequences AS s SET pending = s.pending - ended.n
	FROM ended, seqlock
	WHERE s.endpoint_id = ended.endpoint_id AND s.ordering_key = ended.ordering_key
		AND seqlock.endpoint_id = s.endpoint_id AND seqlock.ordering_key = s.ordering_key
), att AS (
	UPDATE {{s}}.attempts AS a SET state = up.state,
		finished_at = CASE WHEN up.state <> 'pending' THEN $3::timestamptz END,
		error_class = CASE WHEN $9::text <> '' AND a.number = up.attempts THEN $9::text ELSE a.error_class END,
		error = CASE WHEN $9::text <> '' AND a.number = up.attempts THEN $10::text ELSE a.error END
	FROM up WHERE a.state = 'pending' AND a.delivery_id = up.id
		AND (up.state <> 'pending' OR $9::text <> '' AND a.number = up.attempts)
), note AS (
	SELECT pg_notify($11, '` + notifyDeliveries + `') FROM up WHERE $4::text <> 'running' AND up.state = 'pending'
), mark AS (
	SELECT set_config('` + endedSetting + `',
		COALESCE((SELECT json_agg(json_build_array(endpoint_id, ordering_key))::text FROM ended), ''), true)
)
SELECT up.id, up.event_id, up.endpoint_id, up.state, up.attempts, up.next_attempt_at,
	up.last_status_code, up.last_error, up.created_at, up.updated_at, up.ordering_key, up.ordered,
	up.schedule_start, up.awaiting, up.batch_id
FROM up, (SELECT count(*) FROM note) AS n, mark`

// Report records a receiver's report on a delivery that awaits one with
// the token hash given, and applies it, in one transaction; see
// [webhook.Reporter]. A report that makes the delivery due again notifies
// the other processes.
func (s *Store) Report(ctx context.Context, p *webhook.ReportParams) (webhook.Delivery, error) {
	if err := s.check(); err != nil {
		return webhook.Delivery{}, err
	}
	defer s.due.clear() // a write may change the next due time
	var class, msg string
	if f := p.Failure; f != nil {
		class, msg = string(f.Class), f.Error
	}
	next := p.NextAttemptAt
	if next.IsZero() {
		next = p.Now
	}
	hash := p.TokenHash
	if hash == nil {
		hash = []byte{}
	}
	args := []any{p.DeliveryID, hash, p.Now, string(p.Report.Status), p.Report.Message, p.Report.Progress,
		string(p.State), next, class, msg, s.channel, p.Batch}
	var got []webhook.Delivery
	collect := func(rows pgx.Rows) error {
		var err error
		got, err = pgx.CollectRows(rows, scanDelivery)
		return err
	}
	ends := p.Report.Status != webhook.ReportRunning && p.State.Finished()
	err := retryMoved(func() error {
		if ends && p.Batch {
			// The members that end are known once the report is
			// written: advance their sequences in the same transaction.
			return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
				rows, _ := tx.Query(ctx, s.q.report, args...)
				if err := collect(rows); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, s.q.advance, s.channel)
				return err
			})
		}
		if !ends {
			rows, _ := s.pool.Query(ctx, s.q.report, args...)
			return collect(rows)
		}
		b := &pgx.Batch{}
		b.Queue(s.q.report, args...).Query(collect)
		b.Queue(s.q.advance, s.channel)
		return s.pool.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return webhook.Delivery{}, wrap("report", err)
	}
	for _, d := range got {
		if d.ID == p.DeliveryID {
			return d, nil
		}
	}
	var exists bool
	if err := s.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+s.q.schema+".deliveries WHERE id = $1)", p.DeliveryID).Scan(&exists); err != nil {
		return webhook.Delivery{}, wrap("report", err)
	}
	if !exists {
		return webhook.Delivery{}, fmt.Errorf("pgstore: report on %q: %w", p.DeliveryID, webhook.ErrNotFound)
	}
	return webhook.Delivery{}, fmt.Errorf("pgstore: report on %q: %w", p.DeliveryID, webhook.ErrReportRefused)
}

// ListReports returns one delivery's reports in the order they were
// recorded, a page at a time. The cursor is the number of the previous
// page's last report.
func (s *Store) ListReports(ctx context.Context, p *webhook.ListReportsParams) (webhook.Page[webhook.Report], error) {
	if err := s.check(); err != nil {
		return webhook.Page[webhook.Report]{}, err
	}
	after := 0
	if p.Cursor != "" {
		n, err := strconv.Atoi(p.Cursor)
		if err != nil || n < 0 {
			return webhook.Page[webhook.Report]{}, fmt.Errorf("pgstore: list reports: malformed cursor %q", p.Cursor)
		}
		after = n
	}
	limit := webhook.PageLimit(p.Limit)
	rows, _ := s.pool.Query(ctx, `SELECT delivery_id, number, attempt, status, message, progress, received_at
		FROM `+s.q.schema+`.reports WHERE delivery_id = $1 AND number > $2 ORDER BY number LIMIT $3`,
		p.DeliveryID, after, limit+1)
	rs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (webhook.Report, error) {
		var (
			r      webhook.Report
			status string
		)
		err := row.Scan(&r.DeliveryID, &r.Number, &r.Attempt, &status, &r.Message, &r.Progress, &r.ReceivedAt)
		r.Status = webhook.ReportStatus(status)
		r.ReceivedAt = r.ReceivedAt.UTC()
		return r, err
	})
	if err != nil {
		return webhook.Page[webhook.Report]{}, wrap("list reports", err)
	}
	if len(rs) == 0 {
		var exists bool
		err := s.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+s.q.schema+".deliveries WHERE id = $1)", p.DeliveryID).Scan(&exists)
		if err != nil {
			return webhook.Page[webhook.Report]{}, wrap("list reports", err)
		}
		if !exists {
			return webhook.Page[webhook.Report]{}, fmt.Errorf("pgstore: list reports of %q: %w", p.DeliveryID, webhook.ErrNotFound)
		}
		rs = []webhook.Report{}
	}
	return page(rs, limit, func(r webhook.Report) string { return strconv.Itoa(r.Number) }), nil
}
