-- deliveries_listed holds the same deliveries as before, under a condition
-- written as comparisons instead of an IN list. SQLite evaluates a partial
-- index's condition for each row a statement inserts or whose status it
-- changes, and it codes an IN list of three values as a temporary b-tree
-- that it builds once per statement run: every single-row insert and
-- completion of a delivery opened one (about half of the insert's CPU,
-- TestDeliveryWritesBuildNoTemporaryTable). Statements name the new
-- condition word for word (listedStatuses).
DROP INDEX deliveries_listed;
CREATE INDEX deliveries_listed ON deliveries (status, id)
    WHERE status = 'pending' OR status = 'dead' OR status = 'discarded';
