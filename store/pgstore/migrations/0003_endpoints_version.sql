-- A counter bumped by every endpoint write, so a process that may have
-- missed a notification can tell whether endpoints changed.

CREATE TABLE {{schema}}.meta (
    id                 integer PRIMARY KEY CHECK (id = 1),
    endpoints_version  bigint NOT NULL
);

INSERT INTO {{schema}}.meta (id, endpoints_version) VALUES (1, 0);
