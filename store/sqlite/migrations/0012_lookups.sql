-- Short ids: FindEvent takes the end of an event's id (at least
-- store.MinIDSuffix characters, the short id `hooklatch listen` prints).
-- Ids end in random characters, so no index on the id itself finds them:
-- this one holds the last six, and the few events that share them are
-- compared on the whole suffix. The expression must stay byte for byte
-- the one listEventsSQL writes (idTail), or SQLite will not use it.
CREATE INDEX events_id_tail ON events (substr(id, -6));
