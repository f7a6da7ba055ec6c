-- The keys of pruned events, kept compactly (retention.go): per pruned
-- event, 16 bytes of SHA-256 over its source and dedupe key, and over its
-- source and body hash, instead of the strings themselves. Two events share
-- a digest only by a SHA-256 collision in 128 bits (at 10^9 kept keys and
-- 10^9 requests, a chance of 3·10^-21), so a lookup by digest is as good as
-- one by the strings. The append checks the digests in its own statement:
-- no trigger on the insert path, and no index by received_at (keys age out
-- in seq order, as events are pruned). The rows of pruned_keys are copied
-- over by keepPrunedKeys, which then drops it.
CREATE TABLE kept_keys (
    seq         INTEGER PRIMARY KEY, -- the pruned event's
    id          TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    key_digest  BLOB    NOT NULL,
    body_digest BLOB                 -- NULL for an event stored without a body hash
);
CREATE INDEX kept_keys_key ON kept_keys (key_digest);
CREATE INDEX kept_keys_body ON kept_keys (body_digest);
DROP TRIGGER IF EXISTS events_kept_keys;
