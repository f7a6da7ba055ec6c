package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/hooklatch/hooklatch/store"
)

// pruneEventsSQL deletes, oldest first, up to $3 events received before
// $1 that are done with: no delivery pending or in flight, and no dead one
// unless the event was received before $2 (NULL: dead ones are kept). Their
// deliveries and attempts go with them; their dedupe keys are kept in
// pruned_keys. Rows another pruner holds are skipped.
const pruneEventsSQL = `
WITH victims AS (
    SELECT e.seq, e.id, e.source, e.dedupe_key, e.body_sha256, e.received_at
      FROM events e
     WHERE e.received_at < $1
       AND NOT EXISTS (SELECT 1 FROM deliveries d
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
)
SELECT COUNT(*) FROM gone`

// Prune deletes up to limit events received before before whose
// deliveries are all final (succeeded or discarded; dead ones too when
// the event was received before deadBefore, never when deadBefore is
// zero), with their deliveries and attempts, keeping their dedupe keys;
// and up to limit kept keys of events received before keysBefore. Each
// call is one short transaction: callers prune in small batches.
func (s *Store) Prune(ctx context.Context, before, deadBefore, keysBefore time.Time, limit int) (events, keys int64, err error) {
	if s.isClosed() {
		return 0, 0, store.ErrClosed
	}
	if err := s.pool.QueryRow(ctx, pruneEventsSQL, before, ts(deadBefore), limit).Scan(&events); err != nil {
		return 0, 0, fmt.Errorf("postgres: prune events: %w", err)
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
