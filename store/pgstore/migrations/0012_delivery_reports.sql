-- Receivers that report back (Endpoint.AckTimeout).
--
-- endpoints.ack_timeout_ns is the endpoint's wait for a report, in
-- nanoseconds; 0 turns it off.
--
-- deliveries.ack_token_hash is the SHA-256 of the callback token a
-- delivery's report must carry while it awaits one (NULL otherwise);
-- deliveries.reports counts its reports, so that the next report's number
-- is read from the row a report locks.
--
-- reports holds every report, keyed by delivery and number. Prune deletes
-- a delivery's reports with it (row by row, and before dropping a history
-- partition, the reports of the deliveries it holds).

ALTER TABLE {{schema}}.endpoints
    ADD COLUMN IF NOT EXISTS ack_timeout_ns bigint NOT NULL DEFAULT 0;

ALTER TABLE {{schema}}.deliveries
    ADD COLUMN IF NOT EXISTS ack_token_hash bytea,
    ADD COLUMN IF NOT EXISTS reports integer NOT NULL DEFAULT 0;

CREATE TABLE {{schema}}.reports (
    delivery_id  text COLLATE "C" NOT NULL,
    number       integer NOT NULL,
    attempt      integer NOT NULL,
    status       text NOT NULL,
    message      text NOT NULL DEFAULT '',
    progress     double precision NOT NULL DEFAULT 0,
    received_at  timestamptz NOT NULL,
    PRIMARY KEY (delivery_id, number)
);
