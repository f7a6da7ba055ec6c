-- Dispatch by cursor. Each destination the store has ever routed to gets
-- a bit; an event names its destinations in dest_mask instead of in one
-- delivery row each, and each destination follows the events table in seq
-- order (cursor.go). A delivery row exists only for what needs state of
-- its own: a failure waiting for its retry, a dead, discarded or replayed
-- delivery, one added to an event later. A first attempt that succeeds
-- leaves its attempt row and nothing else.
CREATE TABLE cursors (
    bit         INTEGER PRIMARY KEY CHECK (bit BETWEEN 0 AND 62),
    destination TEXT    NOT NULL UNIQUE,
    -- Every event up to here that names this destination has had its
    -- first attempt recorded (a success, or a delivery row).
    watermark   INTEGER NOT NULL,
    -- Events up to here have been claimed; those above the watermark
    -- without a row or a successful attempt are in flight.
    claimed_to  INTEGER NOT NULL,
    lease_owner TEXT    NOT NULL DEFAULT '',
    lease_until INTEGER NOT NULL DEFAULT 0
);
ALTER TABLE events ADD COLUMN dest_mask INTEGER NOT NULL DEFAULT 0;

-- Existing deliveries keep their rows; their destinations get bits in the
-- order they first appeared, with cursors past every stored event.
INSERT INTO cursors (bit, destination, watermark, claimed_to)
SELECT ROW_NUMBER() OVER (ORDER BY MIN(id)) - 1, destination,
       (SELECT COALESCE(MAX(seq), 0) FROM events), (SELECT COALESCE(MAX(seq), 0) FROM events)
  FROM deliveries GROUP BY destination;

-- A delivery's id is now its event's seq and its destination's bit,
-- (seq << 6) | bit, whether or not it has a row: ids name deliveries that
-- exist only as a bit and a cursor position, and a row created later for
-- one of them (a retry) takes the same id. Attempts therefore refer to a
-- delivery id that need not have a row.
CREATE TABLE attempts_new (
    id           INTEGER PRIMARY KEY,
    delivery_id  INTEGER NOT NULL,
    attempt      INTEGER NOT NULL,
    started_at   INTEGER NOT NULL,
    duration_ns  INTEGER NOT NULL,
    outcome      TEXT    NOT NULL,
    status_code  INTEGER NOT NULL DEFAULT 0,
    error        TEXT    NOT NULL DEFAULT '',
    response     TEXT    NOT NULL DEFAULT ''
);
INSERT INTO attempts_new (id, delivery_id, attempt, started_at, duration_ns, outcome, status_code, error, response)
SELECT a.id, (d.event_seq << 6) | c.bit, a.attempt, a.started_at, a.duration_ns, a.outcome, a.status_code, a.error, a.response
  FROM attempts a JOIN deliveries d ON d.id = a.delivery_id JOIN cursors c ON c.destination = d.destination;
DROP TABLE attempts;
ALTER TABLE attempts_new RENAME TO attempts;
CREATE INDEX attempts_delivery ON attempts (delivery_id, id);

CREATE TABLE deliveries_new (
    id              INTEGER PRIMARY KEY,
    event_seq       INTEGER NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
    event_id        TEXT    NOT NULL,
    destination     TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_owner     TEXT    NOT NULL DEFAULT '',
    lease_until     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (event_seq, destination)
);
INSERT INTO deliveries_new (id, event_seq, event_id, destination, status, attempts, next_attempt_at,
                            lease_owner, lease_until, last_error, created_at, updated_at)
SELECT (d.event_seq << 6) | c.bit, d.event_seq, d.event_id, d.destination, d.status, d.attempts, d.next_attempt_at,
       d.lease_owner, d.lease_until, d.last_error, d.created_at, d.updated_at
  FROM deliveries d JOIN cursors c ON c.destination = d.destination;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
CREATE INDEX deliveries_pending ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_in_flight ON deliveries (lease_until) WHERE status = 'in_flight';
CREATE INDEX deliveries_status ON deliveries (status, id);
