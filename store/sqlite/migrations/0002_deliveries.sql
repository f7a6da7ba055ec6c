-- Deliveries: one row per event × destination, created in the transaction
-- that stores the event.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    event_seq       INTEGER NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
    event_id        TEXT    NOT NULL,
    destination     TEXT    NOT NULL,
    status          TEXT    NOT NULL,            -- pending, in_flight, succeeded, dead, discarded
    attempts        INTEGER NOT NULL DEFAULT 0,  -- attempts spent (snoozes do not count)
    next_attempt_at INTEGER NOT NULL,            -- unix nanoseconds
    lease_owner     TEXT    NOT NULL DEFAULT '',
    lease_until     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (event_seq, destination)
);
-- Claims look only at work that can become due.
CREATE INDEX deliveries_pending ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_in_flight ON deliveries (lease_until) WHERE status = 'in_flight';
CREATE INDEX deliveries_status ON deliveries (status, id);

-- Attempts: every try, for the timeline.
CREATE TABLE attempts (
    id           INTEGER PRIMARY KEY,
    delivery_id  INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt      INTEGER NOT NULL,
    started_at   INTEGER NOT NULL,
    duration_ns  INTEGER NOT NULL,
    outcome      TEXT    NOT NULL,               -- succeeded, temporary, permanent, snoozed, lease_expired
    status_code  INTEGER NOT NULL DEFAULT 0,
    error        TEXT    NOT NULL DEFAULT '',
    response     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, id);
