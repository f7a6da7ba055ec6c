-- Counters the writer keeps in the transactions that change what they
-- count (counts.go), so that Stats reads a few rows, not every event.
CREATE TABLE event_counts (
    only       INTEGER PRIMARY KEY CHECK (only = 1),
    events     INTEGER NOT NULL,
    duplicates INTEGER NOT NULL,  -- the sum of events.duplicates
    attention  INTEGER NOT NULL   -- events whose attention is not ''
);
INSERT INTO event_counts (only, events, duplicates, attention)
SELECT 1, COUNT(*), COALESCE(SUM(duplicates), 0), COALESCE(SUM(attention != ''), 0) FROM events;

CREATE TABLE delivery_counts (
    destination TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (destination, status)
) WITHOUT ROWID;
INSERT INTO delivery_counts (destination, status, n)
SELECT destination, status, COUNT(*) FROM deliveries GROUP BY destination, status;
