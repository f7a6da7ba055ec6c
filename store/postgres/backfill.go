package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/hooklatch/hooklatch/event"
)

// The events stored before the store kept subjects' states (migration
// 0009) have no rank, are never stale, and are not counted on their
// subjects. BackfillSubjects gives them what the append would have,
// oldest first, a batch per transaction, so that a message whose events
// all predate the upgrade has a state, and its next event is compared
// with them. Migration 0013 records the stretch to fill in meta
// ("subjects_backfill": next, the last seq filled in, and end); the row
// is locked by the instance filling in a batch, so instances sharing the
// schema take turns, and goes once the stretch is done.

const (
	backfillBoundsSQL = `SELECT value FROM meta WHERE key = 'subjects_backfill' FOR UPDATE`
	backfillEventsSQL = `SELECT seq, id, source, subject_kind, subject, status, occurred_at, received_at
  FROM events WHERE seq > $1 AND seq <= $2 AND subject <> '' ORDER BY seq`
	// backfillRankSQL ranks event $2 (rank $1) and flags it stale when an
	// earlier event of its subject ($3 of source $4), already filled in,
	// is later by position (occurred_at $5), as the append does.
	backfillRankSQL = `UPDATE events SET rank = $1,
    stale = EXISTS (SELECT 1 FROM events p WHERE p.subject = $3 AND p.seq < $2 AND p.source = $4
                       AND (p.rank, COALESCE(p.occurred_at, '-infinity')) > ($1, COALESCE($5::timestamptz, '-infinity')))
 WHERE seq = $2`
	backfillNextSQL = `UPDATE meta SET value = $1 WHERE key = 'subjects_backfill'`
	backfillDoneSQL = `DELETE FROM meta WHERE key = 'subjects_backfill'`
)

// backfillBounds is the stretch left to fill in.
type backfillBounds struct {
	Next int64 `json:"next"`
	End  int64 `json:"end"`
}

// BackfillSubjects implements store.SubjectBackfiller: it fills in the
// events of the next limit seqs of the stretch in one transaction.
func (s *Store) BackfillSubjects(ctx context.Context, limit int) (events int64, done bool, err error) {
	if limit <= 0 {
		return 0, false, errors.New("postgres: backfill subjects: the batch size must be positive")
	}
	if s.backfilled.Load() {
		return 0, true, nil
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("postgres: backfill subjects: %w", err)
	}
	defer tx.Rollback(ctx) // after Commit, a no-op
	var (
		raw string
		b   backfillBounds
	)
	err = tx.QueryRow(ctx, backfillBoundsSQL).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		s.backfilled.Store(true)
		return 0, true, nil
	}
	if err == nil {
		err = json.Unmarshal([]byte(raw), &b)
	}
	if err != nil {
		return 0, false, fmt.Errorf("postgres: backfill subjects: %w", err)
	}
	stop := min(b.Next+int64(limit), b.End)
	if events, err = s.backfillStretch(ctx, tx, b.Next, stop); err != nil {
		return 0, false, err
	}
	if stop == b.End {
		_, err = tx.Exec(ctx, backfillDoneSQL)
	} else {
		next, _ := json.Marshal(backfillBounds{Next: stop, End: b.End})
		_, err = tx.Exec(ctx, backfillNextSQL, string(next))
	}
	if err == nil {
		err = tx.Commit(ctx)
	}
	if err != nil {
		return 0, false, fmt.Errorf("postgres: backfill subjects: %w", err)
	}
	if stop == b.End {
		s.backfilled.Store(true)
	}
	return events, stop == b.End, nil
}

// backfillStretch fills in the events after seq from up to seq to, under
// their subjects' locks, as appends take them.
func (s *Store) backfillStretch(ctx context.Context, tx pgx.Tx, from, to int64) (int64, error) {
	type old struct {
		seq                          int64
		id, source, kind, subj, stat string
		occurred                     pgtype.Timestamptz
		received                     time.Time
	}
	rows, err := tx.Query(ctx, backfillEventsSQL, from, to)
	if err != nil {
		return 0, fmt.Errorf("postgres: backfill subjects: %w", err)
	}
	var evs []old
	for rows.Next() {
		var o old
		if err := rows.Scan(&o.seq, &o.id, &o.source, &o.kind, &o.subj, &o.stat, &o.occurred, &o.received); err != nil {
			rows.Close()
			return 0, fmt.Errorf("postgres: backfill subjects: %w", err)
		}
		evs = append(evs, o)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("postgres: backfill subjects: %w", err)
	}
	if len(evs) == 0 {
		return 0, nil
	}
	sources, subjects := make([]string, len(evs)), make([]string, len(evs))
	for i, o := range evs {
		sources[i], subjects[i] = o.source, o.subj
	}
	b := &pgx.Batch{}
	b.Queue(lockSubjectsSQL, sources, subjects, s.schema)
	for _, o := range evs {
		rank := int32(event.LifecycleRank(o.kind, o.stat))
		b.Queue(backfillRankSQL, rank, o.seq, o.subj, o.source, o.occurred)
		b.Queue(upsertSubjectsSQL, []string{o.source}, []string{o.subj}, []string{o.kind}, []string{o.stat}, []int32{rank},
			[]int64{o.seq}, []string{o.id}, []pgtype.Timestamptz{o.occurred}, []time.Time{o.received}, []int64{1})
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return 0, fmt.Errorf("postgres: backfill subjects: %w", err)
	}
	return int64(len(evs)), nil
}
