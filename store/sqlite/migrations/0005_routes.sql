-- Routes: the destinations the process that serves this store delivers to,
-- and the event types each takes, as it last recorded them at start. A
-- command that adds events (rejections release) routes them by these, as
-- the receiver would have.
CREATE TABLE routes (
    position INTEGER PRIMARY KEY,           -- order of the configuration
    name     TEXT    NOT NULL UNIQUE,
    types    TEXT    NOT NULL DEFAULT '[]'  -- JSON array; empty: every type
);
