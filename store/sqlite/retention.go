package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/hooklatch/hooklatch/store"
)

// Retention (see internal/retention).
//
// An event may go once every delivery of it is final: succeeded or
// discarded (dead only past the dead retention).
//
// Candidates are found by a reader, off the writer's path, walking the
// events in seq order from where the last batch stopped, up to the first
// event still within the retention (events are stored in the order they
// are received; one stored out of that order waits for those before it)
// or a bounded number of events. The writer then checks each candidate
// again (a requeue may have made one pending since) and prunes it with
// its deliveries and attempts, in transactions paced as the next section
// says (How retention is paced).
//
// The newest event is never pruned: a seq is one past the largest stored,
// and a seq used again would name two events over the store's life.
//
// A pruned event's keys stay in kept_keys until they age out, as two
// digests (migration 0013): 16 bytes of SHA-256 over its source and dedupe
// key, and over its source and body hash. The append statement inserts
// nothing when a digest of its event is kept, as a unique index does for a
// stored event, and the duplicate is answered with the pruned event's id
// (countDuplicate). Every process appending to the file runs that
// statement; an older build refuses the newer schema.

// pruneScanFactor bounds how many events one batch's reader looks at, in
// batches: past events that must be kept, the next batch goes on from
// there.
const pruneScanFactor = 16

// finalSQL holds for the events e all of whose deliveries are final; ?3 is
// the time before which a dead delivery is final too (0: never).
const finalSQL = `NOT EXISTS (SELECT 1 FROM deliveries d
             WHERE d.event_seq = e.seq
               AND d.status NOT IN ('succeeded', 'discarded') AND (d.status <> 'dead' OR e.received_at >= ?3))`

// pruneScanSQL walks the events after ?1 in seq order, saying of each
// whether it was received before ?2 and whether it is final.
const pruneScanSQL = `SELECT e.seq, e.received_at < ?2, ` + finalSQL + ` FROM events e
 WHERE e.seq > ?1 ORDER BY e.seq`

// victimsSQL returns those of the candidates in the JSON array ?1 that
// are still prunable (received before ?2, final, not the newest event),
// with what their keys are kept by.
const victimsSQL = `SELECT e.seq, e.id, e.received_at, e.source, e.dedupe_key, e.body_sha256 FROM events e
 WHERE e.seq IN (SELECT value FROM json_each(?1)) AND e.received_at < ?2
   AND e.seq < (SELECT MAX(seq) FROM events) AND ` + finalSQL

// keepKeysSQL keeps the keys of one pruned event.
const keepKeysSQL = `INSERT INTO kept_keys (seq, id, received_at, key_digest, body_digest) VALUES (?, ?, ?, ?, ?)`

// pruneAttemptsSQL deletes the attempts of the deliveries of the events in
// the JSON array ?1, through the indexes by event and by delivery;
// pruneEventsSQL deletes the events, and their deliveries with them.
var (
	pruneAttemptsSQL = `DELETE FROM attempts WHERE id IN (
SELECT a.id FROM json_each(?1) j JOIN deliveries d ON d.event_seq = j.value JOIN attempts a ON a.delivery_id = d.id)`
	pruneEventsSQL = `DELETE FROM events WHERE seq IN (SELECT value FROM json_each(?1))`
	// countPrunedEventsSQL and countPrunedDeliveriesSQL count what the
	// events about to be pruned take off the counters.
	countPrunedEventsSQL = `SELECT COUNT(*), COALESCE(SUM(duplicates), 0), COALESCE(SUM(attention != ''), 0)
  FROM events WHERE seq IN (SELECT value FROM json_each(?1))`
	countPrunedDeliveriesSQL = `SELECT d.destination, d.status, COUNT(*)
  FROM json_each(?1) j JOIN deliveries d ON d.event_seq = j.value GROUP BY d.destination, d.status`
	// pruneSubjectsSQL takes the events of the JSON array ?1, about to be
	// pruned, off their subjects' counts, each subject found by its first
	// event; a subject keeps a count of at least one while its first event
	// stays (its count can be short: events stored before the subjects
	// table were never counted). Once the events are gone,
	// dropSubjectsSQL deletes the subjects whose first event was pruned
	// and that have none left, and rekeySubjectsSQL moves the others' key
	// to their new first event.
	pruneSubjectsSQL = `UPDATE subjects SET events = max(events - g.n, 1)
  FROM (SELECT (` + firstEventSQL("e.source", "e.subject") + `) AS first, COUNT(*) AS n FROM events e
         WHERE e.seq IN (SELECT value FROM json_each(?1)) AND e.subject <> '' GROUP BY e.source, e.subject) g
 WHERE subjects.first_seq = g.first`
	dropSubjectsSQL = `DELETE FROM subjects WHERE first_seq IN (SELECT value FROM json_each(?1))
   AND NOT EXISTS (SELECT 1 FROM events INDEXED BY events_subject_seq WHERE subject = subjects.subject AND source = subjects.source)`
	rekeySubjectsSQL = `UPDATE subjects SET first_seq = (` + firstEventSQL("subjects.source", "subjects.subject") + `)
 WHERE first_seq IN (SELECT value FROM json_each(?1))`
	// pruneKeysSQL deletes the kept keys of events received before ?1
	// among the ?2 kept longest, in seq order: one kept out of that order
	// waits for those before it.
	pruneKeysSQL = `DELETE FROM kept_keys WHERE seq IN (
SELECT seq FROM (SELECT seq, received_at FROM kept_keys ORDER BY seq LIMIT ?2 + 0) WHERE received_at < ?1)` // + 0: see claimSQL
	// keptKeySQL finds the first pruned event a request matches.
	keptKeySQL = `SELECT seq, id FROM (
    SELECT seq, id FROM kept_keys WHERE key_digest = ?1
    UNION ALL
    SELECT seq, id FROM kept_keys WHERE body_digest = ?2)
 ORDER BY seq LIMIT 1`
)

// keptDigests returns what the keys of an event of source are kept by,
// and looked up by: 16 bytes of SHA-256 over the source and the dedupe
// key, and over the source and the body hash (nil when there is none).
// A source name holds no NUL.
func keptDigests(source, dedupeKey string, bodySum []byte) (key, body []byte) {
	h := sha256.New()
	digest := func(kind string, value []byte) []byte {
		h.Reset()
		h.Write([]byte(kind))
		h.Write([]byte(source))
		h.Write([]byte{0})
		h.Write(value)
		return h.Sum(nil)[:16]
	}
	key = digest("key", []byte(dedupeKey))
	if bodySum != nil {
		body = digest("body", bodySum)
	}
	return key, body
}

// Prune deletes up to limit events received before before whose
// deliveries are all final (succeeded or discarded; dead ones too when the
// event was received before deadBefore, never when deadBefore is zero),
// with their deliveries and attempts, keeping their dedupe keys; and up to
// limit kept keys of events received before keysBefore. It writes in the
// writer's spare time (see pacing), in transactions sized to hold the
// writer about pruneSlice each.
func (s *Store) Prune(ctx context.Context, before, deadBefore, keysBefore time.Time, limit int) (events, keys int64, err error) {
	if limit <= 0 {
		return 0, 0, errors.New("sqlite: prune: the batch size must be positive")
	}
	dead := int64(math.MinInt64) // every dead delivery is received after it: kept
	if !deadBefore.IsZero() {
		dead = unixNano(deadBefore)
	}
	s.pruneMu.Lock()
	defer s.pruneMu.Unlock()
	candidates, err := s.pruneCandidates(ctx, unixNano(before), dead, limit)
	if err != nil {
		return 0, 0, err
	}
	for len(candidates) > 0 {
		part := candidates[:min(s.pruneChunk.size, len(candidates))]
		candidates = candidates[len(part):]
		n, err := s.pruneWrite(ctx, func(ctx context.Context, tx *sql.Tx) (int64, error) {
			return s.pruneEvents(ctx, tx, part, unixNano(before), dead)
		})
		events += n
		if err != nil {
			return events, 0, err
		}
	}
	for keys < int64(limit) {
		part := min(s.pruneChunk.size, limit-int(keys))
		n, err := s.pruneWrite(ctx, func(ctx context.Context, tx *sql.Tx) (int64, error) {
			return s.pruneKeys(ctx, tx, unixNano(keysBefore), part)
		})
		keys += n
		if err != nil || n < int64(part) {
			return events, keys, err
		}
	}
	return events, keys, nil
}

// How retention is paced.
//
// Each of its writes waits for the writer's spare time: the writer runs
// it, in a transaction of its own, when no other write waits (or once
// it has waited maxSpareWait), and no sooner than its pace allows:
// spare writes take at most a tenth of the writer's time while the
// other writes keep it more than a quarter busy, half otherwise
// (sparePace, wal.go). And each is sized by the last: to hold the
// writer about pruneSlice (from the start of its transaction to its
// commit), and to append at most an eighth of MaxWALBytes to the log,
// so that the log stays within its bound (the writer rewinds it between
// two transactions). A store whose pages are not in memory prunes fewer
// rows at a time than one whose are.
const (
	pruneSlice    = 10 * time.Millisecond
	pruneWALShare = 8 // a transaction appends at most MaxWALBytes / pruneWALShare
	minPruneChunk = 8
	maxPruneChunk = 1000
)

// pruneChunk is how many rows the next retention transaction writes.
type pruneChunk struct{ size int }

// adapt sizes the next transaction by the last one, of n rows, which took
// took and appended frames frames to the log, of at most maxFrames. Time
// may halve the size at most (one slow commit says little); the log's
// frames may cut it further.
func (c *pruneChunk) adapt(n int, took time.Duration, frames, maxFrames int64) {
	if n < c.size { // a short one says little about the next
		return
	}
	next := 2 * c.size
	if took > 0 {
		next = min(next, max(c.size/2, int(int64(c.size)*int64(pruneSlice)/int64(took))))
	}
	if frames > 0 {
		next = min(next, int(int64(c.size)*maxFrames/frames))
	}
	c.size = max(minPruneChunk, min(maxPruneChunk, next))
}

// pruneWrite runs fn in a transaction of its own in the writer's spare
// time, and sizes the next by it.
func (s *Store) pruneWrite(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) (int64, error)) (int64, error) {
	// What fn sets is the writer's until it has answered: a write given
	// up on (ctx done) may still be running, so n is read only after a
	// nil error.
	var n int64
	r := &writeReq{fn: func(ctx context.Context, tx *sql.Tx) (err error) {
		n, err = fn(ctx, tx)
		return err
	}}
	if err := s.wait(ctx, r, func() error { return s.enqueueSpare(r) }); err != nil {
		return 0, err
	}
	s.pruneChunk.adapt(int(n), time.Since(r.started), r.frames, s.wal.limit/pruneWALShare)
	return n, nil
}

// pruneCandidates returns up to limit events that looked prunable to a
// reader, from where the last batch stopped.
func (s *Store) pruneCandidates(ctx context.Context, before, dead int64, limit int) ([]int64, error) {
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return nil, store.ErrClosed
	}
	rows, err := s.readDB.QueryContext(ctx, pruneScanSQL, s.pruneFrom, before, dead)
	if err != nil {
		return nil, fmt.Errorf("sqlite: find events to prune: %w", err)
	}
	defer rows.Close()
	var (
		out  []int64
		seen int
		next int64 // where the next batch starts; 0 starts a new pass
	)
	for rows.Next() {
		var (
			seq        int64
			old, final bool
		)
		if err := rows.Scan(&seq, &old, &final); err != nil {
			return nil, fmt.Errorf("sqlite: find events to prune: %w", err)
		}
		if !old {
			next = 0 // the rest are within the retention
			break
		}
		if final {
			out = append(out, seq)
		}
		if seen++; len(out) == limit || seen == pruneScanFactor*limit {
			next = seq
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: find events to prune: %w", err)
	}
	s.pruneFrom = next
	return out, nil
}

// pruneEvents prunes those of candidates that are still prunable, in the
// writer's transaction.
func (s *Store) pruneEvents(ctx context.Context, tx *sql.Tx, candidates []int64, before, dead int64) (int64, error) {
	victims, err := s.keepKeys(ctx, tx, candidates, before, dead)
	if err != nil || len(victims) == 0 {
		return 0, err
	}
	list := seqsJSON(victims)
	if _, err := s.execWriter(ctx, tx, pruneAttemptsSQL, list); err != nil {
		return 0, fmt.Errorf("sqlite: prune attempts: %w", err)
	}
	if err := s.uncountPruned(ctx, tx, list); err != nil {
		return 0, err
	}
	if _, err := s.execWriter(ctx, tx, pruneSubjectsSQL, list); err != nil {
		return 0, fmt.Errorf("sqlite: prune subjects: %w", err)
	}
	res, err := s.execWriter(ctx, tx, pruneEventsSQL, list)
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune events: %w", err)
	}
	for _, q := range []string{dropSubjectsSQL, rekeySubjectsSQL} {
		if _, err := s.execWriter(ctx, tx, q, list); err != nil {
			return 0, fmt.Errorf("sqlite: prune subjects: %w", err)
		}
	}
	return res.RowsAffected()
}

// uncountPruned takes the events of the JSON array list, about to be
// pruned, and their deliveries off the counters.
func (s *Store) uncountPruned(ctx context.Context, tx *sql.Tx, list string) error {
	var events, duplicates, attention int64
	rows, err := s.queryWriter(ctx, tx, countPrunedEventsSQL, list)
	if err == nil {
		err = scanOne(rows, &events, &duplicates, &attention)
	}
	if err != nil {
		return fmt.Errorf("sqlite: count pruned events: %w", err)
	}
	c := &s.counts
	c.events, c.duplicates, c.attention = c.events-events, c.duplicates-duplicates, c.attention-attention
	rows, err = s.queryWriter(ctx, tx, countPrunedDeliveriesSQL, list)
	if err == nil {
		err = c.leave(rows, "")
	}
	if err != nil {
		return fmt.Errorf("sqlite: count pruned deliveries: %w", err)
	}
	return nil
}

// keepKeys keeps the keys of those of candidates that are still
// prunable, and returns their seqs.
func (s *Store) keepKeys(ctx context.Context, tx *sql.Tx, candidates []int64, before, dead int64) ([]int64, error) {
	type kept struct {
		seq, at        int64
		id, source, dk string
		sum            []byte
	}
	rows, err := s.queryWriter(ctx, tx, victimsSQL, seqsJSON(candidates), before, dead)
	if err != nil {
		return nil, fmt.Errorf("sqlite: keep the keys of pruned events: %w", err)
	}
	var all []kept
	for rows.Next() {
		var k kept
		if err := rows.Scan(&k.seq, &k.id, &k.at, &k.source, &k.dk, &k.sum); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: keep the keys of pruned events: %w", err)
		}
		all = append(all, k)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("sqlite: keep the keys of pruned events: %w", err)
	}
	victims := make([]int64, 0, len(all))
	for _, k := range all {
		key, body := keptDigests(k.source, k.dk, k.sum)
		if _, err := s.execWriter(ctx, tx, keepKeysSQL, k.seq, k.id, k.at, key, body); err != nil {
			return nil, fmt.Errorf("sqlite: keep the keys of pruned events: %w", err)
		}
		victims = append(victims, k.seq)
	}
	return victims, nil
}

// pruneKeys deletes up to limit kept keys of events received before
// before.
func (s *Store) pruneKeys(ctx context.Context, tx *sql.Tx, before int64, limit int) (int64, error) {
	res, err := s.execWriter(ctx, tx, pruneKeysSQL, before, limit)
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune dedupe keys: %w", err)
	}
	return res.RowsAffected()
}

// countDuplicate answers r, which inserted nothing, with the first event
// it matches by dedupe key or by body: a stored one, whose duplicate is
// counted, or a pruned one whose keys are kept.
func (s *Store) countDuplicate(ctx context.Context, tx *sql.Tx, r *writeReq) error {
	ev := r.ev
	var (
		keptSeq = int64(math.MaxInt64)
		keptID  string
	)
	rows, err := s.queryWriter(ctx, tx, keptKeySQL, r.keyDigest, r.bodyDigest)
	if err == nil {
		err = scanOne(rows, &keptSeq, &keptID)
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: look up kept keys: %w", err)
	}
	rows, err = s.queryWriter(ctx, tx, countDuplicateSQL,
		unixNano(ev.ReceivedAt), ev.Source, ev.DedupeKey, r.bodySum[:], keptSeq)
	if err == nil {
		err = scanOne(rows, &r.res.Seq, &r.res.EventID)
	}
	if err == nil {
		s.counts.duplicates++
	}
	if errors.Is(err, sql.ErrNoRows) && keptID != "" {
		r.res.Seq, r.res.EventID = keptSeq, keptID
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlite: count duplicate: %w", err)
	}
	return nil
}

// seqsJSON returns seqs as a JSON array, for json_each.
func seqsJSON(seqs []int64) string {
	b := make([]byte, 0, 12*len(seqs)+2)
	b = append(b, '[')
	for i, seq := range seqs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, seq, 10)
	}
	return string(append(b, ']'))
}

// OldestEvent returns when the oldest stored event was received; ok is
// false when there is none.
func (s *Store) OldestEvent(ctx context.Context) (at time.Time, ok bool, err error) {
	var received int64
	err = s.readDB.QueryRowContext(ctx, `SELECT received_at FROM events ORDER BY seq LIMIT 1`).Scan(&received)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, false, nil
	case err != nil:
		return time.Time{}, false, fmt.Errorf("sqlite: oldest event: %w", err)
	}
	return fromUnixNano(received), true, nil
}

// keepPrunedKeys moves the keys kept in pruned_keys (migration 0008) to
// kept_keys as digests, and drops pruned_keys.
func keepPrunedKeys(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT seq, id, received_at, source, dedupe_key, body_sha256 FROM pruned_keys`)
	if err != nil {
		return err
	}
	type kept struct {
		seq, at        int64
		id, source, dk string
		sum            []byte
	}
	var all []kept
	for rows.Next() {
		var k kept
		if err := rows.Scan(&k.seq, &k.id, &k.at, &k.source, &k.dk, &k.sum); err != nil {
			rows.Close()
			return err
		}
		all = append(all, k)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, k := range all {
		key, body := keptDigests(k.source, k.dk, k.sum)
		if _, err := tx.ExecContext(ctx, keepKeysSQL, k.seq, k.id, k.at, key, body); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, `DROP TABLE pruned_keys`)
	return err
}
