package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/store"
)

// A subject's latest state is kept in the append's transaction. Several
// writers, in this process and others sharing the schema, may append
// events of one subject at once, so each transaction first takes a lock
// per subject of its batch (lockSubjectsSQL), in one order, before it
// inserts anything: the events of one subject are then given their seqs
// in the order their transactions commit, so that "stored before" means
// a lower seq, and each transaction reads the state the one before it
// left (appendSQL's stale flag). The lock is a transaction-level advisory
// lock on a hash of the schema, the source and the subject: two subjects
// whose hashes meet only wait for each other.

// lockSubjectsSQL takes the locks of the subjects ($2) of sources $1 in
// schema $3, in the order of their keys.
const lockSubjectsSQL = `
SELECT pg_advisory_xact_lock(k) FROM (
    SELECT DISTINCT hashtextextended(length($3) || ':' || $3 || length(source) || ':' || source || subject, 0) AS k
      FROM unnest($1::text[], $2::text[]) AS t (source, subject)
     WHERE subject <> ''
     ORDER BY k) keys`

// laterState sets each of columns to the new row's (EXCLUDED) when later
// holds: every right-hand side reads the row as it was.
func laterState(later string, columns ...string) string {
	var b strings.Builder
	for _, c := range columns {
		b.WriteString(",\n    " + c + " = CASE WHEN " + later + " THEN EXCLUDED." + c + " ELSE subjects." + c + " END")
	}
	return b.String()
}

// upsertSubjectsSQL records a batch's new events per subject: $10 events
// each, the latest of which is the rest. It counts them, and makes the
// latest the subject's state when its position (rank, occurred_at, seq;
// an absent occurred_at earliest) is after the stored one's
// (event.Position.After). Rows go in key order, as every writer's.
var upsertSubjectsSQL = `
INSERT INTO subjects (source, subject, kind, status, rank, event_seq, event_id, occurred_at, received_at, events, updated_at)
SELECT source, subject, kind, status, rank, event_seq, event_id, occurred_at, received_at, events, received_at
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::bigint[], $7::text[],
              $8::timestamptz[], $9::timestamptz[], $10::bigint[])
       AS t (source, subject, kind, status, rank, event_seq, event_id, occurred_at, received_at, events)
 ORDER BY source, subject
ON CONFLICT (source, subject) DO UPDATE SET events = subjects.events + EXCLUDED.events` + laterState(
	"(EXCLUDED.rank, COALESCE(EXCLUDED.occurred_at, '-infinity'), EXCLUDED.event_seq) > "+
		"(subjects.rank, COALESCE(subjects.occurred_at, '-infinity'), subjects.event_seq)",
	"kind", "status", "rank", "event_seq", "event_id", "occurred_at", "received_at", "updated_at")

// markStaleSQL flags the events ($1) that a later event of their subject
// in the same batch came before.
const markStaleSQL = `UPDATE events SET stale = true WHERE seq = ANY($1::bigint[])`

// writeSubjectBatch writes a batch with events of subjects in one
// transaction: the subjects' locks, the events (appendArgs), the stale
// flags appendSQL could not see, the duplicates and the subjects' states.
func (s *Store) writeSubjectBatch(ctx context.Context, rows []*appendReq, ids, sources, subjects []string, appendArgs []any, order *orderBatch,
	hs *handing, committed *bool) error {
	tx, err := s.writes.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: append: %w", err)
	}
	defer tx.Rollback(ctx) // after Commit, a no-op
	b := &pgx.Batch{}
	b.Queue(lockSubjectsSQL, sources, subjects, s.schema)
	b.Queue(appendSQL, appendArgs...)
	if len(order.keys) > 0 {
		// Deliveries to a destination that orders by subject are ordered
		// in the append's transaction: none is ever claimable out of turn.
		b.Queue(orderSQL, order.args()...)
	}
	results := tx.SendBatch(ctx, b)
	if _, err := results.Exec(); err != nil {
		results.Close()
		return fmt.Errorf("postgres: append: lock subjects: %w", err)
	}
	res, err := results.Query()
	if err == nil {
		err = answerInserted(res, rows, ids, hs)
	}
	if err == nil && len(order.keys) > 0 {
		_, err = results.Exec()
	}
	if err == nil {
		err = results.Close()
	}
	if err != nil {
		results.Close()
		return fmt.Errorf("postgres: append: %w", err)
	}
	stale, states, latest := subjectBatch(rows)
	if hs != nil {
		hs.latest = latest
	}
	// Duplicates before the states: retention locks an event before its
	// subject, and so does this transaction.
	if err := s.countDuplicates(ctx, tx, duplicatesOf(rows)); err != nil {
		return err
	}
	b = &pgx.Batch{}
	if len(stale) > 0 {
		b.Queue(markStaleSQL, stale)
	}
	b.Queue(upsertSubjectsSQL, states.args()...)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("postgres: append: subjects: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: append: commit: %w", err)
	}
	*committed = true
	return nil
}

// subjectStates are upsertSubjectsSQL's rows, one per subject.
type subjectStates struct {
	sources, subjects, kinds, statuses, ids []string
	ranks                                   []int32
	seqs, events                            []int64
	occurred                                []pgtype.Timestamptz
	received                                []time.Time
}

func (st *subjectStates) args() []any {
	return []any{st.sources, st.subjects, st.kinds, st.statuses, st.ranks, st.seqs, st.ids, st.occurred, st.received, st.events}
}

// subjectBatch compares the batch's inserted events of each subject in
// the order they were stored (their seqs): one is stale also when an
// earlier one of the batch is after it. It sets their stale flags, and
// returns the seqs of those that appendSQL did not flag, and the batch's
// latest event and count per subject, as states to upsert and as the
// latest request per subject.
func subjectBatch(rows []*appendReq) (stale []int64, states subjectStates, latest map[store.SubjectKey]*appendReq) {
	var inserted []*appendReq
	for _, r := range rows {
		if r.res.Seq != 0 && r.ev.Subject != "" {
			inserted = append(inserted, r)
		}
	}
	slices.SortFunc(inserted, func(a, b *appendReq) int { return cmp.Compare(a.res.Seq, b.res.Seq) })
	type newest struct {
		r     *appendReq
		pos   event.Position
		count int64
	}
	var (
		order []store.SubjectKey
		by    = map[store.SubjectKey]*newest{}
	)
	for _, r := range inserted {
		ev := r.ev
		k := store.SubjectKey{Source: text(ev.Source), Subject: text(ev.Subject)}
		pos := event.Position{Rank: event.LifecycleRank(ev.SubjectKind, ev.Status), OccurredAt: ev.OccurredAt, Received: r.res.Seq}
		l := by[k]
		if l == nil {
			by[k] = &newest{r: r, pos: pos, count: 1}
			order = append(order, k)
			continue
		}
		l.count++
		if l.pos.After(pos) {
			if !r.stale {
				r.stale = true
				stale = append(stale, r.res.Seq)
			}
			continue
		}
		l.r, l.pos = r, pos
	}
	latest = make(map[store.SubjectKey]*appendReq, len(by))
	for _, k := range order {
		l := by[k]
		latest[k] = l.r
		ev := l.r.ev
		states.sources, states.subjects = append(states.sources, k.Source), append(states.subjects, k.Subject)
		states.kinds, states.statuses = append(states.kinds, text(ev.SubjectKind)), append(states.statuses, text(ev.Status))
		states.ranks, states.seqs = append(states.ranks, int32(l.pos.Rank)), append(states.seqs, l.r.res.Seq)
		states.ids, states.events = append(states.ids, text(ev.ID)), append(states.events, l.count)
		states.occurred, states.received = append(states.occurred, ts(ev.OccurredAt)), append(states.received, ev.ReceivedAt)
	}
	return stale, states, latest
}

// Subject implements store.Store.
func (s *Store) Subject(ctx context.Context, source, subject string) (*store.SubjectState, error) {
	var (
		st       store.SubjectState
		occurred pgtype.Timestamptz
	)
	err := s.pool.QueryRow(ctx, `
SELECT source, kind, subject, status, rank, event_id, occurred_at, received_at, events, updated_at
  FROM subjects WHERE source = $1 AND subject = $2`, text(source), text(subject)).Scan(
		&st.Source, &st.Kind, &st.Subject, &st.Status, &st.Rank, &st.EventID, &occurred, &st.ReceivedAt, &st.Events, &st.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: subject: %w", err)
	}
	st.OccurredAt, st.ReceivedAt, st.UpdatedAt = fromTS(occurred), st.ReceivedAt.UTC(), st.UpdatedAt.UTC()
	return &st, nil
}
