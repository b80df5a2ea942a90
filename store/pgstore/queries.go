package pgstore

import "strings"

// queries holds the statements of one schema, built once by [New].
type queries struct {
	schema string // quoted schema name

	putEndpoint    string
	putEndpointIf  string
	deleteEndpoint string
	enqueue        string
	lease          string
	extend         string
	complete       string
	release        string
	nextDue        string
	redeliver      string
	advance        string
	prune          string
	pruneEvents    string
	version        string
	poll           string
	addDeliveries  string
	report         string
	formBatch      string
}

// endedSetting is the transaction-local setting in which complete names
// the ordered sequences whose heads it ended, as a JSON array of
// [endpoint_id, ordering_key], for advance to read in the same
// transaction.
const endedSetting = "hooklet.ended_sequences"

// Notification payloads.
const (
	notifyEndpoints  = "endpoints"
	notifyDeliveries = "deliveries"
)

const deliveryColumns = `id, event_id, endpoint_id, state, attempts, next_attempt_at,
	last_status_code, last_error, created_at, updated_at, ordering_key, ordered, schedule_start,
	ack_token_hash IS NOT NULL, batch_id`

const eventColumns = `id, type, tenant, time, payload, attributes, trace_parent, trace_state, ordering_key`

// lockHeld starts a statement over lease refs ($1 delivery IDs, $2
// tokens): r holds the refs, locked those that still hold their
// deliveries, locked in ID order so that overlapping batches cannot
// deadlock. The statement goes on with a CTE named up.
//
// The batch statements cost O(n) in the batch, whatever the plan's row
// estimates: each reads the hot table once per ref through its primary
// key, with the ref on the outer side; no CTE is joined to another by a
// rescan, and no index condition holds an array of the batch (PostgreSQL
// 15 sorts such an array on every rescan). TestBatchPlansLinear checks it.
const lockHeld = `
WITH r AS (
	SELECT * FROM unnest($1::text[], $2::text[]) AS r(id, token)
), locked AS MATERIALIZED (
	SELECT d.id, r.token FROM r JOIN {{s}}.deliveries_pending AS d ON d.id = r.id AND d.lease_token = r.token
	ORDER BY d.id FOR UPDATE OF d
), up AS (`

func newQueries(schema string) queries {
	r := strings.NewReplacer("{{s}}", schema)
	return queries{
		schema:        schema,
		addDeliveries: r.Replace(addDeliveries),
		report:        r.Replace(reportQuery),

		// All or nothing: the members are written only when every ref
		// still holds its lease; the stale refs are returned either way.
		formBatch: r.Replace(lockHeld + `
	UPDATE {{s}}.deliveries_pending AS d SET batch_id = $3, lease_until = $4, due_at = $4
	FROM locked
	WHERE d.id = locked.id
		AND (SELECT count(*) FROM locked) = (SELECT count(DISTINCT id) FROM r)
	RETURNING d.id
)
SELECT r.id, r.token FROM r WHERE NOT EXISTS (SELECT 1 FROM locked WHERE locked.id = r.id)`),

		putEndpoint: r.Replace(`
WITH up AS (
	INSERT INTO {{s}}.endpoints (` + endpointColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $23, $24,
		$25, $26, $27, $28, $29, $30, $31)
	ON CONFLICT (id) DO UPDATE SET
		tenant = EXCLUDED.tenant, url = EXCLUDED.url, description = EXCLUDED.description,
		event_types = EXCLUDED.event_types, template = EXCLUDED.template,
		content_type = EXCLUDED.content_type, settings = EXCLUDED.settings,
		headers = EXCLUDED.headers, secret_keys = EXCLUDED.secret_keys,
		secret_expires = EXCLUDED.secret_expires, disabled = EXCLUDED.disabled,
		disabled_reason = EXCLUDED.disabled_reason, max_concurrency = EXCLUDED.max_concurrency,
		retry = EXCLUDED.retry, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,
		signature_kind = EXCLUDED.signature_kind, signature_header = EXCLUDED.signature_header,
		signature_prefix = EXCLUDED.signature_prefix, unsigned = EXCLUDED.unsigned,
		ordered = EXCLUDED.ordered, rate_limit = EXCLUDED.rate_limit,
		rate_burst = EXCLUDED.rate_burst, failing_since = EXCLUDED.failing_since, filter = EXCLUDED.filter,
		ack_timeout_ns = EXCLUDED.ack_timeout_ns,
		batch_max_events = EXCLUDED.batch_max_events, batch_max_bytes = EXCLUDED.batch_max_bytes,
		batch_max_wait = EXCLUDED.batch_max_wait
	RETURNING 1
), bump AS (
	UPDATE {{s}}.meta SET endpoints_version = endpoints_version + 1 WHERE id = 1
)
SELECT pg_notify($22, '` + notifyEndpoints + `') FROM up`),

		// The conditional form: one UPDATE that matches the stored
		// updated_at, compared at the microsecond precision PostgreSQL
		// keeps (pgx truncates both the stored and the compared time the
		// same way). It reports whether it wrote and whether the endpoint
		// exists, so a miss tells ErrConflict from ErrNotFound.
		putEndpointIf: r.Replace(`
WITH up AS (
	UPDATE {{s}}.endpoints SET
		tenant = $2, url = $3, description = $4, event_types = $5, template = $6,
		content_type = $7, settings = $8, headers = $9, secret_keys = $10,
		secret_expires = $11, disabled = $12, disabled_reason = $13, max_concurrency = $14,
		retry = $15, created_at = $16, updated_at = $17, signature_kind = $18,
		signature_header = $19, signature_prefix = $20, unsigned = $21, ordered = $24, filter = $25,
		rate_limit = $26, rate_burst = $27, failing_since = $28, ack_timeout_ns = $29,
		batch_max_events = $30, batch_max_bytes = $31, batch_max_wait = $32
	WHERE id = $1 AND updated_at = $23
	RETURNING 1
), bump AS (
	UPDATE {{s}}.meta SET endpoints_version = endpoints_version + 1
	WHERE id = 1 AND EXISTS (SELECT 1 FROM up)
), note AS (
	SELECT pg_notify($22, '` + notifyEndpoints + `') FROM up
)
SELECT EXISTS (SELECT 1 FROM up), EXISTS (SELECT 1 FROM {{s}}.endpoints WHERE id = $1),
	(SELECT count(*) FROM note)`),

		deleteEndpoint: r.Replace(`
WITH del AS (
	DELETE FROM {{s}}.endpoints WHERE id = $1 RETURNING id
), bump AS (
	UPDATE {{s}}.meta SET endpoints_version = endpoints_version + 1
	WHERE id = 1 AND EXISTS (SELECT 1 FROM del)
)
SELECT del.id, pg_notify($2, '` + notifyEndpoints + `') FROM del`),

		// Events first, ON CONFLICT DO NOTHING; deliveries only for the
		// events this statement inserted, so a repeated event adds nothing.
		// Ordered deliveries take their places from their sequences' rows,
		// locked in key order (so that two enqueues cannot deadlock) until
		// commit; the first of a sequence that had nothing pending is its
		// head and due, the others wait at 'infinity'. Only the hot table
		// has a unique index on id, so dup fails the statement (as that
		// index would) for an ID stored in any partition or given twice.
		// One statement, one round trip, atomic.
		enqueue: r.Replace(`
WITH ev AS (
	INSERT INTO {{s}}.events (id, type, tenant, time, payload, attributes, stored_at,
		trace_parent, trace_state, ordering_key)
	SELECT e.id, e.type, e.tenant, e.time, e.payload, e.attributes::jsonb, $7,
		e.trace_parent, e.trace_state, e.okey
	FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::bytea[], $6::text[],
			$20::text[], $21::text[], $22::text[])
		AS e(id, type, tenant, time, payload, attributes, trace_parent, trace_state, okey)
	ON CONFLICT (id) DO NOTHING
	RETURNING id
), d AS MATERIALIZED (
	SELECT d.*, d.ordered AND d.state = 'pending' AS queued,
		row_number() OVER (w ORDER BY d.ord) AS rn, count(*) OVER w AS cnt
	FROM unnest($8::text[], $9::text[], $10::text[], $11::text[], $12::int[], $13::timestamptz[],
			$14::int[], $15::text[], $16::timestamptz[], $17::timestamptz[], $23::text[], $24::boolean[])
		WITH ORDINALITY
		AS d(id, event_id, endpoint_id, state, attempts, next_at, status, error, created_at, updated_at,
			okey, ordered, ord)
	JOIN ev ON ev.id = d.event_id
	WINDOW w AS (PARTITION BY d.endpoint_id, d.okey, d.ordered AND d.state = 'pending')
), dup AS (
	SELECT {{s}}.duplicate_delivery(x.id) FROM (
		SELECT d.id FROM d CROSS JOIN LATERAL (
			SELECT 1 FROM {{s}}.deliveries AS h WHERE h.id = d.id LIMIT 1) AS h
		UNION ALL
		SELECT id FROM d GROUP BY id HAVING count(*) > 1
	) AS x
), sq AS (
	INSERT INTO {{s}}.sequences AS s (endpoint_id, ordering_key, last_seq, pending)
	SELECT endpoint_id, okey, max(cnt), max(cnt) FROM d WHERE queued
	GROUP BY endpoint_id, okey ORDER BY endpoint_id, okey
	ON CONFLICT (endpoint_id, ordering_key) DO UPDATE
	SET last_seq = s.last_seq + EXCLUDED.last_seq, pending = s.pending + EXCLUDED.pending
	RETURNING s.endpoint_id, s.ordering_key, s.last_seq, s.pending
), dl AS (
	INSERT INTO {{s}}.deliveries (id, event_id, endpoint_id, state, attempts, next_attempt_at, due_at,
		last_status_code, last_error, created_at, updated_at, ordering_key, ordered, seq)
	SELECT d.id, d.event_id, d.endpoint_id, d.state, d.attempts, d.next_at,
		CASE WHEN d.queued AND (d.rn > 1 OR sq.pending > d.cnt) THEN 'infinity' ELSE d.next_at END,
		d.status, d.error, d.created_at, d.updated_at, d.okey, d.ordered,
		CASE WHEN d.queued THEN sq.last_seq - d.cnt + d.rn ELSE 0 END
	FROM d LEFT JOIN sq ON d.queued AND sq.endpoint_id = d.endpoint_id AND sq.ordering_key = d.okey
	WHERE NOT EXISTS (SELECT 1 FROM dup)
	RETURNING state
)
SELECT pg_notify($18, $19)
FROM (SELECT 1 FROM dl WHERE state = 'pending' LIMIT 1) AS due`),

		// Claim with SKIP LOCKED and write owner, token and deadline in the
		// same statement. due_at moves to the deadline, so an expired lease
		// is due again without any sweeper. Each event is read by its key
		// (LATERAL ... LIMIT 1 leaves the planner no other way), so a plan
		// cached while the tables were small never scans them whole.
		//
		// A candidate that belongs to a formed batch brings the batch's
		// other pending members (mates), and the batch goes only whole:
		// when a mate is held by a live lease, or locked by another
		// statement leasing it at this moment (so not all pending members
		// were locked here), none of the batch is leased. Mates are found
		// and counted per batch through the partial index on batch_id, so
		// a lease without batches reads nothing for them, and the plan's
		// cost stays low enough that PostgreSQL does not compile it (JIT)
		// on every call.
		lease: r.Replace(`
WITH cand AS (
	SELECT id, due_at, batch_id FROM {{s}}.deliveries_pending
	WHERE due_at <= $1 AND endpoint_id <> ALL($5::text[])
	ORDER BY due_at, id
	LIMIT $4
	FOR UPDATE SKIP LOCKED
), batches AS MATERIALIZED (
	SELECT DISTINCT batch_id FROM cand WHERE batch_id <> ''
), mates AS (
	SELECT m.id, m.batch_id, m.lease_token IS NOT NULL AND m.due_at > $1 AS live
	FROM batches AS b CROSS JOIN LATERAL (
		SELECT id, batch_id, lease_token, due_at FROM {{s}}.deliveries_pending
		WHERE batch_id = b.batch_id AND batch_id <> ''
		FOR UPDATE SKIP LOCKED
	) AS m
), whole AS (
	SELECT mm.batch_id FROM (
		SELECT batch_id, count(*) AS n, bool_or(live) AS live FROM mates GROUP BY batch_id
	) AS mm CROSS JOIN LATERAL (
		SELECT count(*) AS n FROM {{s}}.deliveries_pending AS x
		WHERE x.batch_id = mm.batch_id AND x.batch_id <> ''
	) AS xx
	WHERE NOT mm.live AND mm.n = xx.n
), picked AS (
	SELECT id FROM cand WHERE batch_id = ''
	UNION
	SELECT m.id FROM mates AS m WHERE m.batch_id IN (SELECT batch_id FROM whole)
), d AS (
	UPDATE {{s}}.deliveries_pending AS d
	SET lease_owner = $2, lease_token = gen_random_uuid()::text, lease_until = $3, due_at = $3
	WHERE d.id = ANY(ARRAY(SELECT id FROM picked))
	RETURNING d.*
)
SELECT d.id, d.event_id, d.endpoint_id, d.state, d.attempts, d.next_attempt_at,
	d.last_status_code, d.last_error, d.created_at, d.updated_at, d.ordering_key, d.ordered,
	e.id, e.type, e.tenant, e.time, e.payload, e.attributes,
	e.trace_parent, e.trace_state, e.ordering_key,
	d.lease_token, d.schedule_start, d.ack_token_hash IS NOT NULL, d.batch_id
FROM d CROSS JOIN LATERAL (
	SELECT * FROM {{s}}.events AS e WHERE e.id = d.event_id LIMIT 1
) AS e`),

		extend: r.Replace(lockHeld + `
	UPDATE {{s}}.deliveries_pending AS d SET lease_until = $3, due_at = $3
	FROM locked
	WHERE d.id = locked.id AND d.lease_token = locked.token
	RETURNING d.id, locked.token
)
SELECT id, token FROM up`),

		// Outcomes whose token still holds the lease move the delivery on
		// and append their attempts; the statement returns them, and the
		// others are stale. Rows are locked in ID order first, as in
		// extend and release, so that batches of one owner that overlap
		// cannot deadlock. The UPDATE goes through the parent table, which
		// moves a finished delivery into its history partition.
		complete: r.Replace(`
WITH o AS (
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::int[],
			$6::int[], $7::text[], $18::bytea[], $19::text[])
		AS o(id, token, state, next_at, n, status, error, hash, wclass)
), locked AS MATERIALIZED (
	SELECT o.* FROM o JOIN {{s}}.deliveries_pending AS d ON d.id = o.id AND d.lease_token = o.token
	ORDER BY d.id FOR UPDATE OF d
), up AS (
	UPDATE {{s}}.deliveries AS d SET
		state = o.state,
		attempts = d.attempts + o.n,
		next_attempt_at = CASE WHEN o.state = 'pending' THEN o.next_at ELSE d.next_attempt_at END,
		due_at = CASE WHEN o.state = 'pending' THEN o.next_at ELSE d.due_at END,
		last_status_code = CASE WHEN o.n > 0 THEN o.status ELSE d.last_status_code END,
		last_error = CASE WHEN o.n > 0 OR o.wclass <> '' THEN o.error ELSE d.last_error END,
		lease_owner = NULL, lease_token = NULL, lease_until = NULL,
		ack_token_hash = o.hash,
		updated_at = $17
	FROM locked AS o
	WHERE d.id = o.id AND d.lease_token = o.token AND d.state = 'pending'
	RETURNING d.id, o.token, d.attempts - o.n AS base, d.endpoint_id, d.ordering_key,
		d.ordered AND d.state <> 'pending' AS ended, d.state, o.wclass, o.error
), ended AS (
	SELECT endpoint_id, ordering_key, count(*) AS n FROM up WHERE ended GROUP BY endpoint_id, ordering_key
), seqlock AS MATERIALIZED (
	SELECT s.endpoint_id, s.ordering_key FROM {{s}}.sequences AS s
	JOIN ended USING (endpoint_id, ordering_key)
	ORDER BY s.endpoint_id, s.ordering_key FOR UPDATE OF s
), seqdone AS (
	UPDATE {{s}}.sequences AS s SET pending = s.pending - ended.n
	FROM ended, seqlock
	WHERE s.endpoint_id = ended.endpoint_id AND s.ordering_key = ended.ordering_key
		AND seqlock.endpoint_id = s.endpoint_id AND seqlock.ordering_key = s.ordering_key
), moved AS (
	-- Attempts follow their finished delivery to its partition; the
	-- attempt that awaited a report takes the failure that ended the wait.
	UPDATE {{s}}.attempts AS a SET state = up.state,
		finished_at = CASE WHEN up.state <> 'pending' THEN $17::timestamptz END,
		error_class = CASE WHEN up.wclass <> '' AND a.number = up.base THEN up.wclass ELSE a.error_class END,
		error = CASE WHEN up.wclass <> '' AND a.number = up.base THEN up.error ELSE a.error END
	FROM up WHERE a.state = 'pending' AND a.delivery_id = up.id
		AND (up.state <> 'pending' OR up.wclass <> '' AND a.number = up.base)
), ins AS (
	INSERT INTO {{s}}.attempts (delivery_id, number, started_at, duration_ns, status_code,
		error_class, error, response_body, response_truncated, state, finished_at)
	SELECT a.delivery_id, up.base + a.idx, a.started_at, a.duration_ns, a.status_code,
		a.error_class, a.error, a.body, a.truncated,
		up.state, CASE WHEN up.state <> 'pending' THEN $17::timestamptz END
	FROM unnest($8::text[], $9::int[], $10::timestamptz[], $11::bigint[], $12::int[], $13::text[],
			$14::text[], $15::bytea[], $16::boolean[])
		AS a(delivery_id, idx, started_at, duration_ns, status_code, error_class, error, body, truncated)
	JOIN up ON up.id = a.delivery_id
), note AS (
	SELECT set_config('` + endedSetting + `',
		COALESCE((SELECT json_agg(json_build_array(endpoint_id, ordering_key))::text FROM ended), ''), true)
)
SELECT up.id, up.token FROM up, note`),

		release: r.Replace(lockHeld + `
	UPDATE {{s}}.deliveries_pending AS d SET
		lease_owner = NULL, lease_token = NULL, lease_until = NULL,
		next_attempt_at = $3, due_at = $3
	FROM locked
	WHERE d.id = locked.id AND d.lease_token = locked.token
	RETURNING 1
)
SELECT pg_notify($4, '` + notifyDeliveries + `') FROM (SELECT 1 FROM up LIMIT 1) AS due`),

		version: r.Replace(`SELECT endpoints_version FROM {{s}}.meta WHERE id = 1`),

		// What the poller compares from one poll to the next: the first
		// entry of the due index and the endpoints version.
		poll: r.Replace(`
SELECT (SELECT endpoints_version FROM {{s}}.meta WHERE id = 1),
	(SELECT min(due_at) FROM {{s}}.deliveries_pending)`),

		nextDue: r.Replace(`
SELECT min(due_at) FROM {{s}}.deliveries_pending
WHERE due_at < 'infinity' AND endpoint_id <> ALL($1::text[])`),

		// Run after complete in the same transaction, with a snapshot of
		// its own: complete holds the rows of the sequences whose heads it
		// ended, so every enqueue to them has committed or waits, and this
		// statement sees the next of each. It gives that one its due_at
		// (unless it already has it) and drops the rows of sequences left
		// empty. Complete names those sequences in a setting local to the
		// transaction (endedSetting), so this statement reads neither the
		// history nor anything at all when no ordered delivery ended.
		advance: r.Replace(`
WITH ended AS (
	SELECT DISTINCT e->>0 AS endpoint_id, e->>1 AS ordering_key
	FROM json_array_elements(COALESCE(NULLIF(current_setting('` + endedSetting + `', true), ''), '[]')::json) AS e
), heads AS (
	SELECT h.id FROM ended, LATERAL (
		SELECT id, due_at FROM {{s}}.deliveries_pending AS d
		WHERE d.endpoint_id = ended.endpoint_id AND d.ordering_key = ended.ordering_key AND d.ordered
		ORDER BY d.seq LIMIT 1
	) AS h
	WHERE h.due_at = 'infinity'
), due AS (
	UPDATE {{s}}.deliveries_pending AS d SET due_at = d.next_attempt_at
	FROM heads WHERE d.id = heads.id
	RETURNING 1
), gone AS (
	DELETE FROM {{s}}.sequences AS s USING ended
	WHERE s.endpoint_id = ended.endpoint_id AND s.ordering_key = ended.ordering_key AND s.pending <= 0
)
SELECT pg_notify($1, '` + notifyDeliveries + `') FROM (SELECT 1 FROM due LIMIT 1) AS n`),

		// An ordered delivery joins the end of its sequence: it takes the
		// next place from the sequence's row, locked until commit, and is
		// due at once only when nothing else of its sequence is pending.
		redeliver: r.Replace(`
WITH cur AS MATERIALIZED (
	SELECT id, endpoint_id, ordering_key, ordered FROM {{s}}.deliveries
	WHERE id = $1 AND state <> 'pending'
	FOR UPDATE
), sq AS (
	INSERT INTO {{s}}.sequences AS s (endpoint_id, ordering_key, last_seq, pending)
	SELECT endpoint_id, ordering_key, 1, 1 FROM cur WHERE ordered
	ON CONFLICT (endpoint_id, ordering_key) DO UPDATE
	SET last_seq = s.last_seq + 1, pending = s.pending + 1
	RETURNING s.last_seq, s.pending
), up AS (
	UPDATE {{s}}.deliveries AS d SET
		state = 'pending', next_attempt_at = $2::timestamptz, updated_at = $2::timestamptz,
		due_at = CASE WHEN (SELECT pending FROM sq) > 1 THEN 'infinity' ELSE $2::timestamptz END,
		seq = COALESCE((SELECT last_seq FROM sq), 0),
		schedule_start = CASE WHEN $4::boolean THEN d.attempts ELSE d.schedule_start END,
		lease_owner = NULL, lease_token = NULL, lease_until = NULL, batch_id = ''
	FROM cur WHERE d.id = cur.id AND d.state <> 'pending'
	RETURNING 1
), moved AS (
	UPDATE {{s}}.attempts AS a SET state = 'pending', finished_at = NULL
	FROM cur WHERE a.delivery_id = cur.id AND a.state <> 'pending'
)
SELECT (SELECT count(*) FROM {{s}}.deliveries WHERE id = $1),
	(SELECT count(*) FROM (SELECT pg_notify($3, '` + notifyDeliveries + `') FROM up) AS n)`),

		// A bounded batch of finished deliveries, their attempts, and the
		// events this leaves without deliveries; plus up to the same number
		// of old events that never had a delivery. Failed deliveries have
		// their own cut-off ($3). Each delete repeats the cut-offs so that
		// it reads only the partitions that straddle them (those wholly
		// before were dropped), attempts by finished_at, which is their
		// delivery's updated_at. Rows already locked by another pruner are
		// skipped.
		prune: r.Replace(`
WITH victims AS (
	SELECT id, event_id FROM {{s}}.deliveries
	WHERE state <> 'pending' AND updated_at < $1 AND state <> 'failed'
		OR state = 'failed' AND updated_at < $3
	LIMIT $2
	FOR UPDATE SKIP LOCKED
), del_attempts AS (
	DELETE FROM {{s}}.attempts AS a
	WHERE a.delivery_id = ANY(ARRAY(SELECT id FROM victims))
		AND (a.state <> 'pending' AND a.finished_at < $1 AND a.state <> 'failed'
			OR a.state = 'failed' AND a.finished_at < $3)
), del_deliveries AS (
	DELETE FROM {{s}}.deliveries AS d
	WHERE d.id = ANY(ARRAY(SELECT id FROM victims))
		AND (d.state <> 'pending' AND d.updated_at < $1 AND d.state <> 'failed'
			OR d.state = 'failed' AND d.updated_at < $3)
	RETURNING d.id, d.event_id
), del_reports AS (
	DELETE FROM {{s}}.reports AS r WHERE r.delivery_id IN (SELECT id FROM del_deliveries)
), del_events AS (
	DELETE FROM {{s}}.events AS e
	WHERE e.id IN (SELECT event_id FROM del_deliveries) AND e.stored_at < $1
	AND NOT EXISTS (
		SELECT 1 FROM {{s}}.deliveries AS d2
		WHERE d2.event_id = e.id AND d2.id NOT IN (SELECT id FROM del_deliveries))
), del_orphans AS (
	DELETE FROM {{s}}.events AS e
	WHERE e.id IN (
		SELECT e2.id FROM {{s}}.events AS e2
		WHERE e2.stored_at < $1
		AND NOT EXISTS (SELECT 1 FROM {{s}}.deliveries AS d3 WHERE d3.event_id = e2.id)
		LIMIT $2
		FOR UPDATE SKIP LOCKED)
)
SELECT count(*) FROM del_deliveries`),

		// The events stored before $1 of the deliveries of one history
		// partition ({{p}}, $2 its name), but those that have deliveries
		// elsewhere: run before the partition is dropped.
		pruneEvents: r.Replace(`
DELETE FROM {{s}}.events AS e
USING (SELECT DISTINCT event_id FROM {{p}}) AS p
WHERE e.id = p.event_id AND e.stored_at < $1
AND NOT EXISTS (
	SELECT 1 FROM {{s}}.deliveries AS d
	WHERE d.event_id = e.id AND d.tableoid <> $2::regclass)`),
	}
}
