-- Batches (webhook.Endpoint.Batch, webhook.Batcher).
--
-- An endpoint's batch policy, its wait in nanoseconds; and on each
-- delivery the batch it was last sent in ('' when never). A pending
-- delivery with a batch_id is leased only with the other pending members
-- of its batch, which the partial index finds: it holds only the batches
-- in flight, so it stays small.

ALTER TABLE {{schema}}.endpoints
    ADD COLUMN IF NOT EXISTS batch_max_events integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS batch_max_bytes  integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS batch_max_wait   bigint NOT NULL DEFAULT 0;

ALTER TABLE {{schema}}.deliveries
    ADD COLUMN IF NOT EXISTS batch_id text COLLATE "C" NOT NULL DEFAULT '';

CREATE INDEX deliveries_pending_batch ON {{schema}}.deliveries_pending (batch_id, id)
    WHERE batch_id <> '';
