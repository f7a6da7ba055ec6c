-- The signed bytes are a dedupe key of their own: no signature covers the
-- event-id header, so a captured request replayed under a new header value
-- must still meet the event it already is. Sent never sends two different
-- events with byte-identical bodies, and a retry re-signs the same body.
-- NULL in rows written before this column existed until Open fills them in
-- (see backfillBodyHashes); NULLs never conflict.
ALTER TABLE events ADD COLUMN body_sha256 BLOB;
CREATE UNIQUE INDEX events_source_body ON events (source, body_sha256);
