package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hooklatch/hooklatch/store"
)

const deliveryColumns = `id, event_seq, event_id, destination, status, attempts, next_attempt_at,
	lease_owner, lease_until, last_error, created_at, updated_at`

// scanDelivery reads deliveryColumns, then into more the columns that
// follow them.
func scanDelivery(row scanner, more ...any) (store.Delivery, error) {
	var (
		d                         store.Delivery
		next, lease, created, upd int64
	)
	err := row.Scan(append([]any{&d.ID, &d.EventSeq, &d.EventID, &d.Destination, &d.Status, &d.Attempts, &next,
		&d.LeaseOwner, &lease, &d.LastError, &created, &upd}, more...)...)
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
)

// The dispatcher's statements. Each names its partial index: without
// statistics SQLite might prefer another index, and then every claim and
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
 WHERE status = 'in_flight' AND lease_until <= ?
RETURNING destination`
	// claimSQL leases the deliveries due first.
	//
	// The claims' LIMITs are expressions (? + 0), never a bare parameter:
	// SQLite reads a bare bound LIMIT while it plans the statement, and
	// then prepares it again whenever that parameter is bound to another
	// value, which the dispatcher does at nearly every claim: parsing
	// took a tenth of serve's CPU at 2,000 webhooks/s, on the writer that
	// every acknowledgement waits for (BenchmarkClaim shows it).
	claimSQL = `
UPDATE deliveries SET status = 'in_flight', lease_owner = ?, lease_until = ?, updated_at = ?
 WHERE id IN (SELECT id FROM deliveries INDEXED BY deliveries_pending
               WHERE status = 'pending' AND held = 0 AND next_attempt_at <= ?
               ORDER BY next_attempt_at, id LIMIT ? + 0)
RETURNING ` + deliveryColumns + `,
          (SELECT COALESCE(MAX(attempt), 0) FROM attempts WHERE delivery_id = deliveries.id)`
	// claimSomeSQL is claimSQL for the destinations named (claimSomeSQL
	// takes the statement for n of them), each walked through its own
	// index range, so that a paused destination's backlog costs the claim
	// nothing, and each taking up to its own limit (its room under a
	// concurrency bound, else the claim's).
	claimSomeHead = `
UPDATE deliveries SET status = 'in_flight', lease_owner = ?1, lease_until = ?2, updated_at = ?3
 WHERE id IN (SELECT id FROM (`
	claimSomeArm = `SELECT * FROM (SELECT id, next_attempt_at FROM deliveries INDEXED BY deliveries_pending_destination
               WHERE destination = ?%d AND status = 'pending' AND held = 0 AND next_attempt_at <= ?3
               ORDER BY next_attempt_at LIMIT ?%d + 0)`
	claimSomeTail = `) ORDER BY next_attempt_at, id LIMIT ?4 + 0)
RETURNING ` + deliveryColumns + `,
          (SELECT COALESCE(MAX(attempt), 0) FROM attempts WHERE delivery_id = deliveries.id)`
	// inFlightToSQL counts a destination's deliveries in flight.
	inFlightToSQL = `SELECT COUNT(*) FROM deliveries INDEXED BY deliveries_in_flight
 WHERE status = 'in_flight' AND lease_until > ? AND destination = ?`
	// nextDueSQL finds when the dispatcher next has work.
	nextDueSQL = `
SELECT MIN(t) FROM (
    SELECT MIN(next_attempt_at) AS t FROM deliveries INDEXED BY deliveries_pending WHERE status = 'pending' AND held = 0
    UNION ALL
    SELECT MIN(lease_until) FROM deliveries INDEXED BY deliveries_in_flight WHERE status = 'in_flight')`
)

// claimSomeStmt returns claimSomeSQL(n) prepared on the writer's
// connection. It is prepared on first use, outside the writer's
// transaction (a statement prepared in one lasts only as long as it), and
// kept: there is one for each number of destinations a claim has named.
func (s *Store) claimSomeStmt(ctx context.Context, n int) (*sql.Stmt, error) {
	s.claimSomeMu.Lock()
	defer s.claimSomeMu.Unlock()
	if stmt, ok := s.claimSome[n]; ok {
		return stmt, nil
	}
	stmt, err := s.writeDB.PrepareContext(ctx, claimSomeSQL(n))
	if err != nil {
		return nil, fmt.Errorf("sqlite: prepare claim: %w", err)
	}
	if s.claimSome == nil {
		s.claimSome = map[int]*sql.Stmt{}
	}
	s.claimSome[n] = stmt
	return stmt, nil
}

// claimSomeSQL is the claim of the deliveries to n destinations, bound
// after claimSQL's owner, lease end, now and limit, each destination
// followed by its own limit.
func claimSomeSQL(n int) string {
	var b strings.Builder
	b.WriteString(claimSomeHead)
	for i := range n {
		if i > 0 {
			b.WriteString("\n UNION ALL ")
		}
		fmt.Fprintf(&b, claimSomeArm, 5+2*i, 6+2*i)
	}
	b.WriteString(claimSomeTail)
	return b.String()
}

// Claim implements store.Store.
func (s *Store) Claim(ctx context.Context, p store.ClaimParams) ([]store.Claim, error) {
	if p.Owner == "" || p.Lease <= 0 {
		return nil, errors.New("sqlite: claim needs an owner and a lease")
	}
	if p.Limit <= 0 {
		p.Limit = 100
	}
	now := unixNano(p.Now)
	var some *sql.Stmt
	if len(p.Destinations) > 0 {
		var err error
		if some, err = s.claimSomeStmt(ctx, len(p.Destinations)); err != nil {
			return nil, err
		}
	}
	var claims []store.Claim
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		claims = claims[:0]
		if _, err := s.releaseLeases(ctx, tx, p.Now, now); err != nil {
			return err
		}
		if p.Destinations != nil && len(p.Destinations) == 0 {
			return nil // every destination paused
		}
		var (
			rows *sql.Rows
			err  error
		)
		if p.Destinations == nil {
			rows, err = s.queryWriter(ctx, tx, claimSQL, p.Owner, unixNano(p.Now.Add(p.Lease)), now, now, p.Limit)
		} else {
			args := []any{p.Owner, unixNano(p.Now.Add(p.Lease)), now, p.Limit}
			for _, d := range p.Destinations {
				room, err := s.room(ctx, tx, d, p.Concurrency[d], now)
				if err != nil {
					return err
				}
				args = append(args, d, min(room, p.Limit))
			}
			rows, err = tx.StmtContext(ctx, some).QueryContext(ctx, args...)
		}
		if err != nil {
			return fmt.Errorf("sqlite: claim: %w", err)
		}
		for rows.Next() {
			var recorded int
			d, err := scanDelivery(rows, &recorded)
			if err != nil {
				rows.Close()
				return fmt.Errorf("sqlite: claim: %w", err)
			}
			claims = append(claims, store.Claim{Delivery: d, Attempt: recorded + 1})
			s.counts.move(d.Destination, store.DeliveryPending, store.DeliveryInFlight, 1)
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("sqlite: claim: %w", err)
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
	if err := s.fillStaleness(ctx, claims); err != nil {
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

// room is how many deliveries to destination a claim may take under
// bound (0: none), less those in flight: one process uses the store, so
// its dispatcher bounds itself, but the claim keeps the contract. The
// expired leases were released before; the walk is of the deliveries in
// flight, as many as the process runs.
func (s *Store) room(ctx context.Context, tx *sql.Tx, destination string, bound int, now int64) (int, error) {
	if bound <= 0 {
		return math.MaxInt, nil
	}
	stmt, err := s.writerStmt(ctx, tx, inFlightToSQL)
	var busy int
	if err == nil {
		err = stmt.QueryRowContext(ctx, now, destination).Scan(&busy)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: claim: count in flight to %s: %w", destination, err)
	}
	return max(bound-busy, 0), nil
}

// loadClaimed reads the claimed deliveries' events, with their bodies.
// A claim of first attempts takes runs of consecutive events: those are
// read as a range, through one statement prepared once, and scattered ones
// by their seqs.
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

// eventRangeSQL reads the events of a run of seqs, with their bodies.
const eventRangeSQL = `SELECT ` + eventColumns + `, body FROM events WHERE seq BETWEEN ? AND ?`

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
	claimSQL, expiredAttemptsSQL, releaseExpiredSQL, insertAttemptSQL, orderSQL,
	countEventsSQL, countDeliveriesSQL, countPrunedEventsSQL, countPrunedDeliveriesSQL,
	countDuplicateSQL, markStaleSQL, keptKeySQL, victimsSQL, keepKeysSQL, pruneAttemptsSQL, pruneEventsSQL, pruneKeysSQL,
	pruneSubjectsSQL, dropSubjectsSQL, inFlightToSQL,
}, func() (qs []string) {
	for _, n := range chunkSizes {
		qs = append(qs, insertAttemptsSQLs[n], completeRowsSQLs[n], insertDeliveriesSQLs[n], insertHandedSQLs[n], subjectsSQLs[n])
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
	rows, err := s.queryWriter(ctx, tx, releaseExpiredSQL, at, at, until)
	if err != nil {
		return 0, fmt.Errorf("sqlite: release leases: %w", err)
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		var destination string
		if err := rows.Scan(&destination); err != nil {
			return 0, fmt.Errorf("sqlite: release leases: %w", err)
		}
		s.counts.move(destination, store.DeliveryInFlight, store.DeliveryPending, 1)
		n++
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("sqlite: release leases: %w", err)
	}
	return n, nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// Complete implements store.Store. The writer records the completions of
// one batch together (recordCompletions).
func (s *Store) Complete(ctx context.Context, c store.Completion) error {
	switch c.Status {
	case store.DeliveryPending, store.DeliverySucceeded, store.DeliveryDead:
	default:
		return fmt.Errorf("sqlite: complete: status %q", c.Status)
	}
	r := &writeReq{completion: &c}
	if err := s.write(ctx, r); err != nil {
		return err
	}
	if r.lost {
		return store.ErrLeaseLost
	}
	return nil
}

// recordCompletions records the attempts of reqs in as few statements as
// it can, then moves on each delivery whose lease its completion's owner
// still holds.
func (s *Store) recordCompletions(ctx context.Context, tx *sql.Tx, reqs []*writeReq) error {
	// Two completions of one delivery (a lease's old owner and its new
	// one) go in separate statements, one after the other, so that their
	// attempts are numbered in order and each knows whether it moved the
	// delivery.
	seen := map[int64]bool{}
	from := 0
	for i, r := range reqs {
		id := r.completion.DeliveryID
		if seen[id] {
			if err := s.completeDistinct(ctx, tx, reqs[from:i]); err != nil {
				return err
			}
			clear(seen)
			from = i
		}
		seen[id] = true
	}
	return s.completeDistinct(ctx, tx, reqs[from:])
}

// completeDistinct records the completions of reqs, of distinct
// deliveries.
func (s *Store) completeDistinct(ctx context.Context, tx *sql.Tx, reqs []*writeReq) error {
	if err := s.insertAttempts(ctx, tx, reqs); err != nil {
		return err
	}
	return inChunks(len(reqs), func(from, size int) error {
		chunk := reqs[from : from+size]
		args := make([]any, 0, size*completeArgs)
		byID := make(map[int64]*writeReq, size)
		for _, r := range chunk {
			c := r.completion
			spend := 0
			if c.SpendAttempt {
				spend = 1
			}
			args = append(args, c.DeliveryID, c.Owner, c.Status, spend, unixNano(c.NextAttemptAt), c.Attempt.Error, unixNano(c.Now))
			r.lost, byID[c.DeliveryID] = true, r
		}
		rows, err := s.queryWriter(ctx, tx, completeRowsSQLs[size], args...)
		if err != nil {
			return fmt.Errorf("sqlite: complete: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				id          int64
				destination string
				status      store.DeliveryStatus
			)
			if err := rows.Scan(&id, &destination, &status); err != nil {
				return fmt.Errorf("sqlite: complete: %w", err)
			}
			byID[id].lost = false
			s.counts.move(destination, store.DeliveryInFlight, status, 1)
		}
		return rows.Close()
	})
}

// completeRowsSQL moves on rows distinct deliveries, each while its
// completion's owner holds its lease, and returns those it moved. One is
// a plain UPDATE: joining a table of values costs two temporary tables
// (10-11 µs of CPU against 14-15 for one row; 6-7 a row for eight).
func completeRowsSQL(rows int) string {
	if rows == 1 {
		return `
UPDATE deliveries SET status = ?3, attempts = attempts + ?4, next_attempt_at = ?5,
       lease_owner = '', lease_until = 0, last_error = ?6, updated_at = ?7
 WHERE id = ?1 AND status = 'in_flight' AND lease_owner = ?2
RETURNING id, destination, status`
	}
	var b strings.Builder
	b.WriteString(`WITH c (id, owner, status, spend, next_attempt_at, last_error, now) AS (VALUES `)
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`(?, ?, ?, ?, ?, ?, ?)`)
	}
	b.WriteString(`)
UPDATE deliveries SET status = c.status, attempts = deliveries.attempts + c.spend, next_attempt_at = c.next_attempt_at,
       lease_owner = '', lease_until = 0, last_error = c.last_error, updated_at = c.now
  FROM c
 WHERE deliveries.id = c.id AND deliveries.status = 'in_flight' AND deliveries.lease_owner = c.owner
RETURNING id, destination, status`)
	return b.String()
}

// completeArgs is how many arguments each row of completeRowsSQL takes.
const completeArgs = 7

// inChunks calls fn on consecutive chunks of n items, each of one of the
// sizes of chunkSizes, the largest that fits first.
func inChunks(n int, fn func(from, size int) error) error {
	for from := 0; from < n; {
		size := chunkSizes[len(chunkSizes)-1]
		for _, sz := range chunkSizes {
			if sz <= n-from {
				size = sz
				break
			}
		}
		if err := fn(from, size); err != nil {
			return err
		}
		from += size
	}
	return nil
}

// insertAttempts records the attempts of reqs, whose deliveries differ,
// in multi-row inserts prepared once.
func (s *Store) insertAttempts(ctx context.Context, tx *sql.Tx, reqs []*writeReq) error {
	return inChunks(len(reqs), func(from, size int) error {
		args := make([]any, 0, size*attemptArgs)
		for _, r := range reqs[from : from+size] {
			c := r.completion
			a := c.Attempt
			args = append(args, c.DeliveryID, c.DeliveryID, unixNano(a.StartedAt), int64(a.Duration), a.Outcome, a.StatusCode, a.Error, a.Response)
		}
		if _, err := s.execWriter(ctx, tx, insertAttemptsSQLs[size], args...); err != nil {
			return fmt.Errorf("sqlite: record attempts: %w", err)
		}
		return nil
	})
}

// chunkSizes are the sizes of the multi-row statements prepared at Open,
// largest first; attemptArgs is how many arguments each row of
// insertAttemptsSQL takes. The writer's batches hold runs of a few
// appends or completions as often as runs of many: the sizes between
// keep a run of seven from taking seven statements.
var chunkSizes = []int{32, 16, 8, 4, 2, 1}

// multiRow holds a multi-row statement's text for each of chunkSizes,
// built once: the writer finds its prepared statement by its text.
type multiRow map[int]string

func newMultiRow(build func(rows int) string) multiRow {
	m := multiRow{}
	for _, n := range chunkSizes {
		m[n] = build(n)
	}
	return m
}

var (
	insertAttemptsSQLs   = newMultiRow(insertAttemptsSQL)
	completeRowsSQLs     = newMultiRow(completeRowsSQL)
	insertDeliveriesSQLs = newMultiRow(insertDeliveriesSQL)
)

const attemptArgs = 8

// insertAttemptsSQL inserts rows attempts, each numbered after its
// delivery's last one: across its whole life, whatever budget a retry or
// replay gave it.
func insertAttemptsSQL(rows int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO attempts (delivery_id, attempt, started_at, duration_ns, outcome, status_code, error, response) VALUES `)
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`(?, COALESCE((SELECT MAX(attempt) FROM attempts WHERE delivery_id = ?), 0) + 1, ?, ?, ?, ?, ?, ?)`)
	}
	return b.String()
}

// newDelivery is a delivery an append creates: its event's seq, id and
// arrival, and its destination; for a destination that orders by subject,
// the event's subject and position (store.OrderKey).
type newDelivery struct {
	seq         int64
	eventID     string
	destination string
	at          int64

	orderKey   string // empty: not ordered
	orderRank  int
	occurredAt int64
}

// newDeliveries lists the deliveries of r's event, one per destination
// it names, to be inserted once the appends of its run are: pending
// (insertDeliveries), or in flight when the dispatcher takes them
// (handoff.go). Writer goroutine only (it reads s.ordered).
func (s *Store) newDeliveries(to []newDelivery, r *writeReq, seq int64) []newDelivery {
	ev := r.ev
	at := unixNano(ev.ReceivedAt)
	for _, dest := range ev.DistinctDestinations() {
		d := newDelivery{seq: seq, eventID: ev.ID, destination: dest, at: at}
		if s.ordered[dest] {
			d.orderKey, d.orderRank = store.OrderKey(&ev.EventData)
			d.occurredAt = unixNano(ev.OccurredAt)
		}
		if s.take(r, d) {
			continue
		}
		r.leftPending = true
		to = append(to, d)
	}
	return to
}

// orderSQL orders a delivery just created: it gives it its subject and
// position, held, and the trigger deliveries_subject_next (migration
// 0019) picks its subject's head again.
const orderSQL = `UPDATE deliveries SET order_key = ?, order_rank = ?, order_at = ?, held = 1
 WHERE event_seq = ? AND destination = ? AND order_key = '' AND status = 'pending'`

// orderDeliveries orders those of ds, just inserted, whose destination
// orders by subject.
func (s *Store) orderDeliveries(ctx context.Context, tx *sql.Tx, ds []newDelivery) error {
	for _, d := range ds {
		if d.orderKey == "" {
			continue
		}
		if _, err := s.execWriter(ctx, tx, orderSQL, d.orderKey, d.orderRank, d.occurredAt, d.seq, d.destination); err != nil {
			return fmt.Errorf("sqlite: order delivery: %w", err)
		}
	}
	return nil
}

// insertDeliveries creates deliveries, pending and due at once, in the
// appends' transaction, in multi-row inserts prepared once: a statement
// per delivery cost more than the rows it wrote.
func (s *Store) insertDeliveries(ctx context.Context, tx *sql.Tx, ds []newDelivery) error {
	return inChunks(len(ds), func(from, size int) error {
		chunk := ds[from : from+size]
		args := make([]any, 0, size*deliveryArgs)
		for _, d := range chunk {
			args = append(args, d.seq, d.eventID, d.destination, d.at)
		}
		// Each event was inserted by this transaction and its deliveries
		// go with it (ON DELETE CASCADE), one per destination: none can
		// be there already, and a conflict is an error.
		if _, err := s.execWriter(ctx, tx, insertDeliveriesSQLs[size], args...); err != nil {
			return fmt.Errorf("sqlite: insert deliveries: %w", err)
		}
		for _, d := range chunk {
			s.counts.add(d.destination, store.DeliveryPending, 1)
		}
		return s.orderDeliveries(ctx, tx, chunk)
	})
}

// deliveryArgs is how many arguments each row of insertDeliveriesSQL
// takes.
const deliveryArgs = 4

// insertDeliveriesSQL inserts rows deliveries. The table gives each its
// id (AUTOINCREMENT: above every id it gave before, never one used again).
func insertDeliveriesSQL(rows int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO deliveries (event_seq, event_id, destination, status, next_attempt_at, created_at, updated_at) VALUES `)
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		n := i * deliveryArgs
		fmt.Fprintf(&b, "(?%d, ?%d, ?%d, 'pending', ?%d, ?%d, ?%d)", n+1, n+2, n+3, n+4, n+4, n+4)
	}
	return b.String()
}

// NextDue implements store.Store.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var at sql.NullInt64
	err := s.nextDueStmt.QueryRowContext(ctx).Scan(&at)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("sqlite: next due: %w", err)
	}
	if !at.Valid {
		return time.Time{}, false, nil
	}
	return time.Unix(0, at.Int64).UTC(), true, nil
}

// listedStatuses is the condition of deliveries_listed (migration 0018),
// word for word: SQLite uses a partial index only for a statement that
// names its condition. It is comparisons, not an IN list: SQLite builds a
// temporary b-tree for an IN list of three values at every run of every
// statement that writes a delivery's status.
const listedStatuses = "(status = 'pending' OR status = 'dead' OR status = 'discarded')"

// statusCondition selects the deliveries in status through an index, so
// that a page of them costs the same however many deliveries are stored:
// pending, dead and discarded through deliveries_listed, in flight through
// deliveries_in_flight. Succeeded deliveries, most of them, are found by
// walking the table in id order. It is false for a status no delivery is
// ever in. The status is written into the statement, not bound: SQLite
// picks a partial index when it prepares the statement, before binding.
func statusCondition(status store.DeliveryStatus) (string, bool) {
	switch status {
	case store.DeliveryPending, store.DeliveryDead, store.DeliveryDiscarded:
		return "(" + listedStatuses + " AND status = '" + string(status) + "')", true
	case store.DeliveryInFlight, store.DeliverySucceeded:
		return "status = '" + string(status) + "'", true
	}
	return "", false
}

// statusIndex names the index ListDeliveries reads a status through:
// without statistics SQLite might prefer walking the table in id order.
var statusIndex = map[store.DeliveryStatus]string{
	store.DeliveryPending:   " INDEXED BY deliveries_listed",
	store.DeliveryDead:      " INDEXED BY deliveries_listed",
	store.DeliveryDiscarded: " INDEXED BY deliveries_listed",
	store.DeliveryInFlight:  " INDEXED BY deliveries_in_flight",
}

// ListDeliveries implements store.Store.
func (s *Store) ListDeliveries(ctx context.Context, f store.DeliveryFilter) ([]store.Delivery, error) {
	q, args, ok := listDeliveriesSQL(f)
	if !ok {
		return nil, nil // no delivery is ever in f.Status
	}
	return s.listDeliveries(ctx, q, args)
}

// listDeliveriesSQL is the statement that lists the deliveries f selects;
// false if f names a status no delivery is ever in.
func listDeliveriesSQL(f store.DeliveryFilter) (string, []any, bool) {
	var (
		where []string
		args  []any
	)
	if f.EventID != "" {
		// By the event's seq, which the (event_seq, destination) index
		// covers: event_id has no index of its own.
		where, args = append(where, byEventSeq+" = ?)"), append(args, f.EventID)
	}
	if f.Status != "" {
		cond, ok := statusCondition(f.Status)
		if !ok {
			return "", nil, false
		}
		where = append(where, cond)
	}
	if f.Destination != "" {
		where, args = append(where, "destination = ?"), append(args, f.Destination)
	}
	if f.AfterID > 0 {
		where, args = append(where, "id > ?"), append(args, f.AfterID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000)
	q := `SELECT ` + deliveryColumns + ` FROM deliveries`
	if f.EventID != "" {
		q += " INDEXED BY deliveries_event" // an event has a few, whatever their status
	} else {
		q += statusIndex[f.Status]
	}
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id LIMIT " + strconv.Itoa(limit)
	return q, args, true
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
		var conds []string
		for _, st := range sel.Statuses {
			if st == store.DeliveryInFlight {
				continue // no move takes one: a worker holds its lease
			}
			if cond, ok := statusCondition(st); ok {
				conds = append(conds, cond)
			}
		}
		if len(conds) == 0 {
			conds = append(conds, "false") // no delivery is ever in those
		}
		where = append(where, "("+strings.Join(conds, " OR ")+")")
	}
	if sel.Destination != "" {
		where, args = append(where, "destination = ?"), append(args, sel.Destination)
	}
	return strings.Join(where, " AND "), args, nil
}

// Requeue implements store.Store.
func (s *Store) Requeue(ctx context.Context, sel store.DeliverySelector, now time.Time) (int, error) {
	where, args, err := selection(sel)
	if err != nil {
		return 0, err
	}
	at := unixNano(now)
	return s.moveSelected(ctx, store.DeliveryPending, "status != 'in_flight' AND "+where, args,
		`UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, updated_at = ?`, at, at)
}

// Discard implements store.Store.
func (s *Store) Discard(ctx context.Context, sel store.DeliverySelector, now time.Time) (int, error) {
	where, args, err := selection(sel)
	if err != nil {
		return 0, err
	}
	return s.moveSelected(ctx, store.DeliveryDiscarded, "status IN ('pending', 'dead') AND "+where, args,
		`UPDATE deliveries SET status = 'discarded', updated_at = ?`, unixNano(now))
}

// moveSelected runs update (its SET arguments set) on the deliveries that
// match where, in one transaction with the counters, and returns how many
// it changed.
func (s *Store) moveSelected(ctx context.Context, to store.DeliveryStatus, where string, args []any, update string, set ...any) (int, error) {
	var n int64
	err := s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := s.countStatuses(ctx, tx, to, where, args); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, update+" WHERE "+where, append(set, args...)...)
		if err != nil {
			return fmt.Errorf("sqlite: %w", err)
		}
		n, err = res.RowsAffected()
		return err
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
			at := unixNano(now)
			args := []any{destination, at, at, at}
			for _, id := range chunk {
				args = append(args, id)
			}
			// An event that has a delivery to the destination keeps it.
			// "WHERE true" tells SQLite's parser that ON CONFLICT belongs to
			// the INSERT, not to a join in the SELECT.
			res, err := tx.ExecContext(ctx, `INSERT INTO deliveries (event_seq, event_id, destination, status, next_attempt_at, created_at, updated_at)
SELECT seq, id, ?, 'pending', ?, ?, ? FROM events WHERE id IN (`+placeholders(len(chunk))+`) AND true
ON CONFLICT DO NOTHING`, args...)
			if err != nil {
				return fmt.Errorf("sqlite: add deliveries: %w", err)
			}
			if added, err = res.RowsAffected(); err != nil {
				return err
			}
			s.counts.add(destination, store.DeliveryPending, added)
			if added == 0 || !s.ordered[destination] {
				return nil
			}
			return s.orderAdded(ctx, tx, destination, chunk)
		})
		if err != nil {
			// added is the writer's until it has answered.
			return created, err
		}
		created += int(added)
	}
	return created, nil
}

// scanOne scans the one row of rows and closes them.
func scanOne(rows *sql.Rows, dest ...any) error {
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Close()
}

// orderAdded orders the pending deliveries to destination, which orders
// by subject, of the events named, as an append would have.
func (s *Store) orderAdded(ctx context.Context, tx *sql.Tx, destination string, eventIDs []string) error {
	args := make([]any, len(eventIDs))
	for i, id := range eventIDs {
		args[i] = id
	}
	rows, err := tx.QueryContext(ctx, `SELECT seq, subject_kind, subject, status, occurred_at FROM events WHERE id IN (`+placeholders(len(eventIDs))+`)`, args...)
	if err != nil {
		return fmt.Errorf("sqlite: order added deliveries: %w", err)
	}
	var ds []newDelivery
	for rows.Next() {
		var (
			ev       store.Event
			occurred int64
		)
		if err := rows.Scan(&ev.Seq, &ev.SubjectKind, &ev.Subject, &ev.Status, &occurred); err != nil {
			rows.Close()
			return fmt.Errorf("sqlite: order added deliveries: %w", err)
		}
		d := newDelivery{seq: ev.Seq, destination: destination, occurredAt: occurred}
		d.orderKey, d.orderRank = store.OrderKey(&ev.EventData)
		ds = append(ds, d)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("sqlite: order added deliveries: %w", err)
	}
	return s.orderDeliveries(ctx, tx, ds)
}
