-- Ordered delivery (webhook.Endpoint.Ordered, webhook.Event.OrderingKey).
--
-- A pending ordered delivery has a place (seq) in its sequence, one per
-- (endpoint_id, ordering_key). Only the head of a sequence, the pending one
-- with the lowest seq, is in the due index at its real due_at; the others
-- wait at due_at = 'infinity', out of the range every Lease scans, so the
-- lease query is the one it was and skips nothing. When a head ends, the
-- statement after it (in the same transaction) gives the next one its
-- due_at.
--
-- sequences holds, per sequence with pending deliveries, the last place
-- given and how many are pending. Every write that adds to a sequence or
-- ends its head updates that row first and holds its lock until commit, so
-- writers of one sequence commit one after the other, and places follow
-- commit order: an enqueue that takes place n+1 waited for the one that
-- took n to commit. (A SERIAL or a sequence read at insert would not: a
-- transaction that took n could commit after one that took n+1, which a
-- lease in between would then send first.)

ALTER TABLE {{schema}}.endpoints
    ADD COLUMN ordered boolean NOT NULL DEFAULT false;

ALTER TABLE {{schema}}.events
    ADD COLUMN ordering_key text NOT NULL DEFAULT '';

ALTER TABLE {{schema}}.deliveries
    ADD COLUMN ordering_key text NOT NULL DEFAULT '',
    ADD COLUMN ordered boolean NOT NULL DEFAULT false,
    ADD COLUMN seq bigint NOT NULL DEFAULT 0;

CREATE TABLE {{schema}}.sequences (
    endpoint_id   text COLLATE "C" NOT NULL,
    ordering_key  text COLLATE "C" NOT NULL,
    last_seq      bigint NOT NULL,
    pending       bigint NOT NULL,
    PRIMARY KEY (endpoint_id, ordering_key)
);

CREATE INDEX deliveries_sequence ON {{schema}}.deliveries (endpoint_id, ordering_key, seq)
    WHERE ordered AND state = 'pending';
