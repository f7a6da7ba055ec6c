-- A route records the sources a destination takes and its content filter
-- as written, beside its types: a released rejection, a backfill and a
-- replay are routed by all three, as the receiver routes. Routes recorded
-- before keep every source and no filter until serve records them again.
ALTER TABLE routes ADD COLUMN sources TEXT NOT NULL DEFAULT '[]'; -- JSON array; empty: every source
ALTER TABLE routes ADD COLUMN filter TEXT NOT NULL DEFAULT '';    -- as written; empty: none
