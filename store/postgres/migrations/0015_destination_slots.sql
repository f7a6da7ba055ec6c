-- A destination's rate limit and Retry-After hold, shared by every
-- instance on the schema (store.SlotBooker): next_at is the start of the
-- next free slot, booked a batch at a time with one UPDATE; hold_until is
-- when a Retry-After from the app ends (nothing starts before), and until
-- slow_until slots are twice as far apart. booked_from is where the last
-- booking began, so that its UPDATE can return it.
CREATE TABLE destination_slots (
    name        text        PRIMARY KEY,
    next_at     timestamptz NOT NULL DEFAULT 'epoch',
    booked_from timestamptz NOT NULL DEFAULT 'epoch',
    hold_until  timestamptz NOT NULL DEFAULT 'epoch',
    slow_until  timestamptz NOT NULL DEFAULT 'epoch'
);
-- A route's rate limit ("50/s", '' for none) and concurrency (one that
-- was configured holds over every instance, the default of 0 is each
-- instance's own), as the serving processes were configured: what
-- `destinations ls` shows.
ALTER TABLE routes ADD COLUMN rate text NOT NULL DEFAULT '', ADD COLUMN concurrency integer NOT NULL DEFAULT 0;
