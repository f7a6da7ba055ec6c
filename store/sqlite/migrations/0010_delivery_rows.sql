-- One delivery model: every delivery is a row, written in the transaction
-- that stores its event (as on PostgreSQL), and claimed through the
-- partial index of pending rows. The cursors of 0007 are turned into rows:
-- a delivery an event named by a bit, with no row yet, is
--   at or below its destination's watermark: succeeded (its first attempt
--     was recorded, and any other outcome made a row);
--   between the watermark and claimed_to: succeeded when an attempt is
--     recorded, else in flight when the cursor stopped, so pending and due
--     at once (its received_at is past);
--   above claimed_to: pending, due since it was received.
-- The rows keep the ids the cursor gave them, (seq << 6) | bit, so the
-- attempts recorded for them still point at them. AUTOINCREMENT gives every
-- later row an id above all of those, and never one used before.
CREATE TABLE deliveries_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
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
    updated_at      INTEGER NOT NULL
);

-- In id order, so that the table and its index by event grow at their ends.
INSERT INTO deliveries_new (id, event_seq, event_id, destination, status, attempts, next_attempt_at,
                            lease_owner, lease_until, last_error, created_at, updated_at)
SELECT id, event_seq, event_id, destination, status, attempts, next_attempt_at,
       lease_owner, lease_until, last_error, created_at, updated_at
  FROM (
    SELECT d.id, d.event_seq, d.event_id, d.destination, d.status, d.attempts, d.next_attempt_at,
           d.lease_owner, d.lease_until, d.last_error, d.created_at, d.updated_at
      FROM deliveries d
    UNION ALL
    SELECT v.id, v.seq, v.event_id, v.destination, v.status,
           CASE v.status WHEN 'succeeded' THEN 1 ELSE 0 END,
           v.received_at, '', 0, '', v.received_at, v.received_at
      FROM (SELECT (e.seq << 6) | c.bit AS id, e.seq, e.id AS event_id, c.destination, e.received_at,
                   CASE WHEN e.seq <= c.watermark THEN 'succeeded'
                        WHEN e.seq <= c.claimed_to
                         AND EXISTS (SELECT 1 FROM attempts a WHERE a.delivery_id = (e.seq << 6) | c.bit) THEN 'succeeded'
                        ELSE 'pending' END AS status
              FROM events e CROSS JOIN cursors c
             WHERE (e.dest_mask >> c.bit) & 1 = 1
               AND NOT EXISTS (SELECT 1 FROM deliveries r WHERE r.id = (e.seq << 6) | c.bit)) v
  )
 ORDER BY id;

DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
CREATE UNIQUE INDEX deliveries_event ON deliveries (event_seq, destination);
-- Claims look only at work that can become due.
CREATE INDEX deliveries_pending ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_in_flight ON deliveries (lease_until) WHERE status = 'in_flight';
CREATE INDEX deliveries_status ON deliveries (status, id);

DROP TABLE cursors;
-- dest_mask, the cursor's bits, stays in events: SQLite drops a column only by rewriting every
-- event (21 s more at 1.2 M events, on top of this migration's 24 s), and no statement reads it.
