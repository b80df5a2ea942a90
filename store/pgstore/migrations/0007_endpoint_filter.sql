-- Per-endpoint filter (webhook.Endpoint.Filter), kept byte for byte as the
-- host wrote it, like settings.

ALTER TABLE {{schema}}.endpoints ADD COLUMN filter bytea;
