-- FIFO per subject (store.OrderSubject). A delivery to a destination that
-- orders by subject carries its event's subject (order_key, empty for
-- every other delivery) and its place in the subject's lifecycle
-- (order_rank, then order_at, the event's occurred_at, 0 when absent,
-- then event_seq: event.Position). held marks a pending delivery waiting
-- behind another of its subject: it is left out of deliveries_pending, so
-- no claim sees it and a subject held back by a retry costs other claims
-- nothing. Of a subject's pending and in-flight deliveries exactly one is
-- not held, its head: the one in flight, else the pending one lowest by
-- position. deliveries_subject_next keeps that so whenever a delivery's
-- status or order_key changes, whoever changes it.
ALTER TABLE deliveries ADD COLUMN order_key TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN order_rank INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN order_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN held INTEGER NOT NULL DEFAULT 0;

DROP INDEX deliveries_pending;
CREATE INDEX deliveries_pending ON deliveries (next_attempt_at) WHERE status = 'pending' AND held = 0;

-- A subject's open deliveries in lifecycle order, and its head.
CREATE INDEX deliveries_subject_queue ON deliveries (destination, order_key, order_rank, order_at, event_seq)
    WHERE order_key <> '' AND (status = 'pending' OR status = 'in_flight');
CREATE INDEX deliveries_subject_head ON deliveries (destination, order_key)
    WHERE order_key <> '' AND held = 0 AND (status = 'pending' OR status = 'in_flight');
-- The heads waiting for a retry after a failed attempt: held subjects
-- (store.Stats.HeldSubjects).
CREATE INDEX deliveries_subject_retrying ON deliveries (destination)
    WHERE order_key <> '' AND held = 0 AND status = 'pending' AND attempts > 0;

-- Picks the subject's head again once one of its deliveries left flight
-- (succeeded, dead, back to pending for a retry or after its lease
-- expired), was discarded or requeued, or was ordered (an append sets
-- order_key in its transaction). A claim (to in_flight) changes nothing.
CREATE TRIGGER deliveries_subject_next AFTER UPDATE OF status, order_key ON deliveries
WHEN new.order_key <> '' AND new.status <> 'in_flight'
BEGIN
    -- No pending delivery stays a head but the first, and that one only
    -- while none of the subject's is in flight.
    UPDATE deliveries SET held = 1
     WHERE destination = new.destination AND order_key = new.order_key AND order_key <> ''
       AND held = 0 AND (status = 'pending' OR status = 'in_flight') AND status = 'pending'
       AND (id IS NOT (SELECT id FROM deliveries INDEXED BY deliveries_subject_queue
                        WHERE destination = new.destination AND order_key = new.order_key AND order_key <> ''
                          AND (status = 'pending' OR status = 'in_flight') AND status = 'pending'
                        ORDER BY order_rank, order_at, event_seq LIMIT 1)
            OR EXISTS (SELECT 1 FROM deliveries INDEXED BY deliveries_subject_head
                        WHERE destination = new.destination AND order_key = new.order_key AND order_key <> ''
                          AND held = 0 AND (status = 'pending' OR status = 'in_flight') AND status = 'in_flight'));
    -- The first is the head unless one of the subject's is in flight.
    UPDATE deliveries SET held = 0
     WHERE id = (SELECT id FROM deliveries INDEXED BY deliveries_subject_queue
                  WHERE destination = new.destination AND order_key = new.order_key AND order_key <> ''
                    AND (status = 'pending' OR status = 'in_flight') AND status = 'pending'
                  ORDER BY order_rank, order_at, event_seq LIMIT 1)
       AND held = 1
       AND NOT EXISTS (SELECT 1 FROM deliveries INDEXED BY deliveries_subject_head
                        WHERE destination = new.destination AND order_key = new.order_key AND order_key <> ''
                          AND held = 0 AND (status = 'pending' OR status = 'in_flight') AND status = 'in_flight');
END;

ALTER TABLE routes ADD COLUMN ordering TEXT NOT NULL DEFAULT '';
