-- Listing the events with a discarded delivery walks this in seq order,
-- as the dead and pending listings walk deliveries_dead (0003) and
-- deliveries_open (0005), so that a page stops at its limit however many
-- events lie between them: the discarded are few, and checked event by
-- event a listing read the whole store to find none. It holds no delivery
-- the ack path writes.
CREATE INDEX deliveries_discarded ON deliveries (event_seq) WHERE status = 'discarded';
