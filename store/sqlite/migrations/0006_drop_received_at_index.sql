-- No statement reads events by received_at through an index: listings go
-- in seq order, newest first, and test --since/--until on the rows they
-- walk (plan_test.go holds them to that). The index only cost a B-tree
-- insert per accepted event on the ack path, and drew the one listing
-- that bounds both ends into sorting every event of its range.
DROP INDEX IF EXISTS events_received_at;
