-- Destinations paused by an operator (hooklatch destinations pause): their
-- deliveries stay pending and no claim takes them until resumed. Shared by
-- every instance on the schema; a change is announced on the wake-up
-- channel and re-read on every idle tick.
CREATE TABLE destination_controls (
    name       text        PRIMARY KEY,
    paused     boolean     NOT NULL DEFAULT false,
    changed_at timestamptz NOT NULL
);
-- A destination's waiting deliveries, oldest due first: claims while some
-- destination is paused take each other destination's through it, and
-- `destinations ls` reads a destination's oldest waiting one.
CREATE INDEX deliveries_pending_destination ON deliveries (destination, next_attempt_at, id) WHERE status = 'pending' AND NOT held;
