-- A route's rate limit ("50/s", '' for none) and concurrency, as the
-- serving process was configured: what `destinations ls` shows.
ALTER TABLE routes ADD COLUMN rate TEXT NOT NULL DEFAULT '';
ALTER TABLE routes ADD COLUMN concurrency INTEGER NOT NULL DEFAULT 0;
