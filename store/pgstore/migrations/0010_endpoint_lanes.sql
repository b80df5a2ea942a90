-- Endpoint lane controls (rate limit) and the start of an endpoint's
-- failing run, which drives auto-disable across restarts and replicas.

ALTER TABLE {{schema}}.endpoints
    ADD COLUMN IF NOT EXISTS rate_limit     double precision NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS rate_burst     integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS failing_since  timestamptz;
