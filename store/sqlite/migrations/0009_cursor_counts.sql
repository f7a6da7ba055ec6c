-- How many stored events name each destination: Stats derives the
-- deliveries below a cursor's watermark, all succeeded but those with
-- rows, from it instead of reading every event. The writer keeps it, a
-- statement per destination per transaction; retention takes pruned
-- events off.
ALTER TABLE cursors ADD COLUMN named INTEGER NOT NULL DEFAULT 0;
UPDATE cursors SET named = (SELECT COUNT(*) FROM events WHERE (dest_mask >> cursors.bit) & 1 = 1);
