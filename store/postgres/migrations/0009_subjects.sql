-- Subjects: the latest state of every subject (a message, a template, …)
-- by the lifecycle order (event/lifecycle.go), kept up to date by the
-- append itself: one row per (source, subject), found by its key alone.
-- event_seq is the receipt order of the event that set the state; events
-- counts the subject's stored events, and retention deletes the row once
-- it has pruned them all. An event with no subject has no row.
CREATE TABLE subjects (
    source      text        NOT NULL,
    subject     text        NOT NULL,
    kind        text        NOT NULL DEFAULT '',
    status      text        NOT NULL DEFAULT '',
    rank        integer     NOT NULL DEFAULT 0,
    event_seq   bigint      NOT NULL,
    event_id    text        NOT NULL,
    occurred_at timestamptz,                      -- NULL when the envelope has none
    received_at timestamptz NOT NULL,
    events      bigint      NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (source, subject)
);

-- An event's lifecycle rank, and whether a later state of its subject had
-- been stored when it arrived. Events stored before this migration rank 0
-- and are not stale: their subjects' states start with the next event.
ALTER TABLE events ADD COLUMN rank integer NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN stale boolean NOT NULL DEFAULT false;
