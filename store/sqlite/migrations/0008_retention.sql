-- The dedupe keys of pruned events (retention.go): exactly-once acceptance
-- outlives the events themselves. A request matching one is a duplicate of
-- the pruned event, whose id and seq are kept here. body_sha256 is NULL for
-- an event stored, before body hashes existed, as a replay of another.
CREATE TABLE pruned_keys (
    seq         INTEGER PRIMARY KEY,
    id          TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    dedupe_key  TEXT    NOT NULL,
    body_sha256 BLOB,
    received_at INTEGER NOT NULL
);
CREATE INDEX pruned_keys_dedupe_key ON pruned_keys (dedupe_key, source);
CREATE INDEX pruned_keys_body ON pruned_keys (body_sha256, source);
CREATE INDEX pruned_keys_received_at ON pruned_keys (received_at);
