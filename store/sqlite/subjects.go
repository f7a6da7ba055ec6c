package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/hooklatch/hooklatch/store"
)

// A subject's latest state is kept by the append: a run of appends records
// its events' states together once it has inserted them (recordSubjects,
// subjectsSQL). This file also reads them, and fills in the staleness of
// claimed deliveries from them.

// recordSubjects records the states of the run of appends' events with a
// subject, in their order, in multi-row statements prepared once (one
// statement per event cost more to bind and run than its lookups), and
// marks stale those whose subject's state was later when they arrived:
// the state stored before the run, or an event of the run before them.
func (s *Store) recordSubjects(ctx context.Context, tx *sql.Tx) error {
	reqs := s.runSubjects
	var stale []int64
	err := inChunks(len(reqs), func(from, size int) error {
		chunk := reqs[from : from+size]
		args := make([]any, 0, size*subjectArgs)
		for _, r := range chunk {
			ev := r.ev
			args = append(args, ev.Source, ev.Subject, ev.SubjectKind, ev.Status, r.rank,
				r.res.Seq, ev.ID, unixNano(ev.OccurredAt), unixNano(ev.ReceivedAt))
		}
		rows, err := s.queryWriter(ctx, tx, subjectsSQLs[size], args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		// The seqs of the events that became their subject's state.
		latest := make(map[int64]bool, size)
		for rows.Next() {
			var seq int64
			if err := rows.Scan(&seq); err != nil {
				return err
			}
			latest[seq] = true
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range chunk {
			if !latest[r.res.Seq] {
				r.stale = true
				stale = append(stale, r.res.Seq)
			}
		}
		return nil
	})
	if err == nil && len(stale) > 0 {
		_, err = s.execWriter(ctx, tx, markStaleSQL, seqsJSON(stale))
	}
	if err != nil {
		return fmt.Errorf("sqlite: append: subjects: %w", err)
	}
	return nil
}

// markStaleSQL marks stale the events of the JSON array ?1 of seqs.
const markStaleSQL = `UPDATE events SET stale = 1 WHERE seq IN (SELECT value FROM json_each(?1))`

// subjectStateSQL reads the latest state of subject ?2 of source ?1, by
// its first event (firstEventSQL).
var subjectStateSQL = `SELECT source, kind, subject, status, rank, event_id, occurred_at, received_at, events, updated_at
  FROM subjects WHERE first_seq = (` + firstEventSQL("?1", "?2") + `)`

// Subject implements store.Store.
func (s *Store) Subject(ctx context.Context, source, subject string) (*store.SubjectState, error) {
	var (
		st                      store.SubjectState
		occurred, received, upd int64
	)
	err := s.readDB.QueryRowContext(ctx, subjectStateSQL, source, subject).Scan(&st.Source, &st.Kind, &st.Subject,
		&st.Status, &st.Rank, &st.EventID, &occurred, &received, &st.Events, &upd)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: subject: %w", err)
	}
	st.OccurredAt, st.ReceivedAt, st.UpdatedAt = fromUnixNano(occurred), fromUnixNano(received), fromUnixNano(upd)
	return &st, nil
}

// claimedSubjectsSQL reads the latest states of the subjects in the JSON
// array ?1 of [source, subject] pairs, each by its first event.
var claimedSubjectsSQL = `SELECT s.source, s.subject, s.status, s.rank, s.occurred_at, s.event_seq
  FROM json_each(?1) j CROSS JOIN subjects s ON s.first_seq = (` + firstEventSQL("j.value ->> 0", "j.value ->> 1") + `)`

// fillStaleness sets each claim's Stale and SubjectStatus from its
// subject's latest state as it is now.
func (s *Store) fillStaleness(ctx context.Context, claims []store.Claim) error {
	keys := store.ClaimSubjects(claims)
	if len(keys) == 0 {
		return nil
	}
	rows, err := s.claimedSubjectsStmt.QueryContext(ctx, keys.JSON())
	if err != nil {
		return fmt.Errorf("sqlite: read claimed subjects: %w", err)
	}
	defer rows.Close()
	latest := map[store.SubjectKey]store.Latest{}
	for rows.Next() {
		var (
			k        store.SubjectKey
			l        store.Latest
			occurred int64
		)
		if err := rows.Scan(&k.Source, &k.Subject, &l.Status, &l.Position.Rank, &occurred, &l.Position.Received); err != nil {
			return fmt.Errorf("sqlite: read claimed subjects: %w", err)
		}
		l.Position.OccurredAt = fromUnixNano(occurred)
		latest[k] = l
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: read claimed subjects: %w", err)
	}
	store.FillStaleness(claims, latest)
	return nil
}
