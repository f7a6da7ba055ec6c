-- Listing events by delivery state: the dead and the pending (pending or
-- in flight) are walked in seq order through these, from the few rows in
-- those states, so that a page stops at its limit however many deliveries
-- lie between them. Neither holds a succeeded delivery: on the ack path a
-- new delivery adds one entry, at the end of deliveries_open.
CREATE INDEX deliveries_dead ON deliveries (event_seq) WHERE status = 'dead';
CREATE INDEX deliveries_open ON deliveries (event_seq) WHERE status IN ('pending', 'in_flight');

-- Events marked for attention, in seq order, for the listing of only
-- those: a few events, and no entry at all for a well-formed one.
CREATE INDEX events_attention ON events (seq) WHERE attention <> '';
