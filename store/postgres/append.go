package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/store"
)

// appendReq is one append waiting for a writer.
type appendReq struct {
	ev      *store.NewEvent
	headers string   // ev.Headers as JSON, encoded by the caller, not the writer
	bodySum [32]byte // SHA-256 of ev.Body, likewise

	res   store.AppendResult
	stale bool // the stored event was stale on arrival
	rank  int  // its lifecycle rank
	err   error
	done  chan struct{}
}

// Append implements store.Store.
func (s *Store) Append(ctx context.Context, ev *store.NewEvent) (store.AppendResult, error) {
	r, err := newAppendReq(ev)
	if err != nil {
		return store.AppendResult{}, err
	}
	if err := s.enqueue(r); err != nil {
		return store.AppendResult{}, err
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		// The write may still commit; the caller did not get an answer, so
		// the sender will retry and meet a duplicate. Nothing is lost.
		return store.AppendResult{}, ctx.Err()
	}
	if r.err != nil {
		return store.AppendResult{}, r.err
	}
	return r.res, nil
}

// newAppendReq is the write that appends ev, with what the caller can do
// before the writer does.
func newAppendReq(ev *store.NewEvent) (*appendReq, error) {
	headers, err := json.Marshal(ev.Headers)
	if err != nil {
		return nil, fmt.Errorf("postgres: encode headers: %w", err)
	}
	return &appendReq{ev: ev, headers: string(headers), bodySum: ev.BodySum(), done: make(chan struct{})}, nil
}

// enqueue hands r to the writers, or fails at once when the queue is full
// or the store is closed.
func (s *Store) enqueue(r *appendReq) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.ErrClosed
	}
	select {
	case s.queue <- r:
		return nil
	default:
		return store.ErrBusy
	}
}

// writeLoop gathers the appends waiting at the moment into one batch and
// commits it, until the queue is closed and drained.
func (s *Store) writeLoop() {
	batch := make([]*appendReq, 0, s.opts.MaxBatch)
	for {
		first, ok := <-s.queue
		if !ok {
			return
		}
		batch = append(batch[:0], first)
		bytes := len(first.ev.Body)
	gather:
		for len(batch) < s.opts.MaxBatch && bytes < s.opts.MaxBatchBytes {
			select {
			case r, ok := <-s.queue:
				if !ok {
					break gather
				}
				batch = append(batch, r)
				bytes += len(r.ev.Body)
			default:
				break gather
			}
		}
		s.commit(batch)
	}
}

// commit writes batch and releases every request once its outcome is
// committed. A batch cut off with its connection (the server restarted,
// an operator ended the session) is written again once on a fresh
// connection. When the server refuses the batch, each append is tried
// again on its own, so that one bad write cannot fail the others; when
// the database cannot be reached, they all fail (the receiver answers 503
// and the sender retries).
func (s *Store) commit(batch []*appendReq) {
	// Not any request's context: a sender that went away must not abort
	// the others' commit.
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.WriteTimeout)
	defer cancel()
	err := s.writeBatch(ctx, batch)
	if cutOff(err) {
		err = s.writeBatch(ctx, batch)
	}
	if err != nil && len(batch) > 1 && isServerError(err) && !cutOff(err) {
		s.opts.Logger.Warn("postgres: batch refused, retrying its appends one by one", "appends", len(batch), "err", err)
		for _, r := range batch {
			// writeBatch starts each answer over: resetting it here, in
			// the same assignment, would wipe what it set.
			r.err = s.writeBatch(ctx, []*appendReq{r})
			close(r.done)
		}
		s.signalWork(batch) // the appends stored: other instances are woken
		return
	}
	if err != nil {
		s.opts.Logger.Warn("postgres: append failed", "appends", len(batch), "err", err)
	}
	for _, r := range batch {
		if err != nil {
			r.err = err
		}
		close(r.done)
	}
	if err == nil {
		s.signalWork(batch)
	}
}

// cutOff reports whether err is a statement lost with its connection,
// which may be written again: before it was sent, or ended by the server
// (SQLSTATE class 57: operator intervention). Had it committed after all,
// writing it again finds its own rows (see countDuplicateSQL).
func cutOff(err error) bool {
	if err == nil {
		return false
	}
	if pgconn.SafeToRetry(err) {
		return true
	}
	pe, ok := errors.AsType[*pgconn.PgError](err)
	return ok && strings.HasPrefix(pe.Code, "57")
}

// appendSQL inserts a batch of events and their deliveries in one
// statement. The creation contexts ($18) are NULL, not an array, while
// tracing is off: unnest pads the missing column with NULLs. A row that conflicts with a stored event (or an earlier row
// of the batch) by id, dedupe key or body is skipped, and only the events
// inserted are returned. $19 are the events' lifecycle ranks; an event is
// stale when its subject's stored latest state is later (a higher rank,
// or the same reached later: the new event is received last), found by
// the subject's primary key. Later events of the same subject in the
// batch are the writer's to compare (subjectBatch). $20 says which
// deliveries are inserted in flight, leased to $21 until $22, for the
// dispatcher that took them (handoff.go); NULL, none. Those are returned
// too, as rows with a delivery id.
const appendSQL = `
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                         $9::timestamptz[], $10::timestamptz[], $11::text[], $12::text[], $13::text[], $14::bytea[], $15::bytea[], $18::text[],
                         $19::int[])
           WITH ORDINALITY AS t (id, source, dedupe_key, field, type, subject_kind, subject, status,
                                 occurred_at, received_at, scheme, attention, headers, body, body_sha256, trace_parent, rank, ord)
), ins AS (
    INSERT INTO events (id, source, dedupe_key, field, type, subject_kind, subject, status,
                        occurred_at, received_at, scheme, attention, headers, body, body_sha256, trace_parent, rank, stale)
    SELECT id, source, dedupe_key, field, type, subject_kind, subject, status,
           occurred_at, received_at, scheme, attention, headers, body, body_sha256, trace_parent, rank,
           EXISTS (SELECT 1 FROM subjects s WHERE s.source = input.source AND s.subject = input.subject
                      AND (s.rank, COALESCE(s.occurred_at, '-infinity')) > (input.rank, COALESCE(input.occurred_at, '-infinity')))
      FROM input
     WHERE NOT EXISTS (SELECT 1 FROM pruned_keys p
                        WHERE p.source = input.source AND (p.dedupe_key = input.dedupe_key OR p.body_sha256 = input.body_sha256))
     ORDER BY ord
    ON CONFLICT DO NOTHING
    RETURNING seq, id, received_at, stale
), dl AS (
    INSERT INTO deliveries (event_seq, event_id, destination, status, next_attempt_at, lease_owner, lease_until, created_at, updated_at)
    SELECT ins.seq, ins.id, d.destination, CASE WHEN d.handed THEN 'in_flight' ELSE 'pending' END, ins.received_at,
           CASE WHEN d.handed THEN $21 ELSE '' END, CASE WHEN d.handed THEN $22::timestamptz END, ins.received_at, ins.received_at
      FROM ins JOIN unnest($16::text[], $17::text[], $20::bool[]) WITH ORDINALITY AS d (event_id, destination, handed, ord) ON d.event_id = ins.id
     ORDER BY ins.seq, d.ord
    RETURNING id, event_id, destination, status
)
SELECT id, seq, stale, NULL::bigint, NULL::text FROM ins
UNION ALL
SELECT event_id, 0, false, id, destination FROM dl WHERE status = 'in_flight'`

// countDuplicateSQL counts a duplicate on the first event it matches, by
// dedupe key or by body, and names that event: a stored one (through the
// two unique indexes that refused it) or a pruned one whose keys are kept.
// The event it matches may be itself, when a write cut off with its
// connection had committed after all: that is no duplicate, and is not
// counted.
const countDuplicateSQL = `
WITH first AS (
    SELECT seq, id, pruned FROM (
        SELECT seq, id, false AS pruned FROM events WHERE source = $2 AND (dedupe_key = $3 OR body_sha256 = $4)
        UNION ALL
        SELECT seq, id, true FROM pruned_keys WHERE source = $2 AND (dedupe_key = $3 OR body_sha256 = $4)) m
     ORDER BY seq LIMIT 1
), counted AS (
    UPDATE events SET duplicates = events.duplicates + 1, last_duplicate_at = $1
      FROM first WHERE events.seq = first.seq AND NOT first.pruned AND first.id <> $5
)
SELECT seq, id FROM first`

// writeBatch stores the batch's new events, counts its duplicates, and
// sets each request's result.
func (s *Store) writeBatch(ctx context.Context, batch []*appendReq) error {
	// Rows go in key order: two instances inserting overlapping batches
	// then wait for each other in the same order, not in a cycle.
	rows := slices.Clone(batch)
	slices.SortFunc(rows, func(a, b *appendReq) int {
		return cmp.Or(cmp.Compare(a.ev.DedupeKey, b.ev.DedupeKey), cmp.Compare(a.ev.Source, b.ev.Source))
	})
	n := len(rows)
	var (
		ids, sources, keys, fields, types, kinds, subjects, statuses = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		occurred                                                     = make([]pgtype.Timestamptz, n)
		received                                                     = make([]time.Time, n)
		schemes, attention, headers                                  = make([]string, n), make([]string, n), make([]string, n)
		bodies, sums                                                 = make([][]byte, n), make([][]byte, n)
		destEvents, destNames                                        []string
		parents                                                      []*string // nil unless one has a creation context
		ranks                                                        = make([]int32, n)
		withSubject                                                  bool
		ordered                                                      = s.orderedNow()
		order                                                        orderBatch
	)
	for i, r := range rows {
		ev := r.ev
		ids[i], sources[i], keys[i] = text(ev.ID), text(ev.Source), text(ev.DedupeKey)
		fields[i], types[i], kinds[i], subjects[i], statuses[i] = text(ev.Field), text(ev.Type), text(ev.SubjectKind), text(ev.Subject), text(ev.Status)
		occurred[i], received[i] = ts(ev.OccurredAt), ev.ReceivedAt
		schemes[i], attention[i], headers[i] = text(ev.Scheme), text(ev.Attention), r.headers
		bodies[i], sums[i] = ev.Body, r.bodySum[:]
		r.rank = event.LifecycleRank(ev.SubjectKind, ev.Status)
		ranks[i], withSubject = int32(r.rank), withSubject || ev.Subject != ""
		r.res, r.stale = store.AppendResult{}, false // a batch written again starts over
		if bodies[i] == nil {
			bodies[i] = []byte{} // nil would be NULL
		}
		for _, d := range ev.DistinctDestinations() { // a delivery each: the unique key
			destEvents, destNames = append(destEvents, ids[i]), append(destNames, text(d))
		}
		order.add(ordered, ev) // only events with a subject are ordered
		if ev.TraceParent != "" {
			if parents == nil {
				parents = make([]*string, n)
			}
			p := text(ev.TraceParent)
			parents[i] = &p
		}
	}
	hs := s.take(rows, ordered)
	committed := false
	defer func() { s.settle(hs, committed) }()
	appendArgs := append([]any{ids, sources, keys, fields, types, kinds, subjects, statuses,
		occurred, received, schemes, attention, headers, bodies, sums, destEvents, destNames, parents, ranks}, hs.args()...)
	if !withSubject {
		// No subject state to keep: one statement, its own transaction.
		res, err := s.writes.Query(ctx, appendSQL, appendArgs...)
		if err != nil {
			return fmt.Errorf("postgres: append: %w", err)
		}
		if err := answerInserted(res, rows, ids, hs); err != nil {
			return err
		}
		committed = true
		return s.countDuplicates(ctx, s.writes, duplicatesOf(rows))
	}
	return s.writeSubjectBatch(ctx, rows, ids, sources, subjects, appendArgs, &order, hs, &committed)
}

// answerInserted reads appendSQL's rows into the results of rows (whose
// ids are ids): the inserted events' seqs and whether they were stale,
// and the ids of the deliveries inserted in flight for hs.
func answerInserted(res pgx.Rows, rows []*appendReq, ids []string, hs *handing) error {
	type inserted struct {
		seq   int64
		stale bool
	}
	got := map[string]inserted{}
	var (
		id          string
		in          inserted
		delivery    pgtype.Int8
		destination pgtype.Text
	)
	_, err := pgx.ForEachRow(res, []any{&id, &in.seq, &in.stale, &delivery, &destination}, func() error {
		if delivery.Valid {
			hs.inserted(id, destination.String, delivery.Int64)
		} else {
			got[id] = in
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: append: %w", err)
	}
	for i, r := range rows {
		if in, ok := got[ids[i]]; ok {
			r.res, r.stale = store.AppendResult{EventID: r.ev.ID, Seq: in.seq}, in.stale
		}
	}
	return nil
}

// duplicatesOf returns those of rows that inserted nothing.
func duplicatesOf(rows []*appendReq) []*appendReq {
	var dups []*appendReq
	for _, r := range rows {
		if r.res.Seq == 0 {
			dups = append(dups, r)
		}
	}
	return dups
}

// sender is what a batch of statements goes through: the pool, or a
// transaction.
type sender interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// countDuplicates counts each duplicate on the event it matches and
// answers it with that event, in one round trip.
func (s *Store) countDuplicates(ctx context.Context, via sender, dups []*appendReq) error {
	if len(dups) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, r := range dups {
		b.Queue(countDuplicateSQL, r.ev.ReceivedAt, text(r.ev.Source), text(r.ev.DedupeKey), r.bodySum[:], text(r.ev.ID))
	}
	results := via.SendBatch(ctx, b)
	defer results.Close()
	for _, r := range dups {
		err := results.QueryRow().Scan(&r.res.Seq, &r.res.EventID)
		r.res.Duplicate = r.res.EventID != r.ev.ID
		if errors.Is(err, pgx.ErrNoRows) {
			// It conflicted by id alone: the caller reused an event id.
			return fmt.Errorf("postgres: append: event id %s is taken by another event", r.ev.ID)
		}
		if err != nil {
			return fmt.Errorf("postgres: count duplicate: %w", err)
		}
	}
	return results.Close()
}

// text makes s storable in a text column, which takes neither NUL nor
// invalid UTF-8 (a header may carry either): such a string is kept quoted
// and escaped, so that two different ones stay different.
func text(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strconv.QuoteToASCII(s)
}
