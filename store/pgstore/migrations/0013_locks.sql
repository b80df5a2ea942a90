-- Named, time-bounded locks (webhook.Locker): one row per lock held. The
-- Dispatchers of every replica take the retention lock here, so that one
-- of them at a time prunes.

CREATE TABLE IF NOT EXISTS {{schema}}.locks (
    name   text PRIMARY KEY,
    owner  text NOT NULL,
    until  timestamptz NOT NULL
);
