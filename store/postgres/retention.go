package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/hooklatch/hooklatch/store"
)

// pruneEventsSQL examines up to $5 events in seq order after seq $4,
// through the primary key, up to the first received at or after $1 (the
// edge: events are received in about seq order, and one received a moment
// out of order is met at a later pass), and deletes the first $3 of them
// that are done with: no delivery pending or in flight, and no dead one
// unless the event was received before $2 (NULL: dead ones are kept).
// Their deliveries and attempts go with them; their dedupe keys are kept
// in pruned_keys, and their subjects' counts lose them (a subject left
// with none is deleted). Rows another pruner holds are skipped. It returns how
// many it deleted, the seq to go on after, and whether it met the edge.
const pruneEventsSQL = `
WITH examined AS (
    SELECT seq, received_at FROM events WHERE seq > $4 ORDER BY seq LIMIT $5
), edge AS (
    SELECT MIN(seq) AS seq FROM examined WHERE received_at >= $1
), candidates AS (
    SELECT x.seq FROM examined x, edge WHERE edge.seq IS NULL OR x.seq < edge.seq
), victims AS (
    SELECT e.seq, e.id, e.source, e.dedupe_key, e.body_sha256, e.received_at, e.subject
      FROM events e JOIN candidates c ON c.seq = e.seq
     WHERE NOT EXISTS (SELECT 1 FROM deliveries d
                        WHERE d.event_seq = e.seq
                          AND (d.status IN ('pending', 'in_flight')
                               OR d.status = 'dead' AND ($2::timestamptz IS NULL OR e.received_at >= $2)))
     ORDER BY e.seq LIMIT $3
       FOR UPDATE OF e SKIP LOCKED
), kept AS (
    INSERT INTO pruned_keys (seq, id, source, dedupe_key, body_sha256, received_at)
    SELECT seq, id, source, dedupe_key, body_sha256, received_at FROM victims
    ON CONFLICT DO NOTHING
), gone AS (
    DELETE FROM events e USING victims v WHERE e.seq = v.seq RETURNING e.seq
), pruned_subjects AS (
    SELECT source, subject, COUNT(*) AS n FROM victims WHERE subject <> '' GROUP BY source, subject
), counted AS (
    -- The subjects' rows, locked in key order as the appends lock them,
    -- as they are now: an append may have counted more events since.
    SELECT s.source, s.subject, s.events, p.n
      FROM pruned_subjects p JOIN subjects s ON s.source = p.source AND s.subject = p.subject
     ORDER BY s.source, s.subject
       FOR UPDATE OF s
), emptied AS (
    DELETE FROM subjects s USING counted c
     WHERE s.source = c.source AND s.subject = c.subject AND c.events <= c.n
), lessened AS (
    UPDATE subjects s SET events = s.events - c.n FROM counted c
     WHERE s.source = c.source AND s.subject = c.subject AND c.events > c.n
)
SELECT (SELECT COUNT(*) FROM gone),
       -- After the last victim when the batch is full, else after every candidate.
       CASE WHEN (SELECT COUNT(*) FROM victims) >= $3 THEN (SELECT MAX(seq) FROM victims)
            ELSE COALESCE((SELECT MAX(seq) FROM candidates), $4) END,
       (SELECT seq FROM edge) IS NOT NULL OR (SELECT COUNT(*) FROM examined) < $5`

// pruneExamine is how many events one Prune examines for each it may
// delete: events kept by their deliveries are passed over, up to this.
const pruneExamine = 4

// Prune deletes up to limit events received before before whose
// deliveries are all final (succeeded or discarded; dead ones too when
// the event was received before deadBefore, never when deadBefore is
// zero), with their deliveries and attempts, keeping their dedupe keys;
// and up to limit kept keys of events received before keysBefore. Each
// call is one short transaction that examines at most pruneExamine×limit
// events in seq order, going on from where the last call stopped: its
// cost does not grow with the store, a pass with nothing to prune reads
// one event, and events kept by their deliveries are passed over rather
// than read again at every batch. A call that returns fewer than limit
// events has met the edge or examined its share; the next pass goes on,
// and starts again from the oldest once the edge was met.
func (s *Store) Prune(ctx context.Context, before, deadBefore, keysBefore time.Time, limit int) (events, keys int64, err error) {
	if s.isClosed() {
		return 0, 0, store.ErrClosed
	}
	s.pruneMu.Lock()
	defer s.pruneMu.Unlock()
	var (
		after int64
		edge  bool
	)
	err = s.pool.QueryRow(ctx, pruneEventsSQL, before, ts(deadBefore), limit, s.pruneAfter, pruneExamine*limit).
		Scan(&events, &after, &edge)
	if err != nil {
		return 0, 0, fmt.Errorf("postgres: prune events: %w", err)
	}
	s.pruneAfter = after
	if edge && events < int64(limit) {
		s.pruneAfter = 0 // the next pass starts again from the oldest
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM pruned_keys WHERE seq IN (
    SELECT seq FROM pruned_keys WHERE received_at < $1 ORDER BY received_at LIMIT $2)`, keysBefore, limit)
	if err != nil {
		return events, 0, fmt.Errorf("postgres: prune dedupe keys: %w", err)
	}
	return events, tag.RowsAffected(), nil
}

// OldestEvent returns when the oldest stored event was received; ok is
// false when there is none.
func (s *Store) OldestEvent(ctx context.Context) (at time.Time, ok bool, err error) {
	var t pgtype.Timestamptz
	err = s.pool.QueryRow(ctx, `SELECT (SELECT received_at FROM events ORDER BY seq LIMIT 1)`).Scan(&t)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("postgres: oldest event: %w", err)
	}
	return fromTS(t), t.Valid, nil
}
