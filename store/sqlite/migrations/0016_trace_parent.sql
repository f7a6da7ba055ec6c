-- An event's creation context for tracing: the W3C traceparent of the span
-- that stored it, written only while tracing is on (NULL otherwise, and in
-- rows written before this column existed). Each delivery attempt's span
-- links to it. Adding a nullable column with no default rewrites nothing.
ALTER TABLE events ADD COLUMN trace_parent TEXT;
