package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hooklatch/hooklatch/store"
)

const deliveryColumns = `id, event_seq, event_id, destination, status, attempts, next_attempt_at,
	lease_owner, lease_until, last_error, created_at, updated_at`

func scanDelivery(row scanner) (store.Delivery, error) {
	var (
		d                         store.Delivery
		next, lease, created, upd int64
	)
	err := row.Scan(&d.ID, &d.EventSeq, &d.EventID, &d.Destination, &d.Status, &d.Attempts, &next,
		&d.LeaseOwner, &lease, &d.LastError, &created, &upd)
	d.NextAttemptAt, d.LeaseUntil = fromUnixNano(next), fromUnixNano(lease)
	d.CreatedAt, d.UpdatedAt = fromUnixNano(created), fromUnixNano(upd)
	return d, err
}

const (
	// insertAttemptSQL numbers the attempt after the delivery's last one:
	// across its whole life, whatever budget a retry or replay gave it.
	insertAttemptSQL = `
INSERT INTO attempts (delivery_id, attempt, started_at, duration_ns, outcome, status_code, error, response)
VALUES (?1, COALESCE((SELECT MAX(attempt) FROM attempts WHERE delivery_id = ?1), 0) + 1, ?2, ?3, ?4, ?5, ?6, ?7)`
	completeSQL = `
UPDATE deliveries SET status = ?, attempts = attempts + ?, next_attempt_at = ?, lease_owner = '', lease_until = 0,
       last_error = ?, updated_at = ?
 WHERE id = ? AND status = 'in_flight' AND lease_owner = ?`
)

// The dispatcher's statements. Each names its partial index: without
// statistics SQLite prefers deliveries_status, and then every claim and
// every NextDue scans and sorts all pending deliveries, so a backlog of
// N deliveries costs O(N) per claim. INDEXED BY also makes a statement
// fail, rather than slow down, should the index ever stop fitting it.
var (
	// expiredAttemptsSQL records the attempt lost with each expired lease.
	expiredAttemptsSQL = `
INSERT INTO attempts (delivery_id, attempt, started_at, duration_ns, outcome, error)
SELECT id, COALESCE((SELECT MAX(attempt) FROM attempts WHERE delivery_id = deliveries.id), 0) + 1, updated_at, ? - updated_at, 'lease_expired', 'the worker holding the lease stopped before recording an outcome'
  FROM deliveries INDEXED BY deliveries_in_flight WHERE status = 'in_flight' AND lease_until <= ?`
	// releaseExpiredSQL makes deliveries with expired leases pending; one
	// released before its lease ends is due at once.
	releaseExpiredSQL = `
UPDATE deliveries INDEXED BY deliveries_in_flight
   SET status = 'pending', attempts = attempts + 1, lease_owner = '', lease_until = 0,
       last_error = 'lease expired', next_attempt_at = MIN(lease_until, ?), updated_at = ?
 WHERE status = 'in_flight' AND lease_until <= ?`
	// claimSQL leases the deliveries due first.
	claimSQL = `
UPDATE deliveries SET status = 'in_flight', lease_owner = ?, lease_until = ?, updated_at = ?
 WHERE id IN (SELECT id FROM deliveries INDEXED BY deliveries_pending
               WHERE status = 'pending' AND next_attempt_at <= ?
               ORDER BY next_attempt_at, id LIMIT ?)
RETURNING ` + deliveryColumns
	// nextDueSQL finds when the dispatcher next has work.
	nextDueSQL = `
SELECT MIN(t) FROM (
    SELECT MIN(next_attempt_at) AS t FROM deliveries INDEXED BY deliveries_pending WHERE status = 'pending'
    UNION ALL
    SELECT MIN(lease_until) FROM deliveries INDEXED BY deliveries_in_flight WHERE status = 'in_flight')`
)

// Claim implements store.Store.
func (s *Store) Claim(ctx context.Context, p store.ClaimParams) ([]store.Claim, error) {
	if p.Owner == "" || p.Lease <= 0 {
		return nil, errors.New("sqlite: claim needs an owner and a lease")
	}
	if p.Limit <= 0 {
		p.Limit = 100
	}
	now := unixNano(p.Now)
	var claims []store.Claim
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		claims = claims[:0]
		if _, err := s.releaseLeases(ctx, tx, p.Now, now); err != nil {
			return err
		}
		// Before the rows are claimed, the cursors' lost first attempts
		// become rows: those whose lease expired here, and the windows
		// other stores left behind.
		if err := s.syncCursors(ctx, tx); err != nil {
			return err
		}
		for _, c := range s.cursorsInTx() {
			if err := s.expireWindow(ctx, tx, c, now); err != nil {
				return err
			}
			if _, _, err := s.claimFrom(ctx, tx, c, now); err != nil {
				return err
			}
		}
		rows, err := s.queryWriter(ctx, tx, claimSQL, p.Owner, unixNano(p.Now.Add(p.Lease)), now, now, p.Limit)
		if err != nil {
			return fmt.Errorf("sqlite: claim: %w", err)
		}
		for rows.Next() {
			d, err := scanDelivery(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: claim: %w", err)
			}
			claims = append(claims, store.Claim{Delivery: d})
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("sqlite: claim: %w", err)
		}
		if len(claims) < p.Limit {
			first, err := s.claimCursors(ctx, tx, p, p.Limit-len(claims))
			if err != nil {
				return err
			}
			claims = append(claims, first...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The events are read once the claim has committed, off the writer
	// that every append waits for.
	if err := s.loadClaimed(ctx, claims); err != nil {
		return nil, err
	}
	// Oldest due first (the UPDATE's RETURNING order is not guaranteed).
	slices.SortFunc(claims, func(a, b store.Claim) int {
		if c := a.Delivery.NextAttemptAt.Compare(b.Delivery.NextAttemptAt); c != 0 {
			return c
		}
		return cmp.Compare(a.Delivery.ID, b.Delivery.ID)
	})
	return claims, nil
}

// loadClaimed reads the claimed deliveries' events, with their bodies.
// A cursor claims runs of consecutive events: those are read as a range,
// through one statement prepared once, and scattered ones by their seqs.
func (s *Store) loadClaimed(ctx context.Context, claims []store.Claim) error {
	if len(claims) == 0 {
		return nil
	}
	bySeq := make(map[int64][]int, len(claims))
	lo, hi := claims[0].Delivery.EventSeq, claims[0].Delivery.EventSeq
	for i, c := range claims {
		seq := c.Delivery.EventSeq
		bySeq[seq] = append(bySeq[seq], i)
		lo, hi = min(lo, seq), max(hi, seq)
	}
	keep := func(rows *sql.Rows) error {
		defer rows.Close()
		for rows.Next() {
			ev, err := scanEvent(rows, true)
			if err != nil {
				return err
			}
			for _, i := range bySeq[ev.Seq] {
				claims[i].Event = ev
			}
		}
		return rows.Close()
	}
	if hi-lo < int64(2*len(bySeq)) {
		rows, err := s.eventRangeStmt.QueryContext(ctx, lo, hi)
		if err == nil {
			err = keep(rows)
		}
		if err != nil {
			return fmt.Errorf("sqlite: read claimed events: %w", err)
		}
	} else {
		seqs := make([]any, 0, len(bySeq))
		for seq := range bySeq {
			seqs = append(seqs, seq)
		}
		for chunk := range slices.Chunk(seqs, 500) {
			rows, err := s.readDB.QueryContext(ctx, `SELECT `+eventColumns+`, body FROM events WHERE seq IN (`+placeholders(len(chunk))+`)`, chunk...)
			if err == nil {
				err = keep(rows)
			}
			if err != nil {
				return fmt.Errorf("sqlite: read claimed events: %w", err)
			}
		}
	}
	for _, c := range claims {
		if c.Event == nil {
			return fmt.Errorf("sqlite: claimed delivery %d: event %d not found", c.Delivery.ID, c.Delivery.EventSeq)
		}
	}
	return nil
}

// writerStmt returns q for tx, prepared once when the store opened if it
// is one of writerStatements: preparing costs more than running most of
// the writer's statements. Writer goroutine only.
func (s *Store) writerStmt(ctx context.Context, tx *sql.Tx, q string) (*sql.Stmt, error) {
	if stmt, ok := s.stmts[q]; ok {
		return tx.StmtContext(ctx, stmt), nil
	}
	// The writer's one connection is tx's: only tx can prepare.
	return tx.PrepareContext(ctx, q)
}

// writerStatements are prepared on the writer's connection at Open.
var writerStatements = append([]string{
	claimSQL, expiredAttemptsSQL, releaseExpiredSQL,
	cursorClaimSQL, maxSeqSQL, cursorCountSQL, readCursorSQL, claimedToSQL, watermarkSQL, namedSQL, uncountPrunedSQL,
	countDuplicateSQL, keptKeySQL, victimsSQL, keepKeysSQL, pruneAttemptsSQL, pruneEventsSQL, pruneKeysSQL,
}, func() (qs []string) {
	for _, n := range attemptRows {
		qs = append(qs, insertAttemptsSQL(n))
	}
	return qs
}()...)

// execWriter runs q, prepared once, in tx.
func (s *Store) execWriter(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	stmt, err := s.writerStmt(ctx, tx, q)
	if err != nil {
		return nil, err
	}
	return stmt.ExecContext(ctx, args...)
}

// queryWriter runs query q, prepared once, in tx.
func (s *Store) queryWriter(ctx context.Context, tx *sql.Tx, q string, args ...any) (*sql.Rows, error) {
	stmt, err := s.writerStmt(ctx, tx, q)
	if err != nil {
		return nil, err
	}
	return stmt.QueryContext(ctx, args...)
}

// releaseLeases makes the deliveries whose lease ends by until pending
// again: their worker died mid-attempt. The attempt happened (it may even
// have been delivered), so it is recorded and counted.
func (s *Store) releaseLeases(ctx context.Context, tx *sql.Tx, now time.Time, until int64) (int64, error) {
	at := unixNano(now)
	if _, err := s.execWriter(ctx, tx, expiredAttemptsSQL, at, until); err != nil {
		return 0, fmt.Errorf("sqlite: record lost attempts: %w", err)
	}
	res, err := s.execWriter(ctx, tx, releaseExpiredSQL, at, at, until)
	if err != nil {
		return 0, fmt.Errorf("sqlite: release leases: %w", err)
	}
	return res.RowsAffected()
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// Complete implements store.Store.
func (s *Store) Complete(ctx context.Context, c store.Completion) error {
	switch c.Status {
	case store.DeliveryPending, store.DeliverySucceeded, store.DeliveryDead:
	default:
		return fmt.Errorf("sqlite: complete: status %q", c.Status)
	}
	a := c.Attempt
	spend := 0
	if c.SpendAttempt {
		spend = 1
	}
	lost := false
	r := &writeReq{fn: func(ctx context.Context, tx *sql.Tx) error {
		lost = false
		if first, err := s.completeFirst(ctx, tx, c); first || err != nil {
			return err
		}
		if _, err := tx.StmtContext(ctx, s.attemptStmt).ExecContext(ctx, c.DeliveryID, unixNano(a.StartedAt), int64(a.Duration), a.Outcome,
			a.StatusCode, a.Error, a.Response); err != nil {
			return fmt.Errorf("sqlite: record attempt: %w", err)
		}
		res, err := tx.StmtContext(ctx, s.completeStmt).ExecContext(ctx,
			c.Status, spend, unixNano(c.NextAttemptAt), a.Error, unixNano(c.Now), c.DeliveryID, c.Owner)
		if err != nil {
			return fmt.Errorf("sqlite: complete: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		lost = n == 0
		return nil
	}}
	if c.Status == store.DeliverySucceeded {
		// Most likely a first attempt from a cursor: the writer records
		// those of one batch in one statement (firstSuccesses).
		r.success = &c
	}
	if err := s.write(ctx, r); err != nil {
		return err
	}
	if lost {
		return store.ErrLeaseLost
	}
	return nil
}

// NextDue implements store.Store.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var at sql.NullInt64
	err := s.readDB.QueryRowContext(ctx, nextDueSQL).Scan(&at)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("sqlite: next due: %w", err)
	}
	first, ok, err := s.nextDueCursors(ctx)
	if err != nil {
		return time.Time{}, false, err
	}
	switch {
	case ok && (!at.Valid || first < at.Int64):
		return time.Unix(0, first).UTC(), true, nil
	case at.Valid:
		return time.Unix(0, at.Int64).UTC(), true, nil
	}
	return time.Time{}, false, nil
}

// ListDeliveries implements store.Store. It merges the deliveries that
// have rows with those that exist only as a bit and a cursor position.
func (s *Store) ListDeliveries(ctx context.Context, f store.DeliveryFilter) ([]store.Delivery, error) {
	var (
		where, vwhere []string
		args, vargs   []any
	)
	if f.EventID != "" {
		// By the event's seq, which the (event_seq, destination) index
		// covers: event_id has no index of its own.
		where, args = append(where, byEventSeq+" = ?)"), append(args, f.EventID)
		vwhere, vargs = append(vwhere, "e.seq = (SELECT seq FROM events WHERE id = ?)"), append(vargs, f.EventID)
	}
	virtual := true
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, f.Status)
		var cond string
		cond, virtual = virtualRange([]string{f.Status})
		vwhere = append(vwhere, cond)
	}
	if f.Destination != "" {
		where, args = append(where, "destination = ?"), append(args, f.Destination)
		vwhere, vargs = append(vwhere, "c.destination = ?"), append(vargs, f.Destination)
	}
	if f.AfterID > 0 {
		where, args = append(where, "id > ?"), append(args, f.AfterID)
		vwhere, vargs = append(vwhere, "e.seq >= ?"), append(vargs, f.AfterID>>6)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000)
	q := `SELECT ` + deliveryColumns + ` FROM deliveries`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id LIMIT " + strconv.Itoa(limit)
	out, err := s.listDeliveries(ctx, q, args)
	if err != nil || !virtual {
		return out, err
	}
	vwhere = append(vwhere, "true")
	vq := `SELECT ` + deliveryColumns + ` FROM (` + virtualDeliveries(strings.Join(vwhere, " AND ")) + `) WHERE true`
	if f.Status != "" {
		vq, vargs = vq+" AND status = ?", append(vargs, f.Status)
	}
	if f.AfterID > 0 {
		vq, vargs = vq+" AND id > ?", append(vargs, f.AfterID)
	}
	vq += " ORDER BY id LIMIT " + strconv.Itoa(limit)
	vs, err := s.listDeliveries(ctx, vq, vargs)
	if err != nil {
		return nil, err
	}
	s.overlayWindow(vs)
	out = append(out, vs...)
	slices.SortFunc(out, func(a, b store.Delivery) int { return cmp.Compare(a.ID, b.ID) })
	return out[:min(len(out), limit)], nil
}

func (s *Store) listDeliveries(ctx context.Context, q string, args []any) ([]store.Delivery, error) {
	rows, err := s.readDB.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list deliveries: %w", err)
	}
	defer rows.Close()
	var out []store.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list deliveries: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ListAttempts implements store.Store.
func (s *Store) ListAttempts(ctx context.Context, deliveryID int64) ([]store.Attempt, error) {
	rows, err := s.readDB.QueryContext(ctx, `
SELECT id, delivery_id, attempt, started_at, duration_ns, outcome, status_code, error, response
  FROM attempts WHERE delivery_id = ? ORDER BY id`, deliveryID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list attempts: %w", err)
	}
	defer rows.Close()
	var out []store.Attempt
	for rows.Next() {
		var (
			a        store.Attempt
			started  int64
			duration int64
		)
		if err := rows.Scan(&a.ID, &a.DeliveryID, &a.Attempt, &started, &duration, &a.Outcome, &a.StatusCode, &a.Error, &a.Response); err != nil {
			return nil, fmt.Errorf("sqlite: list attempts: %w", err)
		}
		a.StartedAt, a.Duration = fromUnixNano(started), time.Duration(duration)
		out = append(out, a)
	}
	return out, rows.Err()
}

// selection turns a selector into a WHERE clause.
// byEventSeq starts a condition on deliveries by event id that goes
// through the event's seq, so that it uses the (event_seq, destination)
// index instead of scanning every delivery.
const byEventSeq = "event_seq IN (SELECT seq FROM events WHERE id"

func selection(sel store.DeliverySelector) (string, []any, error) {
	if len(sel.IDs) == 0 && len(sel.EventIDs) == 0 && len(sel.Statuses) == 0 {
		return "", nil, store.ErrNoSelection
	}
	var (
		where []string
		args  []any
	)
	if len(sel.IDs) > 0 {
		where = append(where, "id IN ("+placeholders(len(sel.IDs))+")")
		for _, id := range sel.IDs {
			args = append(args, id)
		}
	}
	if len(sel.EventIDs) > 0 {
		where = append(where, byEventSeq+" IN ("+placeholders(len(sel.EventIDs))+"))")
		for _, id := range sel.EventIDs {
			args = append(args, id)
		}
	}
	if len(sel.Statuses) > 0 {
		where = append(where, "status IN ("+placeholders(len(sel.Statuses))+")")
		for _, st := range sel.Statuses {
			args = append(args, st)
		}
	}
	if sel.Destination != "" {
		where, args = append(where, "destination = ?"), append(args, sel.Destination)
	}
	return strings.Join(where, " AND "), args, nil
}

// Requeue implements store.Store. A delivery without a row that is not
// in flight gets one, pending.
func (s *Store) Requeue(ctx context.Context, sel store.DeliverySelector, now time.Time) (int, error) {
	where, args, err := selection(sel)
	if err != nil {
		return 0, err
	}
	at := unixNano(now)
	return s.updateAll(ctx, []statement{
		{`UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, updated_at = ?
 WHERE status != 'in_flight' AND ` + where, append([]any{at, at}, args...)},
		materialize(sel, "pending", []string{store.DeliveryPending, store.DeliverySucceeded}, where, args, at),
	})
}

type statement struct {
	q    string
	args []any
}

// materialize gives the selected deliveries without a row, of the given
// statuses, a row in status.
func materialize(sel store.DeliverySelector, status string, statuses []string, where string, args []any, at int64) statement {
	if len(sel.Statuses) > 0 {
		statuses = slices.DeleteFunc(slices.Clone(statuses), func(st string) bool { return !slices.Contains(sel.Statuses, st) })
	}
	vrange, ok := virtualRange(statuses)
	if !ok || len(statuses) == 0 {
		return statement{}
	}
	in := make([]any, 0, len(statuses))
	for _, st := range statuses {
		in = append(in, st)
	}
	return statement{`INSERT INTO deliveries (id, event_seq, event_id, destination, status, attempts, next_attempt_at, created_at, updated_at)
SELECT id, event_seq, event_id, destination, ?, 0, ?, created_at, ? FROM (` + virtualDeliveries(vrange) + `)
 WHERE status IN (` + placeholders(len(in)) + `) AND ` + where,
		append(append([]any{status, at, at}, in...), args...)}
}

// updateAll runs the statements in one transaction and returns how many
// rows they changed in all.
func (s *Store) updateAll(ctx context.Context, stmts []statement) (int, error) {
	var n int64
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n = 0
		for _, st := range stmts {
			if st.q == "" {
				continue
			}
			res, err := tx.ExecContext(ctx, st.q, st.args...)
			if err != nil {
				return fmt.Errorf("sqlite: %w", err)
			}
			changed, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += changed
		}
		return nil
	})
	if err != nil {
		return 0, err // n is the writer's until it has answered
	}
	return int(n), nil
}

// AddDeliveries implements store.Store.
func (s *Store) AddDeliveries(ctx context.Context, eventIDs []string, destination string, now time.Time) (int, error) {
	if destination == "" {
		return 0, errors.New("sqlite: AddDeliveries: empty destination")
	}
	if len(eventIDs) == 0 {
		return 0, store.ErrNoSelection
	}
	created := 0
	for chunk := range slices.Chunk(eventIDs, 500) {
		var added int64
		err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
			c, err := s.cursorFor(ctx, tx, destination)
			if err != nil {
				return err
			}
			args := []any{c.bit, destination, unixNano(now), unixNano(now), unixNano(now), c.bit}
			for _, id := range chunk {
				args = append(args, id)
			}
			// An event that names the destination has its delivery already,
			// row or not. "WHERE true" tells SQLite's parser that ON CONFLICT
			// belongs to the INSERT, not to a join in the SELECT.
			res, err := tx.ExecContext(ctx, `INSERT INTO deliveries (id, event_seq, event_id, destination, status, next_attempt_at, created_at, updated_at)
SELECT (seq << 6) | ?, seq, id, ?, 'pending', ?, ?, ? FROM events
 WHERE (dest_mask >> ?) & 1 = 0 AND id IN (`+placeholders(len(chunk))+`) AND true
ON CONFLICT DO NOTHING`, args...)
			if err != nil {
				return fmt.Errorf("sqlite: add deliveries: %w", err)
			}
			added, err = res.RowsAffected()
			return err
		})
		if err != nil {
			// added is the writer's until it has answered.
			return created, err
		}
		created += int(added)
	}
	return created, nil
}

// Discard implements store.Store.
func (s *Store) Discard(ctx context.Context, sel store.DeliverySelector, now time.Time) (int, error) {
	where, args, err := selection(sel)
	if err != nil {
		return 0, err
	}
	at := unixNano(now)
	return s.updateAll(ctx, []statement{
		{`UPDATE deliveries SET status = 'discarded', updated_at = ?
 WHERE status IN ('pending', 'dead') AND ` + where, append([]any{at}, args...)},
		materialize(sel, "discarded", []string{store.DeliveryPending}, where, args, at),
	})
}
