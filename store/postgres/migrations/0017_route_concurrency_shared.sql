-- Whether a route's concurrency was configured, and so holds over every
-- instance on the schema, or is the default, each instance's own: what
-- `destinations ls` tells apart.
ALTER TABLE routes ADD COLUMN concurrency_shared boolean NOT NULL DEFAULT false;
