-- Per-endpoint signature scheme (webhook.SignatureScheme).

ALTER TABLE {{schema}}.endpoints
    ADD COLUMN signature_kind    text NOT NULL DEFAULT '',
    ADD COLUMN signature_header  text NOT NULL DEFAULT '',
    ADD COLUMN signature_prefix  text NOT NULL DEFAULT '';
