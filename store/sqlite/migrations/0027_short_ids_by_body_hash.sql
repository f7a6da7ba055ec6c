-- Short ids through the body's hash. An id made by store.NewEventID ends
-- with the first bytes of its body's SHA-256, which events_source_body
-- indexes already, so FindEvent finds it there (store.BodyHashRange).
-- The index of id ends keeps only the events whose id ends otherwise
-- (made by an older build, or given by a test): an id's random end was
-- an insert at a random place in it for every append, one more page
-- written to the log each time, and at millions of events one more page
-- read (docs/performance.md). The condition must stay byte for byte the
-- one listingSQL writes (idTailIndexed), or SQLite will not use the index.
DROP INDEX events_id_tail;
CREATE INDEX events_id_tail ON events (substr(id, -6))
 WHERE substr(id, -6) IS NOT lower(hex(substr(body_sha256, 3, 1)) || hex(substr(body_sha256, 2, 1)) || hex(substr(body_sha256, 1, 1)));
