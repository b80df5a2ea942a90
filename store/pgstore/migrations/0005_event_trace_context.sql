-- The W3C trace context (traceparent, tracestate) of the span that
-- emitted each event, so that every attempt links to it.

ALTER TABLE {{schema}}.events
    ADD COLUMN trace_parent text NOT NULL DEFAULT '',
    ADD COLUMN trace_state  text NOT NULL DEFAULT '';
