-- Recovery: the indexes of backfill and of the operator's listings, and
-- the restart of a redelivered delivery's retry schedule.
--
-- events (stored_at, id) serves ListEvents, which backfill pages through
-- in stored order, and Prune as events_stored_at did. events (type, id)
-- serves the event type filter of ListDeliveries, which reads the
-- deliveries of those events through deliveries_event.
--
-- The state filter needs no new index on deliveries: a finished state
-- reads deliveries_finished_state (state, id), pending reads deliveries_due
-- when few are pending and the primary key when many are. Every index on
-- deliveries is written by each lease and outcome, so none is added.

CREATE INDEX events_stored_at_id ON {{schema}}.events (stored_at, id);
DROP INDEX {{schema}}.events_stored_at;
CREATE INDEX events_type_id ON {{schema}}.events (type, id);

-- schedule_start (webhook.Delivery.ScheduleStart): the attempts made
-- before a redelivery restarted the retry schedule.
ALTER TABLE {{schema}}.deliveries
    ADD COLUMN schedule_start integer NOT NULL DEFAULT 0;
