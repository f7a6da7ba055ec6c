-- Subjects: the latest state of every subject (a message, a template, …)
-- by the lifecycle order (event/lifecycle.go), kept up to date by the
-- append itself: one row per (source, subject), found by its key alone.
-- event_seq is the receipt order of the event that set the state; events
-- counts the subject's stored events, and retention deletes the row once
-- it has pruned them all. An event with no subject has no row.
CREATE TABLE subjects (
    source      TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    kind        TEXT    NOT NULL DEFAULT '',
    status      TEXT    NOT NULL DEFAULT '',
    rank        INTEGER NOT NULL DEFAULT 0,
    event_seq   INTEGER NOT NULL,
    event_id    TEXT    NOT NULL,
    occurred_at INTEGER NOT NULL DEFAULT 0,  -- unix nanoseconds, 0 when unknown
    received_at INTEGER NOT NULL,            -- unix nanoseconds
    events      INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (source, subject)
) WITHOUT ROWID;

-- An event's lifecycle rank, and whether a later state of its subject had
-- been stored when it arrived. Events stored before this migration rank 0
-- and are not stale: their subjects' states start with the next event.
ALTER TABLE events ADD COLUMN rank INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN stale INTEGER NOT NULL DEFAULT 0;
