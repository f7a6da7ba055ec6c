-- Events: one row per accepted webhook, the raw body kept byte for byte.
-- Both dedupe rules are unique indexes, so that concurrent appends from
-- several instances meet in the database, not in a process.
CREATE TABLE events (
    seq               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                text        NOT NULL UNIQUE,
    source            text        NOT NULL,
    dedupe_key        text        NOT NULL,
    field             text        NOT NULL DEFAULT '',
    type              text        NOT NULL DEFAULT '',
    subject_kind      text        NOT NULL DEFAULT '',
    subject           text        NOT NULL DEFAULT '',
    status            text        NOT NULL DEFAULT '',
    occurred_at       timestamptz,                      -- NULL when the envelope has none
    received_at       timestamptz NOT NULL,
    scheme            text        NOT NULL DEFAULT '',
    attention         text        NOT NULL DEFAULT '',
    headers           text        NOT NULL DEFAULT '{}', -- JSON object, as the receiver kept them
    body              bytea       NOT NULL,
    body_sha256       bytea       NOT NULL,
    duplicates        bigint      NOT NULL DEFAULT 0,
    last_duplicate_at timestamptz
);
-- Key first: FindEvent looks events up by dedupe key in any source.
CREATE UNIQUE INDEX events_dedupe_key ON events (dedupe_key, source);
CREATE UNIQUE INDEX events_body ON events (body_sha256, source);
CREATE INDEX events_type_seq ON events (type, seq);
CREATE INDEX events_subject_seq ON events (subject, seq);

-- Deliveries: one row per event × destination, created in the statement
-- that stores the event.
CREATE TABLE deliveries (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_seq       bigint      NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
    event_id        text        NOT NULL,
    destination     text        NOT NULL,
    status          text        NOT NULL,            -- pending, in_flight, succeeded, dead, discarded
    attempts        integer     NOT NULL DEFAULT 0,  -- spent since the last retry or replay (snoozes do not count)
    recorded        integer     NOT NULL DEFAULT 0,  -- attempts recorded over the delivery's life: numbers them
    next_attempt_at timestamptz NOT NULL,
    lease_owner     text        NOT NULL DEFAULT '',
    lease_until     timestamptz,
    last_error      text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    UNIQUE (event_seq, destination)
);
-- Claims look only at work that can become due.
CREATE INDEX deliveries_pending ON deliveries (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX deliveries_in_flight ON deliveries (lease_until) WHERE status = 'in_flight';
CREATE INDEX deliveries_status ON deliveries (status, id);

-- Attempts: every try, for the timeline.
CREATE TABLE attempts (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id bigint      NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt     integer     NOT NULL,
    started_at  timestamptz NOT NULL,
    duration_ns bigint      NOT NULL,
    outcome     text        NOT NULL,
    status_code integer     NOT NULL DEFAULT 0,
    error       text        NOT NULL DEFAULT '',
    response    text        NOT NULL DEFAULT ''
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, id);

-- Rejections: requests that failed verification, a bounded sample per
-- reason, and the count of every one of them.
CREATE TABLE rejections (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      text        NOT NULL,
    received_at timestamptz NOT NULL,
    remote_addr text        NOT NULL DEFAULT '',
    reason      text        NOT NULL DEFAULT '',
    detail      text        NOT NULL DEFAULT '',
    diagnosis   text        NOT NULL DEFAULT '',
    headers     text        NOT NULL DEFAULT '{}',
    body        bytea       NOT NULL,
    size        bigint      NOT NULL,               -- bytes counted against the cap
    body_bytes  bigint      NOT NULL DEFAULT 0,     -- the whole body's length
    body_sha256 text        NOT NULL DEFAULT '',
    truncated   boolean     NOT NULL DEFAULT false, -- body is only a prefix
    released_at timestamptz,
    event_id    text        NOT NULL DEFAULT ''
);
CREATE INDEX rejections_by_reason ON rejections (source, reason, id DESC) INCLUDE (size);

CREATE TABLE rejection_counts (
    source   text        NOT NULL,
    reason   text        NOT NULL,
    count    bigint      NOT NULL,
    first_at timestamptz NOT NULL,
    last_at  timestamptz NOT NULL,
    PRIMARY KEY (source, reason)
);

-- Routes: the destinations the serving processes deliver to, as last
-- recorded at start.
CREATE TABLE routes (
    position integer PRIMARY KEY,
    name     text    NOT NULL UNIQUE,
    types    text    NOT NULL DEFAULT '[]'  -- JSON array; empty: every type
);

CREATE TABLE meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);
