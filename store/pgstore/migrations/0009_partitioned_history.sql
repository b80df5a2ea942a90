-- History partitioned by time, so that retention drops whole partitions
-- instead of deleting rows (and never leaves dead rows for VACUUM).
--
-- deliveries and attempts are partitioned by LIST (state):
--
--   deliveries_pending  pending deliveries, the hot table: small, with
--                       its primary key and the due and sequence indexes
--                       that Lease, Complete, ExtendLeases, Release,
--                       NextDue and the ordered sequences use.
--   deliveries_failed   failed deliveries, by RANGE (updated_at), one
--                       partition a day (UTC), kept until FailedBefore.
--   deliveries_done     every other finished state (succeeded, skipped),
--                       by RANGE (updated_at), one partition a day,
--                       kept until Before.
--
-- A delivery moves between them by the UPDATE that changes its state
-- (Complete, Redeliver): PostgreSQL moves the row in the same statement.
-- The attempts follow their delivery: attempts.state and
-- attempts.finished_at are the delivery's state and, once it is finished,
-- its updated_at, so the attempts of one day's failed deliveries sit in
-- the partition that is dropped with them.
--
-- Each range-partitioned table has a DEFAULT partition for rows whose day
-- has no partition yet (far past or future times, or days before the
-- store created theirs); prune deletes rows there. The store creates the
-- days ahead with ensure_partitions.
--
-- Only deliveries_pending has a unique index on id (a partitioned table's
-- unique index must hold the partition key). Enqueue checks the finished
-- ones itself and fails with duplicate_delivery, as the unique index does.

ALTER TABLE {{schema}}.deliveries RENAME TO deliveries_v8;
ALTER TABLE {{schema}}.deliveries_v8 RENAME CONSTRAINT deliveries_pkey TO deliveries_v8_pkey;
DROP INDEX {{schema}}.deliveries_due, {{schema}}.deliveries_event, {{schema}}.deliveries_endpoint,
    {{schema}}.deliveries_finished_state, {{schema}}.deliveries_finished, {{schema}}.deliveries_sequence;
ALTER TABLE {{schema}}.attempts RENAME TO attempts_v8;
ALTER TABLE {{schema}}.attempts_v8 RENAME CONSTRAINT attempts_pkey TO attempts_v8_pkey;

CREATE TABLE {{schema}}.deliveries (
    id                text COLLATE "C" NOT NULL,
    event_id          text COLLATE "C" NOT NULL,
    endpoint_id       text COLLATE "C" NOT NULL,
    state             text NOT NULL,
    attempts          integer NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz NOT NULL,
    due_at            timestamptz NOT NULL,
    last_status_code  integer NOT NULL DEFAULT 0,
    last_error        text NOT NULL DEFAULT '',
    lease_owner       text,
    lease_token       text,
    lease_until       timestamptz,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    ordering_key      text NOT NULL DEFAULT '',
    ordered           boolean NOT NULL DEFAULT false,
    seq               bigint NOT NULL DEFAULT 0,
    schedule_start    integer NOT NULL DEFAULT 0
) PARTITION BY LIST (state);

CREATE TABLE {{schema}}.deliveries_pending PARTITION OF {{schema}}.deliveries
    (PRIMARY KEY (id)) FOR VALUES IN ('pending');
CREATE TABLE {{schema}}.deliveries_failed PARTITION OF {{schema}}.deliveries
    FOR VALUES IN ('failed') PARTITION BY RANGE (updated_at);
CREATE TABLE {{schema}}.deliveries_done PARTITION OF {{schema}}.deliveries
    DEFAULT PARTITION BY RANGE (updated_at);
CREATE TABLE {{schema}}.deliveries_failed_default PARTITION OF {{schema}}.deliveries_failed DEFAULT;
CREATE TABLE {{schema}}.deliveries_done_default PARTITION OF {{schema}}.deliveries_done DEFAULT;

-- On every partition.
CREATE INDEX deliveries_event ON {{schema}}.deliveries (event_id, id);
CREATE INDEX deliveries_endpoint ON {{schema}}.deliveries (endpoint_id, id);
-- The hot table.
CREATE INDEX deliveries_due ON {{schema}}.deliveries_pending (due_at, id);
CREATE INDEX deliveries_sequence ON {{schema}}.deliveries_pending (endpoint_id, ordering_key, seq)
    WHERE ordered;
-- The history: by ID (no unique index there) and by time.
CREATE INDEX deliveries_failed_id ON {{schema}}.deliveries_failed (id);
CREATE INDEX deliveries_done_id ON {{schema}}.deliveries_done (id);
CREATE INDEX deliveries_failed_updated ON {{schema}}.deliveries_failed (updated_at);
CREATE INDEX deliveries_done_updated ON {{schema}}.deliveries_done (updated_at);

CREATE TABLE {{schema}}.attempts (
    delivery_id         text COLLATE "C" NOT NULL,
    number              integer NOT NULL,
    started_at          timestamptz NOT NULL,
    duration_ns         bigint NOT NULL,
    status_code         integer NOT NULL,
    error_class         text NOT NULL DEFAULT '',
    error               text NOT NULL DEFAULT '',
    response_body       bytea,
    response_truncated  boolean NOT NULL DEFAULT false,
    state               text NOT NULL DEFAULT 'pending',
    finished_at         timestamptz
) PARTITION BY LIST (state);

CREATE TABLE {{schema}}.attempts_pending PARTITION OF {{schema}}.attempts
    (PRIMARY KEY (delivery_id, number)) FOR VALUES IN ('pending');
CREATE TABLE {{schema}}.attempts_failed PARTITION OF {{schema}}.attempts
    FOR VALUES IN ('failed') PARTITION BY RANGE (finished_at);
CREATE TABLE {{schema}}.attempts_done PARTITION OF {{schema}}.attempts
    DEFAULT PARTITION BY RANGE (finished_at);
CREATE TABLE {{schema}}.attempts_failed_default PARTITION OF {{schema}}.attempts_failed DEFAULT;
CREATE TABLE {{schema}}.attempts_done_default PARTITION OF {{schema}}.attempts_done DEFAULT;
CREATE INDEX attempts_failed_delivery ON {{schema}}.attempts_failed (delivery_id, number);
CREATE INDEX attempts_done_delivery ON {{schema}}.attempts_done (delivery_id, number);

-- ensure_partitions creates the day partitions (UTC) of the four history
-- tables from first to last, skipping those that exist. A day whose rows
-- already sit in a DEFAULT partition is left there (prune deletes them
-- row by row), as is one another process creates at the same moment.
CREATE FUNCTION {{schema}}.ensure_partitions(first date, last date) RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
    day date;
    parent text;
    name text;
    made integer := 0;
BEGIN
    FOR day IN SELECT generate_series(first, last, interval '1 day')::date LOOP
        FOREACH parent IN ARRAY ARRAY['deliveries_done', 'deliveries_failed', 'attempts_done', 'attempts_failed'] LOOP
            name := parent || '_p' || to_char(day, 'YYYYMMDD');
            CONTINUE WHEN to_regclass(format($q${{schema}}.%I$q$, name)) IS NOT NULL;
            BEGIN
                EXECUTE format($q$CREATE TABLE {{schema}}.%I PARTITION OF {{schema}}.%I FOR VALUES FROM (%L) TO (%L)$q$,
                    name, parent, day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
                made := made + 1;
            EXCEPTION WHEN check_violation OR duplicate_table OR invalid_object_definition THEN
                NULL;
            END;
        END LOOP;
    END LOOP;
    RETURN made;
END
$fn$;

-- duplicate_delivery fails the statement as a unique index on id would:
-- enqueue calls it for a delivery ID the history already holds.
CREATE FUNCTION {{schema}}.duplicate_delivery(id text) RETURNS boolean
LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE unique_violation USING
        MESSAGE = 'duplicate key value violates unique constraint "deliveries_id"',
        DETAIL = format('Key (id)=(%s) already exists.', id),
        TABLE = 'deliveries';
END
$fn$;

-- The days the history already has, and the week ahead, then the rows.
SELECT {{schema}}.ensure_partitions(day, day)
FROM (SELECT DISTINCT (updated_at AT TIME ZONE 'UTC')::date AS day
      FROM {{schema}}.deliveries_v8 WHERE state <> 'pending') AS days;
SELECT {{schema}}.ensure_partitions((now() AT TIME ZONE 'UTC')::date - 1, (now() AT TIME ZONE 'UTC')::date + 7);

INSERT INTO {{schema}}.deliveries (id, event_id, endpoint_id, state, attempts, next_attempt_at, due_at,
    last_status_code, last_error, lease_owner, lease_token, lease_until, created_at, updated_at,
    ordering_key, ordered, seq, schedule_start)
SELECT id, event_id, endpoint_id, state, attempts, next_attempt_at, due_at,
    last_status_code, last_error, lease_owner, lease_token, lease_until, created_at, updated_at,
    ordering_key, ordered, seq, schedule_start
FROM {{schema}}.deliveries_v8;

INSERT INTO {{schema}}.attempts (delivery_id, number, started_at, duration_ns, status_code,
    error_class, error, response_body, response_truncated, state, finished_at)
SELECT a.delivery_id, a.number, a.started_at, a.duration_ns, a.status_code,
    a.error_class, a.error, a.response_body, a.response_truncated,
    d.state, CASE WHEN d.state <> 'pending' THEN d.updated_at END
FROM {{schema}}.attempts_v8 AS a JOIN {{schema}}.deliveries_v8 AS d ON d.id = a.delivery_id;

DROP TABLE {{schema}}.attempts_v8, {{schema}}.deliveries_v8;
