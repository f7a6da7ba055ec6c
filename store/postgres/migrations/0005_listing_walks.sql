-- Listing pending events (a delivery pending or in flight) walks this in
-- seq order, as the dead listing walks deliveries_dead (0003), so that a
-- page stops at its limit however many events lie between them. It holds
-- no succeeded delivery: on the ack path a new delivery adds one entry, at
-- its end.
CREATE INDEX deliveries_open ON deliveries (event_seq) WHERE status IN ('pending', 'in_flight');

-- Events marked for attention, in seq order, for the listing of only
-- those: a few events, and no entry at all for a well-formed one.
CREATE INDEX events_attention ON events (seq) WHERE attention <> '';
