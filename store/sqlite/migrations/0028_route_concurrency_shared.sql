-- Whether a route's concurrency was configured, and so holds over every
-- process sharing the store, or is the default, each process's own: what
-- `destinations ls` tells apart.
ALTER TABLE routes ADD COLUMN concurrency_shared INTEGER NOT NULL DEFAULT 0;
