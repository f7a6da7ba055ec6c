-- Counters: what Stats reports, kept by the writers in the transactions
-- that change it, so that reading it costs the same at any size. Each
-- transaction adds its changes to one of 64 rows, the first no other
-- transaction holds from the one its transaction id picks, so that
-- appenders on several instances neither queue for one hot row nor wait
-- for each other in a cycle; Stats sums the 64. Statement triggers keep them: every
-- path (append, duplicate, claim, completion, lease expiry, requeue,
-- discard, added deliveries, retention and its cascades, and an
-- operator's own SQL) counts alike.
CREATE TABLE counters (
    slot       integer PRIMARY KEY,
    events     bigint  NOT NULL DEFAULT 0,
    duplicates bigint  NOT NULL DEFAULT 0,
    attention  bigint  NOT NULL DEFAULT 0,   -- events whose attention is not empty
    pending    bigint  NOT NULL DEFAULT 0,   -- deliveries, by status
    in_flight  bigint  NOT NULL DEFAULT 0,
    succeeded  bigint  NOT NULL DEFAULT 0,
    dead       bigint  NOT NULL DEFAULT 0,
    discarded  bigint  NOT NULL DEFAULT 0
);

-- add_counts adds one statement's changes to the first row, from the one
-- the transaction id picks, that no other transaction holds (SKIP LOCKED
-- passes over rows others hold, never over the caller's own). Its later
-- calls usually find the row it already holds; they take a second one
-- only when a row before it in that order was freed meanwhile. It waits
-- only when it holds none and all 64 are held, and a transaction that
-- holds one never waits, so no two wait for each other. A statement that changed nothing counted
-- (a claim that found nothing due) returns before touching any row.
-- PL/pgSQL, so that its statement is planned once per session.
CREATE FUNCTION add_counts(n_events bigint, n_duplicates bigint, n_attention bigint, n_pending bigint, n_in_flight bigint,
                           n_succeeded bigint, n_dead bigint, n_discarded bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF n_events = 0 AND n_duplicates = 0 AND n_attention = 0 AND n_pending = 0 AND n_in_flight = 0
       AND n_succeeded = 0 AND n_dead = 0 AND n_discarded = 0 THEN
        RETURN;
    END IF;
    UPDATE counters c SET
        events = c.events + n_events, duplicates = c.duplicates + n_duplicates, attention = c.attention + n_attention,
        pending = c.pending + n_pending, in_flight = c.in_flight + n_in_flight, succeeded = c.succeeded + n_succeeded,
        dead = c.dead + n_dead, discarded = c.discarded + n_discarded
     WHERE c.slot = COALESCE((SELECT slot FROM counters ORDER BY (slot + 64 - txid_current() % 64) % 64
                                LIMIT 1 FOR UPDATE SKIP LOCKED), txid_current() % 64);
END $$;

CREATE FUNCTION count_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE n bigint := 0; dups bigint := 0; att bigint := 0;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT n + COUNT(*), dups + COALESCE(SUM(duplicates), 0), att + COUNT(*) FILTER (WHERE attention <> '')
          INTO n, dups, att FROM new_rows;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        SELECT n - COUNT(*), dups - COALESCE(SUM(duplicates), 0), att - COUNT(*) FILTER (WHERE attention <> '')
          INTO n, dups, att FROM old_rows;
    END IF;
    PERFORM add_counts(n, dups, att, 0, 0, 0, 0, 0);
    RETURN NULL;
END $$;

CREATE FUNCTION count_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE p bigint := 0; f bigint := 0; s bigint := 0; d bigint := 0; x bigint := 0;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT p + COUNT(*) FILTER (WHERE status = 'pending'), f + COUNT(*) FILTER (WHERE status = 'in_flight'),
               s + COUNT(*) FILTER (WHERE status = 'succeeded'), d + COUNT(*) FILTER (WHERE status = 'dead'),
               x + COUNT(*) FILTER (WHERE status = 'discarded')
          INTO p, f, s, d, x FROM new_rows;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        SELECT p - COUNT(*) FILTER (WHERE status = 'pending'), f - COUNT(*) FILTER (WHERE status = 'in_flight'),
               s - COUNT(*) FILTER (WHERE status = 'succeeded'), d - COUNT(*) FILTER (WHERE status = 'dead'),
               x - COUNT(*) FILTER (WHERE status = 'discarded')
          INTO p, f, s, d, x FROM old_rows;
    END IF;
    PERFORM add_counts(0, 0, 0, p, f, s, d, x);
    RETURN NULL;
END $$;

-- Filled once from the rows, with writers held off so that none is
-- counted twice or missed.
LOCK TABLE events, deliveries IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO counters (slot) SELECT generate_series(0, 63);
UPDATE counters SET
    events     = (SELECT COUNT(*) FROM events),
    duplicates = (SELECT COALESCE(SUM(duplicates), 0) FROM events),
    attention  = (SELECT COUNT(*) FROM events WHERE attention <> ''),
    pending    = (SELECT COUNT(*) FROM deliveries WHERE status = 'pending'),
    in_flight  = (SELECT COUNT(*) FROM deliveries WHERE status = 'in_flight'),
    succeeded  = (SELECT COUNT(*) FROM deliveries WHERE status = 'succeeded'),
    dead       = (SELECT COUNT(*) FROM deliveries WHERE status = 'dead'),
    discarded  = (SELECT COUNT(*) FROM deliveries WHERE status = 'discarded')
 WHERE slot = 0;

CREATE TRIGGER events_inserted AFTER INSERT ON events REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION count_events();
CREATE TRIGGER events_updated AFTER UPDATE ON events REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION count_events();
CREATE TRIGGER events_deleted AFTER DELETE ON events REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION count_events();
CREATE TRIGGER deliveries_inserted AFTER INSERT ON deliveries REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION count_deliveries();
CREATE TRIGGER deliveries_updated AFTER UPDATE ON deliveries REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION count_deliveries();
CREATE TRIGGER deliveries_deleted AFTER DELETE ON deliveries REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION count_deliveries();

-- The dead-letter list, newest event first, and retention's check: a
-- small index (a delivery enters it only when it dies), in event order.
CREATE INDEX deliveries_dead ON deliveries (event_seq) WHERE status = 'dead';
