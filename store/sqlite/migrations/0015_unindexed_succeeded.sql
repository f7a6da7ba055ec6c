-- A succeeded delivery is an entry of no index but (event_seq, destination).
-- deliveries_status held every delivery by status, so each one wrote five
-- index entries on its way from pending to succeeded (an insert, then a
-- delete and an insert at its claim and again at its outcome): the
-- writer's largest cost per event after the commit (README, Measured).
-- This one holds, in id order, the states that are listed by status and
-- that need not be few: pending (an entry made at append, gone at the
-- claim), dead and discarded. In-flight deliveries are few and have their
-- partial index. Statements name its condition word for word
-- (listedStatuses), which is how SQLite knows that they may use it.
DROP INDEX deliveries_status;
CREATE INDEX deliveries_listed ON deliveries (status, id) WHERE status IN ('pending', 'dead', 'discarded');
