-- Minutes: the admin's per-minute history (what the dashboard charts), so
-- that it survives a restart. Written once a minute by the sampler, never
-- on the ack path; the minutes older than the chart shows are deleted as
-- new ones come. ack holds the answers per latency bucket (JSON array).
CREATE TABLE minutes (
    start      INTEGER PRIMARY KEY,            -- unix nanoseconds, truncated to the minute
    received   INTEGER NOT NULL DEFAULT 0,
    duplicates INTEGER NOT NULL DEFAULT 0,
    rejected   INTEGER NOT NULL DEFAULT 0,
    refused    INTEGER NOT NULL DEFAULT 0,
    delivered  INTEGER NOT NULL DEFAULT 0,
    failed     INTEGER NOT NULL DEFAULT 0,
    dead       INTEGER NOT NULL DEFAULT 0,
    ack        TEXT    NOT NULL DEFAULT '[]'
);
