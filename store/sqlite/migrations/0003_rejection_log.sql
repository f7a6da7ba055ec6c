-- A flood-proof rejection log: every rejection is counted per source and
-- reason, and the rejections table keeps a bounded sample of each reason,
-- each with the length and hash of the whole body when only its first
-- bytes are kept.
CREATE TABLE rejection_counts (
    source   TEXT    NOT NULL,
    reason   TEXT    NOT NULL,
    count    INTEGER NOT NULL,
    first_at INTEGER NOT NULL,  -- unix nanoseconds
    last_at  INTEGER NOT NULL,  -- unix nanoseconds
    PRIMARY KEY (source, reason)
);
INSERT INTO rejection_counts (source, reason, count, first_at, last_at)
SELECT source, reason, COUNT(*), MIN(received_at), MAX(received_at) FROM rejections GROUP BY source, reason;

ALTER TABLE rejections ADD COLUMN body_bytes  INTEGER NOT NULL DEFAULT 0;   -- the whole body's length
ALTER TABLE rejections ADD COLUMN body_sha256 TEXT    NOT NULL DEFAULT '';  -- hex; '' when kept before this column
ALTER TABLE rejections ADD COLUMN truncated   INTEGER NOT NULL DEFAULT 0;   -- 1 when body is only a prefix
UPDATE rejections SET body_bytes = length(body);

-- Pruning goes by reason, newest first, and reads only this index: never
-- the bodies.
CREATE INDEX rejections_by_reason ON rejections (source, reason, id DESC, size);
