-- Minutes: the admin's per-minute history (what the dashboard charts), so
-- that it survives a restart. Each instance adds its own counts to the
-- minute's row once a minute (never on the ack path): a row is the sum
-- over every instance sharing the schema. The minutes older than the
-- chart shows are deleted as new ones come. ack holds the answers per
-- latency bucket (JSON array).
CREATE TABLE minutes (
    start      timestamptz PRIMARY KEY,
    received   bigint NOT NULL DEFAULT 0,
    duplicates bigint NOT NULL DEFAULT 0,
    rejected   bigint NOT NULL DEFAULT 0,
    refused    bigint NOT NULL DEFAULT 0,
    delivered  bigint NOT NULL DEFAULT 0,
    failed     bigint NOT NULL DEFAULT 0,
    dead       bigint NOT NULL DEFAULT 0,
    ack        text   NOT NULL DEFAULT '[]'
);
