-- The events stored before subjects had states (before migration 0009)
-- get theirs in the background, oldest first (BackfillSubjects): from the
-- first event to the last stored now, when no state exists yet. A schema
-- that kept states already (a development build from 0009 on) is not
-- backfilled: its earlier events could not be told from counted ones.
INSERT INTO meta (key, value)
SELECT 'subjects_backfill', json_build_object('next', 0, 'end', MAX(seq))::text FROM events
 WHERE NOT EXISTS (SELECT 1 FROM subjects) HAVING MAX(seq) IS NOT NULL;
