-- Subjects keyed by the seq of their first stored event instead of by
-- (source, subject). Keyed by name, every new subject was an insert at a
-- random place in the table: one more page dirtied and written to the log
-- per event, which cost the store-only ack about a fifth of its rate. A
-- subject's first event is the one that creates its row, so rows are now
-- added at the table's end; a subject is found through the events'
-- (subject, seq) index, which the append writes anyway: its first entry of
-- the subject's source is the key. Retention moves a row's key to the next
-- event when it prunes the first (retention.go).
CREATE TABLE subjects_by_first (
    first_seq   INTEGER PRIMARY KEY,       -- the subject's first stored event
    source      TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    kind        TEXT    NOT NULL DEFAULT '',
    status      TEXT    NOT NULL DEFAULT '',
    rank        INTEGER NOT NULL DEFAULT 0,
    event_seq   INTEGER NOT NULL,
    event_id    TEXT    NOT NULL,
    occurred_at INTEGER NOT NULL DEFAULT 0,  -- unix nanoseconds, 0 when unknown
    received_at INTEGER NOT NULL,            -- unix nanoseconds
    events      INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL
);
INSERT INTO subjects_by_first (first_seq, source, subject, kind, status, rank, event_seq, event_id, occurred_at, received_at, events, updated_at)
SELECT f.first_seq, s.source, s.subject, s.kind, s.status, s.rank, s.event_seq, s.event_id, s.occurred_at, s.received_at, s.events, s.updated_at
  FROM subjects s
  JOIN (SELECT s2.source, s2.subject,
               (SELECT e.seq FROM events e INDEXED BY events_subject_seq WHERE e.subject = s2.subject AND e.source = s2.source ORDER BY e.seq LIMIT 1) AS first_seq
          FROM subjects s2) f ON f.source = s.source AND f.subject = s.subject
 WHERE f.first_seq IS NOT NULL;
-- The events stored before subjects had states (before migration 0020)
-- get theirs in the background, oldest first (BackfillSubjects): from the
-- first event to the last stored now, when no state exists yet. A store
-- that kept states already (a development build between 0020 and 0023)
-- is not backfilled: its earlier events could not be told from counted
-- ones.
INSERT INTO meta (key, value)
SELECT 'subjects_backfill', json_object('next', 0, 'end', MAX(seq)) FROM events
 WHERE NOT EXISTS (SELECT 1 FROM subjects_by_first) HAVING MAX(seq) IS NOT NULL;
DROP TABLE subjects;
ALTER TABLE subjects_by_first RENAME TO subjects;
