-- A source's events in seq order, for the listings filtered by source
-- (events ls --source, GET /v1/events?source=, the events page): a page
-- stops at its limit however many events of other sources lie between.
CREATE INDEX events_source_seq ON events (source, seq);
