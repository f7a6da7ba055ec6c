-- FIFO per subject (store.OrderSubject). A delivery to a destination that
-- orders by subject carries its event's subject (order_key, empty for
-- every other delivery) and its place in the subject's lifecycle
-- (order_rank, then order_at, the event's occurred_at, -infinity when
-- absent, then event_seq: event.Position). held marks a pending delivery
-- waiting behind another of its subject: it is left out of
-- deliveries_pending, so no claim sees it and a subject held back by a
-- retry costs other claims nothing. Of a subject's pending and in-flight
-- deliveries exactly one is not held, its head: the one in flight, else
-- the pending one lowest by position. order_subjects keeps that so after
-- every statement that changes deliveries, whoever runs it.
ALTER TABLE deliveries
    ADD COLUMN order_key  text        NOT NULL DEFAULT '',
    ADD COLUMN order_rank integer     NOT NULL DEFAULT 0,
    ADD COLUMN order_at   timestamptz NOT NULL DEFAULT '-infinity',
    ADD COLUMN held       boolean     NOT NULL DEFAULT false;

DROP INDEX deliveries_pending;
CREATE INDEX deliveries_pending ON deliveries (next_attempt_at, id) WHERE status = 'pending' AND NOT held;

-- A subject's open deliveries in lifecycle order, and its head.
CREATE INDEX deliveries_subject_queue ON deliveries (destination, order_key, order_rank, order_at, event_seq)
    WHERE order_key <> '' AND status IN ('pending', 'in_flight');
CREATE INDEX deliveries_subject_head ON deliveries (destination, order_key)
    WHERE order_key <> '' AND NOT held AND status IN ('pending', 'in_flight');
-- The heads waiting for a retry after a failed attempt: held subjects
-- (store.Stats.HeldSubjects).
CREATE INDEX deliveries_subject_retrying ON deliveries (destination)
    WHERE order_key <> '' AND NOT held AND status = 'pending' AND attempts > 0;

ALTER TABLE routes ADD COLUMN ordering text NOT NULL DEFAULT '';

-- order_subjects picks the head again of each subject whose deliveries a
-- statement left pending, succeeded, dead or discarded, or ordered (an
-- append sets order_key in its transaction); a claim (to in_flight)
-- changes nothing. Each subject is locked first (a transaction advisory
-- lock, in key order, so that two statements never wait for each other in
-- a cycle): appends, completions, lease expiries, requeues and discards of
-- one subject pick its head one after the other. Claims take no lock:
-- they only take a head, under its row lock (SKIP LOCKED); a head taken
-- while it is being replaced is seen as in flight by the replacement
-- (the UPDATE rechecks its condition on the claimed row), which then
-- leaves the subject to it. Its own updates of held fire it again, one
-- level down: it returns at once there.
CREATE FUNCTION order_subjects() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d text; k text; best bigint;
BEGIN
    IF pg_trigger_depth() > 1 THEN
        RETURN NULL;
    END IF;
    FOR d, k IN SELECT DISTINCT destination, order_key FROM new_rows
                 WHERE order_key <> '' AND status <> 'in_flight' ORDER BY 1, 2 LOOP
        PERFORM pg_advisory_xact_lock(hashtextextended('hooklatch subject ' || current_schema() || ' ' || d || ' ' || k, 0));
        SELECT id INTO best FROM deliveries
         WHERE destination = d AND order_key = k AND order_key <> '' AND status IN ('pending', 'in_flight') AND status = 'pending'
         ORDER BY order_rank, order_at, event_seq LIMIT 1;
        -- No pending delivery stays a head but the first, and that one
        -- only while none of the subject's is in flight.
        UPDATE deliveries SET held = true
         WHERE destination = d AND order_key = k AND order_key <> '' AND NOT held AND status IN ('pending', 'in_flight')
           AND status = 'pending'
           AND (id <> best OR EXISTS (SELECT 1 FROM deliveries
                                       WHERE destination = d AND order_key = k AND order_key <> '' AND NOT held
                                         AND status IN ('pending', 'in_flight') AND status = 'in_flight'));
        IF best IS NOT NULL AND NOT EXISTS (SELECT 1 FROM deliveries
                                             WHERE destination = d AND order_key = k AND order_key <> '' AND NOT held
                                               AND status IN ('pending', 'in_flight') AND status = 'in_flight') THEN
            UPDATE deliveries SET held = false WHERE id = best AND held;
        END IF;
    END LOOP;
    RETURN NULL;
END $$;
CREATE TRIGGER deliveries_ordered AFTER UPDATE ON deliveries REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION order_subjects();
