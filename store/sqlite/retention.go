package sqlite

import (
	"context"
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
// its deliveries and attempts in a transaction of at most one batch.
//
// The newest event is never pruned: a seq is one past the largest stored,
// and a seq used again would name two events over the store's life.
//
// A pruned event's keys stay in pruned_keys until they age out. While
// there are any, a trigger makes an insert that matches one insert
// nothing, as a unique index does for a stored event, and the duplicate
// is answered with the pruned event's id (countDuplicate). The trigger is
// part of the schema, so every process appending to the file obeys it,
// and a store that has no kept keys has no trigger: its appends pay
// nothing for retention.

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

// keepKeysSQL copies the keys of the candidates in the JSON array ?1 that
// are still prunable (received before ?2, final, not the newest event)
// into pruned_keys, and returns their seqs.
const keepKeysSQL = `INSERT INTO pruned_keys (seq, id, source, dedupe_key, body_sha256, received_at)
SELECT e.seq, e.id, e.source, e.dedupe_key, e.body_sha256, e.received_at FROM events e
 WHERE e.seq IN (SELECT value FROM json_each(?1)) AND e.received_at < ?2
   AND e.seq < (SELECT MAX(seq) FROM events) AND ` + finalSQL + `
RETURNING seq`

// pruneAttemptsSQL deletes the attempts of the deliveries of the events in
// the JSON array ?1, through the indexes by event and by delivery;
// pruneEventsSQL deletes the events, and their deliveries with them.
const (
	pruneAttemptsSQL = `DELETE FROM attempts WHERE id IN (
SELECT a.id FROM json_each(?1) j JOIN deliveries d ON d.event_seq = j.value JOIN attempts a ON a.delivery_id = d.id)`
	pruneEventsSQL = `DELETE FROM events WHERE seq IN (SELECT value FROM json_each(?1))`
	// countPrunedEventsSQL and countPrunedDeliveriesSQL count what the
	// events about to be pruned take off the counters.
	countPrunedEventsSQL = `SELECT COUNT(*), COALESCE(SUM(duplicates), 0), COALESCE(SUM(attention != ''), 0)
  FROM events WHERE seq IN (SELECT value FROM json_each(?1))`
	countPrunedDeliveriesSQL = `SELECT d.destination, d.status, COUNT(*)
  FROM json_each(?1) j JOIN deliveries d ON d.event_seq = j.value GROUP BY d.destination, d.status`
	pruneKeysSQL = `DELETE FROM pruned_keys WHERE seq IN (
SELECT seq FROM pruned_keys WHERE received_at < ?1 ORDER BY received_at LIMIT ?2)`
	anyKeysSQL = `SELECT EXISTS (SELECT 1 FROM pruned_keys)`
	// keptKeySQL finds the first pruned event a request matches.
	keptKeySQL = `SELECT seq, id FROM (
    SELECT seq, id FROM pruned_keys WHERE dedupe_key = ?2 AND source = ?1
    UNION ALL
    SELECT seq, id FROM pruned_keys WHERE body_sha256 = ?3 AND source = ?1)
 ORDER BY seq LIMIT 1`
)

// keptKeysTrigger refuses, silently, an event whose keys are a pruned
// event's: the append then answers it as a duplicate.
const (
	keptKeysTrigger = `CREATE TRIGGER IF NOT EXISTS events_kept_keys BEFORE INSERT ON events
WHEN EXISTS (SELECT 1 FROM pruned_keys p WHERE p.dedupe_key = NEW.dedupe_key AND p.source = NEW.source)
  OR EXISTS (SELECT 1 FROM pruned_keys p WHERE p.body_sha256 = NEW.body_sha256 AND p.source = NEW.source)
BEGIN SELECT RAISE(IGNORE); END`
	dropKeptKeysTrigger = `DROP TRIGGER IF EXISTS events_kept_keys`
)

// Prune deletes up to limit events received before before whose
// deliveries are all final (succeeded or discarded; dead ones too when the
// event was received before deadBefore, never when deadBefore is zero),
// with their deliveries and attempts, keeping their dedupe keys; and up to
// limit kept keys of events received before keysBefore. Each of the two
// is one short write transaction: callers prune in small batches.
func (s *Store) Prune(ctx context.Context, before, deadBefore, keysBefore time.Time, limit int) (events, keys int64, err error) {
	if limit <= 0 {
		return 0, 0, errors.New("sqlite: prune: the batch size must be positive")
	}
	dead := int64(math.MinInt64) // every dead delivery is received after it: kept
	if !deadBefore.IsZero() {
		dead = unixNano(deadBefore)
	}
	candidates, err := s.pruneCandidates(ctx, unixNano(before), dead, limit)
	if err != nil {
		return 0, 0, err
	}
	// What the closures set is the writer's until it has answered: a
	// write given up on (ctx done) may still be running, so they set
	// variables of their own, read only after a nil error.
	var pruned, kept int64
	if len(candidates) > 0 {
		err = s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
			n, err := s.pruneEvents(ctx, tx, candidates, unixNano(before), dead)
			pruned = n
			return err
		})
		if err != nil {
			return 0, 0, err
		}
	}
	err = s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n, err := s.pruneKeys(ctx, tx, unixNano(keysBefore), limit)
		kept = n
		return err
	})
	if err != nil {
		return pruned, 0, err
	}
	return pruned, kept, nil
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
	s.pruneMu.Lock()
	defer s.pruneMu.Unlock()
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
	rows, err := s.queryWriter(ctx, tx, keepKeysSQL, seqsJSON(candidates), before, dead)
	if err != nil {
		return 0, fmt.Errorf("sqlite: keep the keys of pruned events: %w", err)
	}
	var victims []int64
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			rows.Close()
			return 0, fmt.Errorf("sqlite: keep the keys of pruned events: %w", err)
		}
		victims = append(victims, seq)
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("sqlite: keep the keys of pruned events: %w", err)
	}
	if len(victims) == 0 {
		return 0, nil
	}
	list := seqsJSON(victims)
	if _, err := s.execWriter(ctx, tx, pruneAttemptsSQL, list); err != nil {
		return 0, fmt.Errorf("sqlite: prune attempts: %w", err)
	}
	if err := s.uncountPruned(ctx, tx, list); err != nil {
		return 0, err
	}
	res, err := s.execWriter(ctx, tx, pruneEventsSQL, list)
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune events: %w", err)
	}
	if _, err := tx.ExecContext(ctx, keptKeysTrigger); err != nil {
		return 0, fmt.Errorf("sqlite: guard the kept keys: %w", err)
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
	if err != nil {
		return fmt.Errorf("sqlite: count pruned deliveries: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			destination, status string
			n                   int64
		)
		if err := rows.Scan(&destination, &status, &n); err != nil {
			return fmt.Errorf("sqlite: count pruned deliveries: %w", err)
		}
		c.add(destination, status, -n)
	}
	return rows.Close()
}

// pruneKeys deletes up to limit kept keys of events received before
// before, and the trigger that reads them once there are none left.
func (s *Store) pruneKeys(ctx context.Context, tx *sql.Tx, before int64, limit int) (int64, error) {
	res, err := s.execWriter(ctx, tx, pruneKeysSQL, before, limit)
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune dedupe keys: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		return n, err
	}
	var left bool
	if err := tx.QueryRowContext(ctx, anyKeysSQL).Scan(&left); err != nil {
		return n, fmt.Errorf("sqlite: prune dedupe keys: %w", err)
	}
	if !left {
		if _, err := tx.ExecContext(ctx, dropKeptKeysTrigger); err != nil {
			return n, fmt.Errorf("sqlite: prune dedupe keys: %w", err)
		}
	}
	return n, nil
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
	rows, err := s.queryWriter(ctx, tx, keptKeySQL, ev.Source, ev.DedupeKey, r.bodySum[:])
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
