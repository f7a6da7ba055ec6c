package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/hooklatch/hooklatch/event"
)

// The events stored before the store kept subjects' states (migration
// 0020) have no rank, are never stale, and are not counted on their
// subjects. BackfillSubjects gives them what the append would have, in
// the writer's spare time, oldest first, so that a message whose events
// all predate the upgrade has a state, and its next event is compared
// with them. Migration 0024 records the stretch to fill in meta
// ("subjects_backfill": next, the last seq filled in, and end); the row
// goes once the stretch is done.

const (
	backfillBoundsSQL = `SELECT value ->> 'next', value ->> 'end' FROM meta WHERE key = 'subjects_backfill'`
	backfillEventsSQL = `SELECT seq, id, source, subject_kind, subject, status, occurred_at, received_at
  FROM events WHERE seq > ?1 AND seq <= ?2 AND subject <> '' ORDER BY seq`
	// backfillRankSQL ranks event ?2 (rank ?1) and flags it stale when
	// an earlier event of its subject (?3 of source ?4), already filled
	// in, is later by position (occurred_at ?5), as the append does.
	backfillRankSQL = `UPDATE events SET rank = ?1,
    stale = EXISTS (SELECT 1 FROM events p INDEXED BY events_subject_seq
                     WHERE p.subject = ?3 AND p.seq < ?2 AND p.source = ?4 AND (p.rank > ?1 OR p.rank = ?1 AND p.occurred_at > ?5))
 WHERE seq = ?2`
	backfillNextSQL = `UPDATE meta SET value = json_set(value, '$.next', ?1) WHERE key = 'subjects_backfill'`
	backfillDoneSQL = `DELETE FROM meta WHERE key = 'subjects_backfill'`
)

// BackfillSubjects implements store.SubjectBackfiller: it fills in the
// events of the next limit seqs of the stretch in one spare-time write.
func (s *Store) BackfillSubjects(ctx context.Context, limit int) (events int64, done bool, err error) {
	if limit <= 0 {
		return 0, false, errors.New("sqlite: backfill subjects: the batch size must be positive")
	}
	if s.backfilled.Load() {
		return 0, true, nil
	}
	var next, end int64
	err = s.readDB.QueryRowContext(ctx, backfillBoundsSQL).Scan(&next, &end)
	if errors.Is(err, sql.ErrNoRows) {
		s.backfilled.Store(true)
		return 0, true, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("sqlite: backfill subjects: %w", err)
	}
	stop := min(next+int64(limit), end)
	r := &writeReq{fn: func(ctx context.Context, tx *sql.Tx) error {
		n, err := backfillStretch(ctx, tx, next, stop, stop == end)
		events = n
		return err
	}}
	if err := s.wait(ctx, r, func() error { return s.enqueueSpare(r) }); err != nil {
		return 0, false, err
	}
	if stop == end {
		s.backfilled.Store(true)
	}
	return events, stop == end, nil
}

// backfillStretch fills in the events after seq from up to seq to, and
// moves the stretch's start past them, or ends it when last.
func backfillStretch(ctx context.Context, tx *sql.Tx, from, to int64, last bool) (int64, error) {
	type old struct {
		seq, occurred, received      int64
		id, source, kind, subj, stat string
	}
	rows, err := tx.QueryContext(ctx, backfillEventsSQL, from, to)
	if err != nil {
		return 0, fmt.Errorf("sqlite: backfill subjects: %w", err)
	}
	var evs []old
	for rows.Next() {
		var o old
		if err := rows.Scan(&o.seq, &o.id, &o.source, &o.kind, &o.subj, &o.stat, &o.occurred, &o.received); err != nil {
			rows.Close()
			return 0, fmt.Errorf("sqlite: backfill subjects: %w", err)
		}
		evs = append(evs, o)
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("sqlite: backfill subjects: %w", err)
	}
	for _, o := range evs {
		rank := event.LifecycleRank(o.kind, o.stat)
		if _, err := tx.ExecContext(ctx, backfillRankSQL, rank, o.seq, o.subj, o.source, o.occurred); err != nil {
			return 0, fmt.Errorf("sqlite: backfill subjects: %w", err)
		}
		if _, err := tx.ExecContext(ctx, subjectsSQLs[1], o.source, o.subj, o.kind, o.stat, rank, o.seq, o.id, o.occurred, o.received); err != nil {
			return 0, fmt.Errorf("sqlite: backfill subjects: %w", err)
		}
	}
	q, args := backfillNextSQL, []any{to}
	if last {
		q, args = backfillDoneSQL, nil
	}
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return 0, fmt.Errorf("sqlite: backfill subjects: %w", err)
	}
	return int64(len(evs)), nil
}
