-- Hooklet schema, version 1. {{schema}} is replaced by the quoted schema name.

CREATE TABLE {{schema}}.endpoints (
    id               text COLLATE "C" PRIMARY KEY,
    tenant           text NOT NULL DEFAULT '',
    url              text NOT NULL,
    description      text NOT NULL DEFAULT '',
    event_types      text[] NOT NULL DEFAULT '{}',
    template         text NOT NULL DEFAULT '',
    content_type     text NOT NULL DEFAULT '',
    settings         bytea,
    headers          jsonb,
    secret_keys      text[] NOT NULL DEFAULT '{}',
    secret_expires   timestamptz[] NOT NULL DEFAULT '{}',
    disabled         boolean NOT NULL DEFAULT false,
    disabled_reason  text NOT NULL DEFAULT '',
    max_concurrency  integer NOT NULL DEFAULT 0,
    retry            jsonb,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);

CREATE INDEX endpoints_tenant_id ON {{schema}}.endpoints (tenant, id);

CREATE TABLE {{schema}}.events (
    id          text COLLATE "C" PRIMARY KEY,
    type        text NOT NULL,
    tenant      text NOT NULL DEFAULT '',
    time        timestamptz NOT NULL,
    payload     bytea NOT NULL,
    attributes  jsonb,
    stored_at   timestamptz NOT NULL
);

CREATE INDEX events_stored_at ON {{schema}}.events (stored_at);

-- due_at is when the delivery can next be leased: next_attempt_at while it
-- is not leased, the lease deadline while it is. A pending delivery is due
-- when due_at <= now, so one partial index serves Lease and NextDue.
CREATE TABLE {{schema}}.deliveries (
    id                text COLLATE "C" PRIMARY KEY,
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
    updated_at        timestamptz NOT NULL
);

CREATE INDEX deliveries_due ON {{schema}}.deliveries (due_at, id) WHERE state = 'pending';
CREATE INDEX deliveries_event ON {{schema}}.deliveries (event_id, id);
CREATE INDEX deliveries_endpoint ON {{schema}}.deliveries (endpoint_id, id);
CREATE INDEX deliveries_finished_state ON {{schema}}.deliveries (state, id) WHERE state <> 'pending';
CREATE INDEX deliveries_finished ON {{schema}}.deliveries (updated_at) WHERE state <> 'pending';

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
    PRIMARY KEY (delivery_id, number)
);
