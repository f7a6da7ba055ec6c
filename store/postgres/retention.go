package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/hooklatch/hooklatch/store"
)

// pruneEventsSQL examines, in order of age from just after the key ($4,
// $5), up to $6 events received before $1, through the events_received_at
// index, and deletes the first $3 of them that are done with: no delivery
// pending or in flight, and no dead one unless the event was received
// before $2 (NULL: dead ones are kept). Their deliveries and attempts go
// with them; their dedupe keys are kept in pruned_keys. Rows another
// pruner holds are skipped. It returns how many it deleted, how many it
// examined, and the key to go on from.
const pruneEventsSQL = `
WITH examined AS (
    SELECT e.seq, e.received_at FROM events e
     WHERE e.received_at < $1 AND (e.received_at, e.seq) > ($4, $5)
     ORDER BY e.received_at, e.seq LIMIT $6
), victims AS (
    SELECT e.seq, e.id, e.source, e.dedupe_key, e.body_sha256, e.received_at
      FROM events e JOIN examined x ON x.seq = e.seq
     WHERE NOT EXISTS (SELECT 1 FROM deliveries d
                        WHERE d.event_seq = e.seq
                          AND d.status IN ('pending', 'in_flight', 'dead')
                          AND (d.status <> 'dead' OR $2::timestamptz IS NULL OR e.received_at >= $2))
     ORDER BY e.received_at, e.seq LIMIT $3
       FOR UPDATE OF e SKIP LOCKED
), kept AS (
    INSERT INTO pruned_keys (seq, id, source, dedupe_key, body_sha256, received_at)
    SELECT seq, id, source, dedupe_key, body_sha256, received_at FROM victims
    ON CONFLICT DO NOTHING
), gone AS (
    DELETE FROM events e USING victims v WHERE e.seq = v.seq RETURNING e.seq
), last AS (
    -- Where the next batch goes on: after the last victim when the batch
    -- is full, else after everything examined.
    SELECT received_at, seq FROM (
        (SELECT received_at, seq, 0 AS k FROM victims ORDER BY received_at DESC, seq DESC LIMIT 1)
        UNION ALL
        (SELECT received_at, seq, 1 FROM examined ORDER BY received_at DESC, seq DESC LIMIT 1)) l
     ORDER BY CASE WHEN (SELECT COUNT(*) FROM victims) >= $3 THEN k ELSE -k END LIMIT 1
)
SELECT (SELECT COUNT(*) FROM gone), (SELECT COUNT(*) FROM examined),
       (SELECT received_at FROM last), (SELECT seq FROM last)`

// pruneExamine is how many events one Prune examines for each it may
// delete: events kept by their deliveries are passed over, up to this.
const pruneExamine = 4

// pruneCursor is where the next Prune goes on from, in order of age:
// each examines a bounded stretch of the old events, never all of them,
// and the stretches wrap around once they reach the retention's edge.
type pruneCursor struct {
	at  time.Time
	seq int64
}

// Prune deletes up to limit events received before before whose
// deliveries are all final (succeeded or discarded; dead ones too when
// the event was received before deadBefore, never when deadBefore is
// zero), with their deliveries and attempts, keeping their dedupe keys;
// and up to limit kept keys of events received before keysBefore. Each
// call is one short transaction that examines at most pruneExamine×limit
// events through the events_received_at index, going on from where the
// last call stopped: its cost does not grow with the store, and events
// kept by their deliveries are passed over rather than read again and
// again. A call that returns fewer than limit events has reached the
// edge or examined its share; the next pass goes on.
func (s *Store) Prune(ctx context.Context, before, deadBefore, keysBefore time.Time, limit int) (events, keys int64, err error) {
	if s.isClosed() {
		return 0, 0, store.ErrClosed
	}
	s.pruneMu.Lock()
	defer s.pruneMu.Unlock()
	var (
		examined int64
		at       pgtype.Timestamptz
		seq      pgtype.Int8
	)
	err = s.pool.QueryRow(ctx, pruneEventsSQL, before, ts(deadBefore), limit, s.prune.at, s.prune.seq, pruneExamine*limit).
		Scan(&events, &examined, &at, &seq)
	if err != nil {
		return 0, 0, fmt.Errorf("postgres: prune events: %w", err)
	}
	if examined < int64(pruneExamine*limit) && events < int64(limit) {
		s.prune = pruneCursor{} // reached the edge: the next pass starts again from the oldest
	} else if at.Valid {
		s.prune = pruneCursor{at: at.Time, seq: seq.Int64}
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
	err = s.pool.QueryRow(ctx, `SELECT (SELECT received_at FROM events ORDER BY received_at, seq LIMIT 1)`).Scan(&t)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("postgres: oldest event: %w", err)
	}
	return fromTS(t), t.Valid, nil
}
