-- Recovery: the indexes of backfill and of the operator's listings, and
-- the restart of a redelivered delivery's retry schedule.
--
-- events (stored_at, id) serves ListEvents, which backfill pages through
-- in stored order, and Prune as events_stored_at did. events (type, id)
-- serves the event type filter of ListDeliveries.
-- deliveries (endpoint_id, state, id) serves a listing of one endpoint's
-- deliveries in one state (redeliver-failed); deliveries (id) WHERE
-- pending serves a listing of pending ones when few are (the finished
-- states have deliveries_finished_state).

CREATE INDEX events_stored_at_id ON {{schema}}.events (stored_at, id);
DROP INDEX {{schema}}.events_stored_at;
CREATE INDEX events_type_id ON {{schema}}.events (type, id);
CREATE INDEX deliveries_endpoint_state ON {{schema}}.deliveries (endpoint_id, state, id);
CREATE INDEX deliveries_pending_id ON {{schema}}.deliveries (id) WHERE state = 'pending';

-- schedule_start (webhook.Delivery.ScheduleStart): the attempts made
-- before a redelivery restarted the retry schedule.
ALTER TABLE {{schema}}.deliveries
    ADD COLUMN schedule_start integer NOT NULL DEFAULT 0;
