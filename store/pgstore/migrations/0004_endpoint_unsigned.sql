-- Endpoints that send unsigned requests on purpose (webhook.Endpoint.Unsigned).

ALTER TABLE {{schema}}.endpoints
    ADD COLUMN unsigned boolean NOT NULL DEFAULT false;
