-- Events: one row per accepted webhook, the raw body kept byte for byte.
CREATE TABLE events (
    seq               INTEGER PRIMARY KEY,
    id                TEXT    NOT NULL UNIQUE,
    source            TEXT    NOT NULL,
    dedupe_key        TEXT    NOT NULL,
    field             TEXT    NOT NULL DEFAULT '',
    type              TEXT    NOT NULL DEFAULT '',
    subject_kind      TEXT    NOT NULL DEFAULT '',
    subject           TEXT    NOT NULL DEFAULT '',
    status            TEXT    NOT NULL DEFAULT '',
    occurred_at       INTEGER NOT NULL DEFAULT 0,  -- unix nanoseconds, 0 when unknown
    received_at       INTEGER NOT NULL,            -- unix nanoseconds
    scheme            TEXT    NOT NULL DEFAULT '',
    attention         TEXT    NOT NULL DEFAULT '',
    headers           TEXT    NOT NULL DEFAULT '{}',
    body              BLOB    NOT NULL,
    duplicates        INTEGER NOT NULL DEFAULT 0,
    last_duplicate_at INTEGER NOT NULL DEFAULT 0,
    UNIQUE (source, dedupe_key)
);
CREATE INDEX events_type_seq ON events (type, seq);
CREATE INDEX events_subject_seq ON events (subject, seq);
CREATE INDEX events_received_at ON events (received_at);

-- Rejections: requests that failed verification, a bounded log.
CREATE TABLE rejections (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    source      TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    remote_addr TEXT    NOT NULL DEFAULT '',
    reason      TEXT    NOT NULL DEFAULT '',
    detail      TEXT    NOT NULL DEFAULT '',
    diagnosis   TEXT    NOT NULL DEFAULT '',
    headers     TEXT    NOT NULL DEFAULT '{}',
    body        BLOB    NOT NULL,
    size        INTEGER NOT NULL,                  -- bytes counted against the cap
    released_at INTEGER NOT NULL DEFAULT 0,
    event_id    TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
