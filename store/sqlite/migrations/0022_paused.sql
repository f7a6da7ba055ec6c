-- Destinations paused by an operator (hooklatch destinations pause): their
-- deliveries stay pending and no claim takes them until resumed. A row per
-- destination ever paused or resumed; the dispatcher re-reads this small
-- table on every idle tick.
CREATE TABLE destination_controls (
    name       TEXT    PRIMARY KEY,
    paused     INTEGER NOT NULL DEFAULT 0,
    changed_at INTEGER NOT NULL            -- unix nanoseconds
);
-- A destination's waiting deliveries, oldest due first: claims while some
-- destination is paused take each other destination's through it, and
-- `destinations ls` reads a destination's oldest waiting one.
CREATE INDEX deliveries_pending_destination ON deliveries (destination, next_attempt_at) WHERE status = 'pending' AND held = 0;
