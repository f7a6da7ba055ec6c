-- The dedupe keys of pruned events: exactly-once acceptance outlives the
-- events themselves. A request matching one is a duplicate of the pruned
-- event, whose id and seq are kept here.
CREATE TABLE pruned_keys (
    seq         bigint      PRIMARY KEY,
    id          text        NOT NULL,
    source      text        NOT NULL,
    dedupe_key  text        NOT NULL,
    body_sha256 bytea       NOT NULL,
    received_at timestamptz NOT NULL
);
CREATE INDEX pruned_keys_dedupe_key ON pruned_keys (dedupe_key, source);
CREATE INDEX pruned_keys_body ON pruned_keys (body_sha256, source);
CREATE INDEX pruned_keys_received_at ON pruned_keys (received_at);
