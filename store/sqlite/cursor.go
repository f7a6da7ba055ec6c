package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hooklatch/hooklatch/store"
)

// Dispatch by cursor.
//
// An event names its destinations with one bit each in events.dest_mask;
// no delivery row is written when it is stored. Each destination follows
// the events table in seq order: a claim takes the next events that name
// it, keeps them in an in-memory window with their owner and lease, and
// moves the destination's claimed_to mark; completing them advances its
// watermark past every event whose first attempt is recorded. A first
// attempt that succeeds leaves its attempt row and nothing else. Only what
// needs state of its own becomes a delivery row: a failure waiting for its
// retry, a dead delivery, one whose lease expired, one retried, replayed
// or discarded by hand, one added to an event later. Rows take precedence:
// the cursor skips an event whose delivery has a row.
//
// A delivery's id is (seq << 6) | bit, row or not, so that rows and cursor
// positions name the same deliveries and a row created for a delivery
// (its first failure) keeps its id.
//
// The cursor relies on seq order being commit order: an event the cursor
// passed over cannot commit later with a lower seq. That holds here
// because one writer goroutine, in one process at a time (the owner lock,
// or SQLite's write lock for other processes), assigns seqs and commits
// them in order. A backend with many concurrent writers (PostgreSQL)
// cannot promise it, and claims rows instead, behind the same Store
// methods.
//
// After a crash, the events between a destination's watermark and its
// claimed_to mark that have neither a row nor a recorded attempt were in
// flight: the next owner makes them rows due at once, with their lost
// attempt recorded (recoverWindow), so at most one window is delivered
// again and nothing is skipped.

// maxDestinations is how many destinations one store can route to: one
// bit each of a SQLite integer, the sign bit left alone.
const maxDestinations = 63

// deliveryID names event seq's delivery to the destination with bit.
func deliveryID(seq int64, bit uint) int64 { return seq<<6 | int64(bit) }

// splitDeliveryID is deliveryID's inverse.
func splitDeliveryID(id int64) (seq int64, bit uint) { return id >> 6, uint(id & 63) }

// cursor is one destination's position. Its fields are the committed
// state: the writer changes them only once a transaction has committed
// (see cursorTx), and other goroutines read them under Store.curMu.
type cursor struct {
	bit       uint
	name      string
	watermark int64
	claimedTo int64
	// window holds the deliveries this Store claimed above the watermark,
	// in seq order, until the watermark passes them.
	window []*windowEntry
}

type windowEntry struct {
	seq        int64
	eventID    string
	owner      string
	leaseUntil int64
	resolved   bool // its attempt is recorded; the watermark may pass it
}

// find returns the window entry for seq, or nil.
func (c *cursor) find(seq int64) *windowEntry {
	i := sort.Search(len(c.window), func(i int) bool { return c.window[i].seq >= seq })
	if i < len(c.window) && c.window[i].seq == seq {
		return c.window[i]
	}
	return nil
}

// cursorTx stages what one write transaction does to the cursors, so that
// a transaction that rolls back leaves them as they were.
type cursorTx struct {
	registered []*cursor
	claimed    map[*cursor][]*windowEntry
	claimedTo  map[*cursor]int64
	resolved   map[*windowEntry]bool
	adopted    map[*cursor][2]int64 // watermark and claimed_to read from the table
	touched    map[*cursor]bool
	named      [maxDestinations]int64 // events stored naming each bit
	namedAny   bool
}

func (t *cursorTx) reset() {
	t.registered = t.registered[:0]
	clear(t.claimed)
	clear(t.claimedTo)
	clear(t.resolved)
	clear(t.adopted)
	clear(t.touched)
	if t.namedAny {
		t.named, t.namedAny = [maxDestinations]int64{}, false
	}
}

func newCursorTx() *cursorTx {
	return &cursorTx{
		claimed: map[*cursor][]*windowEntry{}, claimedTo: map[*cursor]int64{}, resolved: map[*windowEntry]bool{},
		adopted: map[*cursor][2]int64{}, touched: map[*cursor]bool{},
	}
}

// cursors is the Store's registry, by name and by bit.
type cursors struct {
	mu     sync.Mutex // guards the maps and every cursor's fields for readers outside the writer
	byName map[string]*cursor
	byBit  [maxDestinations]*cursor
}

// loadCursors reads the registry.
func loadCursors(ctx context.Context, db *sql.DB) (*cursors, error) {
	cs := &cursors{byName: map[string]*cursor{}}
	rows, err := db.QueryContext(ctx, `SELECT bit, destination, watermark, claimed_to FROM cursors ORDER BY bit`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: load cursors: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		c := &cursor{}
		if err := rows.Scan(&c.bit, &c.name, &c.watermark, &c.claimedTo); err != nil {
			return nil, fmt.Errorf("sqlite: load cursors: %w", err)
		}
		cs.byName[c.name], cs.byBit[c.bit] = c, c
	}
	return cs, rows.Err()
}

// all returns the cursors in bit order.
func (cs *cursors) all() []*cursor {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	out := make([]*cursor, 0, len(cs.byName))
	for _, c := range cs.byBit {
		if c != nil {
			out = append(out, c)
		}
	}
	return out
}

// cursorsInTx returns the cursors as the open transaction sees them: the
// registry and those registered in it.
func (s *Store) cursorsInTx() []*cursor {
	return append(s.cursors.all(), s.txCur.registered...)
}

// cursorFor returns the cursor of destination name, registering it in tx
// when the store has none: a new destination starts after every event
// already stored, as none of them names it.
func (s *Store) cursorFor(ctx context.Context, tx *sql.Tx, name string) (*cursor, error) {
	s.cursors.mu.Lock()
	c := s.cursors.byName[name]
	s.cursors.mu.Unlock()
	if c != nil {
		return c, nil
	}
	for _, r := range s.txCur.registered {
		if r.name == name {
			return r, nil
		}
	}
	// Another process (a command adding deliveries) may have registered
	// it since this one loaded the registry.
	c = &cursor{name: name}
	err := tx.QueryRowContext(ctx, `SELECT bit, watermark, claimed_to FROM cursors WHERE destination = ?`, name).
		Scan(&c.bit, &c.watermark, &c.claimedTo)
	switch {
	case err == nil:
	case errors.Is(err, sql.ErrNoRows):
		var next int64
		err = tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(bit) + 1, 0), (SELECT COALESCE(MAX(seq), 0) FROM events) FROM cursors`).
			Scan(&next, &c.watermark)
		if err != nil {
			return nil, fmt.Errorf("sqlite: register destination %s: %w", name, err)
		}
		if next >= maxDestinations {
			return nil, fmt.Errorf("sqlite: destination %q would be this store's %dth: a store routes to at most %d destinations", name, next+1, maxDestinations)
		}
		c.bit, c.claimedTo = uint(next), c.watermark
		if _, err := tx.ExecContext(ctx, `INSERT INTO cursors (bit, destination, watermark, claimed_to) VALUES (?, ?, ?, ?)`,
			c.bit, name, c.watermark, c.claimedTo); err != nil {
			return nil, fmt.Errorf("sqlite: register destination %s: %w", name, err)
		}
	default:
		return nil, fmt.Errorf("sqlite: look up destination %s: %w", name, err)
	}
	s.txCur.registered = append(s.txCur.registered, c)
	return c, nil
}

// syncCursors loads the cursors other processes registered since this
// Store loaded its registry (a command that added deliveries to a new
// destination), so that their first attempts are claimed too.
func (s *Store) syncCursors(ctx context.Context, tx *sql.Tx) error {
	rows, err := s.queryWriter(ctx, tx, cursorCountSQL)
	if err != nil {
		return fmt.Errorf("sqlite: count cursors: %w", err)
	}
	var n int
	if err := scanOne(rows, &n); err != nil {
		return fmt.Errorf("sqlite: count cursors: %w", err)
	}
	s.cursors.mu.Lock()
	known := len(s.cursors.byName)
	s.cursors.mu.Unlock()
	if n <= known+len(s.txCur.registered) {
		return nil
	}
	names, err := tx.QueryContext(ctx, `SELECT destination FROM cursors ORDER BY bit`)
	if err != nil {
		return fmt.Errorf("sqlite: load cursors: %w", err)
	}
	var all []string
	for names.Next() {
		var name string
		if err := names.Scan(&name); err != nil {
			names.Close()
			return fmt.Errorf("sqlite: load cursors: %w", err)
		}
		all = append(all, name)
	}
	if err := names.Close(); err != nil {
		return fmt.Errorf("sqlite: load cursors: %w", err)
	}
	for _, name := range all {
		if _, err := s.cursorFor(ctx, tx, name); err != nil {
			return err
		}
	}
	return nil
}

// destMask returns the bits of names, registering those that are new.
func (s *Store) destMask(ctx context.Context, tx *sql.Tx, names []string) (int64, error) {
	var mask int64
	for _, name := range names {
		c, err := s.cursorFor(ctx, tx, name)
		if err != nil {
			return 0, err
		}
		mask |= 1 << c.bit
	}
	return mask, nil
}

// commitCursors applies the transaction's staged changes once it has
// committed.
func (s *Store) commitCursors() {
	t := s.txCur
	if len(t.registered) == 0 && len(t.touched) == 0 {
		return
	}
	s.cursors.mu.Lock()
	defer s.cursors.mu.Unlock()
	for _, c := range t.registered {
		s.cursors.byName[c.name], s.cursors.byBit[c.bit] = c, c
	}
	for c := range t.touched {
		if a, ok := t.adopted[c]; ok {
			c.watermark, c.claimedTo = a[0], a[1]
		}
		c.window = append(c.window, t.claimed[c]...)
		if to, ok := t.claimedTo[c]; ok {
			c.claimedTo = to
		}
		for _, e := range c.window {
			if t.resolved[e] {
				e.resolved = true
			}
		}
		c.watermark, c.window = advance(c, c.window, nil)
	}
}

// advance returns the watermark the window allows, and the window without
// the entries it passed. Entries in extra count as resolved.
func advance(c *cursor, window []*windowEntry, extra map[*windowEntry]bool) (int64, []*windowEntry) {
	i := 0
	for i < len(window) && (window[i].resolved || extra[window[i]]) {
		i++
	}
	if i == len(window) {
		return c.claimedTo, window[:0]
	}
	return window[i].seq - 1, window[i:]
}

// countNamed notes that an event naming the destinations of mask was
// stored in this transaction.
func (s *Store) countNamed(mask int64) {
	t := s.txCur
	for m := uint64(mask); m != 0; m &= m - 1 {
		t.named[bits.TrailingZeros64(m)]++
	}
	t.namedAny = true
}

// flushCursors writes the positions of the cursors this transaction
// moved, and how many events it stored for each destination, before it
// commits.
func (s *Store) flushCursors(ctx context.Context, tx *sql.Tx) error {
	t := s.txCur
	if t.namedAny {
		for bit, n := range t.named {
			if n == 0 {
				continue
			}
			if _, err := s.execWriter(ctx, tx, namedSQL, n, bit); err != nil {
				return fmt.Errorf("sqlite: count events by destination: %w", err)
			}
		}
	}
	for c := range t.touched {
		claimedTo := c.claimedTo
		window := c.window
		if a, ok := t.adopted[c]; ok {
			claimedTo = a[1]
		}
		if to, ok := t.claimedTo[c]; ok {
			claimedTo = to
		}
		staged := &cursor{claimedTo: claimedTo}
		window = append(slices.Clip(window), t.claimed[c]...)
		watermark, _ := advance(staged, window, t.resolved)
		if _, err := s.execWriter(ctx, tx, watermarkSQL, watermark, claimedTo, c.bit); err != nil {
			return fmt.Errorf("sqlite: move the cursor of %s: %w", c.name, err)
		}
	}
	return nil
}

// pendingWindow returns c's window as this transaction sees it.
func (s *Store) pendingWindow(c *cursor) []*windowEntry {
	return append(slices.Clip(c.window), s.txCur.claimed[c]...)
}

// open reports whether window entry e is still waiting for its outcome in
// this transaction.
func (s *Store) open(e *windowEntry) bool { return !e.resolved && !s.txCur.resolved[e] }

// claimCursors claims up to limit first attempts from the cursors, in the
// writer's transaction.
func (s *Store) claimCursors(ctx context.Context, tx *sql.Tx, p store.ClaimParams, limit int) ([]store.Claim, error) {
	all := s.cursorsInTx()
	var out []store.Claim
	now := unixNano(p.Now)
	for i, c := range all {
		if limit <= 0 {
			break
		}
		// Share what is left among the cursors still to be asked, so that
		// one busy destination does not starve the others.
		share := max(limit/(len(all)-i), 1)
		got, err := s.claimCursor(ctx, tx, c, p, now, share)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
		limit -= len(got)
	}
	return out, nil
}

// cursorClaimSQL finds a cursor's next events: those past its claimed
// mark that name its destination and have no row.
const cursorClaimSQL = `SELECT seq, id, received_at FROM events
 WHERE seq > ? AND (dest_mask >> ?) & 1 = 1 AND NOT EXISTS (SELECT 1 FROM deliveries WHERE id = (events.seq << 6) | ?)
 ORDER BY seq LIMIT ?`

// nextFirstSQL finds when a cursor's next event was received.
const nextFirstSQL = `SELECT received_at FROM events
 WHERE seq > ? AND (dest_mask >> ?) & 1 = 1 AND NOT EXISTS (SELECT 1 FROM deliveries WHERE id = (events.seq << 6) | ?)
 ORDER BY seq LIMIT 1`

// eventRangeSQL reads the events of a run of seqs, with their bodies.
const eventRangeSQL = `SELECT ` + eventColumns + `, body FROM events WHERE seq BETWEEN ? AND ?`

// The cursors' other statements.
const (
	maxSeqSQL      = `SELECT COALESCE(MAX(seq), 0) FROM events`
	cursorCountSQL = `SELECT COUNT(*) FROM cursors`
	readCursorSQL  = `SELECT watermark, claimed_to, lease_owner, lease_until FROM cursors WHERE bit = ?`
	claimedToSQL   = `UPDATE cursors SET claimed_to = ?, lease_owner = ?, lease_until = MAX(lease_until, ?) WHERE bit = ?`
	watermarkSQL   = `UPDATE cursors SET watermark = ?, claimed_to = ? WHERE bit = ?`
	namedSQL       = `UPDATE cursors SET named = named + ? WHERE bit = ?`
)

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

// claimCursor claims up to limit of c's next events, without their
// bodies: Claim reads those once it has committed.
func (s *Store) claimCursor(ctx context.Context, tx *sql.Tx, c *cursor, p store.ClaimParams, now int64, limit int) ([]store.Claim, error) {
	// Claim has expired c's window and taken over one another store left.
	from, ok, err := s.claimFrom(ctx, tx, c, now)
	if err != nil || !ok {
		return nil, err
	}
	rows, err := s.queryWriter(ctx, tx, cursorClaimSQL, from, c.bit, c.bit, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim from the cursor of %s: %w", c.name, err)
	}
	var (
		out     []store.Claim
		to      = from
		notDue  bool
		lease   = unixNano(p.Now.Add(p.Lease))
		entries []*windowEntry
	)
	for rows.Next() {
		var (
			seq, received int64
			id            string
		)
		if err := rows.Scan(&seq, &id, &received); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: claim from the cursor of %s: %w", c.name, err)
		}
		if received > now {
			notDue = true
			break
		}
		to = seq
		entries = append(entries, &windowEntry{seq: seq, eventID: id, owner: p.Owner, leaseUntil: lease})
		out = append(out, store.Claim{Delivery: store.Delivery{
			ID: deliveryID(seq, c.bit), EventSeq: seq, EventID: id, Destination: c.name,
			Status: store.DeliveryInFlight, NextAttemptAt: fromUnixNano(received), LeaseOwner: p.Owner,
			LeaseUntil: fromUnixNano(lease), CreatedAt: fromUnixNano(received), UpdatedAt: p.Now,
		}})
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("sqlite: claim from the cursor of %s: %w", c.name, err)
	}
	if !notDue && len(out) < limit {
		// Every event up to the newest was looked at: those that do not
		// name this destination need not be looked at again.
		var last int64
		rows, err := s.queryWriter(ctx, tx, maxSeqSQL)
		if err == nil {
			err = scanOne(rows, &last)
		}
		if err != nil {
			return nil, fmt.Errorf("sqlite: claim from the cursor of %s: %w", c.name, err)
		}
		to = max(to, last)
	}
	t := s.txCur
	if to > from {
		t.claimedTo[c], t.touched[c] = to, true
	}
	if len(entries) > 0 {
		t.claimed[c] = append(t.claimed[c], entries...)
	}
	if to > from {
		// Now, not at commit: a later write in this transaction (a
		// requeue) must see these deliveries in flight.
		if _, err := s.execWriter(ctx, tx, claimedToSQL,
			to, s.instance, lease, c.bit); err != nil {
			return nil, fmt.Errorf("sqlite: move the cursor of %s: %w", c.name, err)
		}
	}
	return out, nil
}

// claimFrom returns where c's next claim starts; ok is false while
// another process holds c's window.
func (s *Store) claimFrom(ctx context.Context, tx *sql.Tx, c *cursor, now int64) (from int64, ok bool, err error) {
	t := s.txCur
	if to, staged := t.claimedTo[c]; staged {
		return to, true, nil
	}
	if a, adopted := t.adopted[c]; adopted {
		return a[1], true, nil
	}
	for _, e := range s.pendingWindow(c) {
		if s.open(e) {
			return c.claimedTo, true, nil // this Store holds the window
		}
	}
	// No window here: the table says whether another process moved the
	// cursor since this one last did, or left a window behind.
	var (
		watermark, claimedTo, leaseUntil int64
		owner                            string
	)
	rows, err := s.queryWriter(ctx, tx, readCursorSQL, c.bit)
	if err == nil {
		err = scanOne(rows, &watermark, &claimedTo, &owner, &leaseUntil)
	}
	if err != nil {
		return 0, false, fmt.Errorf("sqlite: read the cursor of %s: %w", c.name, err)
	}
	if watermark == c.watermark && claimedTo == c.claimedTo && watermark == claimedTo {
		return claimedTo, true, nil
	}
	if watermark < claimedTo {
		if owner != s.instance && leaseUntil > now {
			return 0, false, nil // in flight in another process
		}
		if _, err := s.recoverWindow(ctx, tx, c, watermark, claimedTo, now); err != nil {
			return 0, false, err
		}
	}
	t.adopted[c], t.touched[c] = [2]int64{claimedTo, claimedTo}, true
	return claimedTo, true, nil
}

// expireWindow makes rows of the window entries whose lease has expired,
// recording their lost attempts: they are then claimed as rows are.
func (s *Store) expireWindow(ctx context.Context, tx *sql.Tx, c *cursor, now int64) error {
	for _, e := range s.pendingWindow(c) {
		if !s.open(e) || e.leaseUntil > now {
			continue
		}
		id := deliveryID(e.seq, c.bit)
		if err := s.lostAttemptRow(ctx, tx, id, e.seq, e.eventID, c.name, min(e.leaseUntil, now), now); err != nil {
			return err
		}
		s.txCur.resolved[e], s.txCur.touched[c] = true, true
	}
	return nil
}

// lostAttemptRow records a first attempt lost with its worker and makes
// its delivery a row, pending and due at dueAt, with that attempt spent.
func (s *Store) lostAttemptRow(ctx context.Context, tx *sql.Tx, id, seq int64, eventID, destination string, dueAt, now int64) error {
	if _, err := tx.ExecContext(ctx, `
INSERT INTO attempts (delivery_id, attempt, started_at, duration_ns, outcome, error)
VALUES (?1, COALESCE((SELECT MAX(attempt) FROM attempts WHERE delivery_id = ?1), 0) + 1, ?2, 0, 'lease_expired',
        'the worker holding the lease stopped before recording an outcome')`, id, now); err != nil {
		return fmt.Errorf("sqlite: record a lost attempt: %w", err)
	}
	_, err := tx.ExecContext(ctx, `
INSERT INTO deliveries (id, event_seq, event_id, destination, status, attempts, next_attempt_at, last_error, created_at, updated_at)
VALUES (?, ?, ?, ?, 'pending', 1, ?, 'lease expired', ?, ?)`, id, seq, eventID, destination, dueAt, now, now)
	if err != nil {
		return fmt.Errorf("sqlite: release a lost delivery: %w", err)
	}
	return nil
}

// recoverWindow makes rows, due at once, of the deliveries between
// watermark and claimedTo that were claimed but never recorded: their
// claimer stopped (or lost its lease) with them in flight.
func (s *Store) recoverWindow(ctx context.Context, tx *sql.Tx, c *cursor, watermark, claimedTo, now int64) (int, error) {
	rows, err := tx.QueryContext(ctx, `SELECT seq, id FROM events
 WHERE seq > ? AND seq <= ? AND (dest_mask >> ?) & 1 = 1
   AND NOT EXISTS (SELECT 1 FROM deliveries WHERE id = (events.seq << 6) | ?)
   AND NOT EXISTS (SELECT 1 FROM attempts WHERE delivery_id = (events.seq << 6) | ?)
 ORDER BY seq`, watermark, claimedTo, c.bit, c.bit, c.bit)
	if err != nil {
		return 0, fmt.Errorf("sqlite: recover the window of %s: %w", c.name, err)
	}
	type lost struct {
		seq int64
		id  string
	}
	var all []lost
	for rows.Next() {
		var l lost
		if err := rows.Scan(&l.seq, &l.id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("sqlite: recover the window of %s: %w", c.name, err)
		}
		all = append(all, l)
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("sqlite: recover the window of %s: %w", c.name, err)
	}
	for _, l := range all {
		if err := s.lostAttemptRow(ctx, tx, deliveryID(l.seq, c.bit), l.seq, l.id, c.name, now, now); err != nil {
			return 0, err
		}
	}
	return len(all), nil
}

// windowEntry returns the window entry c completes, and its cursor: nil
// unless c's delivery is a first attempt this Store claimed from a cursor
// for c.Owner, still waiting for its outcome.
func (s *Store) windowEntry(c store.Completion) (*cursor, *windowEntry) {
	seq, bit := splitDeliveryID(c.DeliveryID)
	s.cursors.mu.Lock()
	cur := s.cursors.byBit[bit]
	s.cursors.mu.Unlock()
	if cur == nil {
		return nil, nil
	}
	if e := cur.find(seq); e != nil && s.open(e) && e.owner == c.Owner {
		return cur, e
	}
	return nil, nil
}

// completeFirst records the outcome of a first attempt claimed from a
// cursor. ok is false when id is not in this Store's window: the caller
// completes it as a row.
func (s *Store) completeFirst(ctx context.Context, tx *sql.Tx, c store.Completion) (ok bool, err error) {
	cur, e := s.windowEntry(c)
	if e == nil {
		return false, nil
	}
	seq := e.seq
	a := c.Attempt
	if _, err := tx.StmtContext(ctx, s.attemptStmt).ExecContext(ctx, c.DeliveryID, unixNano(a.StartedAt), int64(a.Duration), a.Outcome,
		a.StatusCode, a.Error, a.Response); err != nil {
		return false, fmt.Errorf("sqlite: record attempt: %w", err)
	}
	if c.Status != store.DeliverySucceeded {
		spend := 0
		if c.SpendAttempt {
			spend = 1
		}
		now := unixNano(c.Now)
		if _, err := tx.ExecContext(ctx, `
INSERT INTO deliveries (id, event_seq, event_id, destination, status, attempts, next_attempt_at, last_error, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, c.DeliveryID, seq, e.eventID, cur.name, c.Status, spend, unixNano(c.NextAttemptAt), a.Error, now, now); err != nil {
			return false, fmt.Errorf("sqlite: complete: %w", err)
		}
	}
	s.txCur.resolved[e], s.txCur.touched[cur] = true, true
	return true, nil
}

// firstSuccesses records the successes of reqs that were first attempts
// claimed from a cursor, in as few statements as it can, and runs the
// others' fn.
func (s *Store) firstSuccesses(ctx context.Context, tx *sql.Tx, reqs []*writeReq) error {
	var args []any
	n := 0
	for _, r := range reqs {
		c := r.success
		cur, e := s.windowEntry(*c)
		if e == nil {
			if err := r.fn(ctx, tx); err != nil {
				return err
			}
			continue
		}
		a := c.Attempt
		args = append(args, c.DeliveryID, c.DeliveryID, unixNano(a.StartedAt), int64(a.Duration), a.Outcome, a.StatusCode, a.Error, a.Response)
		n++
		s.txCur.resolved[e], s.txCur.touched[cur] = true, true
	}
	for n > 0 {
		size := attemptRows[0]
		for _, sz := range attemptRows {
			if sz <= n {
				size = sz
				break
			}
		}
		if _, err := s.execWriter(ctx, tx, insertAttemptsSQL(size), args[:size*attemptArgs]...); err != nil {
			return fmt.Errorf("sqlite: record attempts: %w", err)
		}
		args, n = args[size*attemptArgs:], n-size
	}
	return nil
}

// attemptRows are the sizes of the multi-row attempt inserts prepared at
// Open, largest first; attemptArgs is how many arguments each row takes.
var attemptRows = []int{32, 8, 1}

const attemptArgs = 8

// insertAttemptsSQL inserts rows attempts, each numbered after its
// delivery's last (as insertAttemptSQL).
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

// releaseWindows recovers every cursor's window: the owner's start, when
// no other process can be delivering.
func (s *Store) releaseWindows(ctx context.Context, tx *sql.Tx, now time.Time) (int, error) {
	rows, err := tx.QueryContext(ctx, `SELECT bit, watermark, claimed_to FROM cursors WHERE watermark < claimed_to`)
	if err != nil {
		return 0, fmt.Errorf("sqlite: release windows: %w", err)
	}
	type window struct{ bit, watermark, claimedTo int64 }
	var ws []window
	for rows.Next() {
		var w window
		if err := rows.Scan(&w.bit, &w.watermark, &w.claimedTo); err != nil {
			rows.Close()
			return 0, fmt.Errorf("sqlite: release windows: %w", err)
		}
		ws = append(ws, w)
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("sqlite: release windows: %w", err)
	}
	total := 0
	for _, w := range ws {
		c := s.cursors.byBit[w.bit]
		n, err := s.recoverWindow(ctx, tx, c, w.watermark, w.claimedTo, unixNano(now))
		if err != nil {
			return 0, err
		}
		total += n
		if _, err := tx.ExecContext(ctx, `UPDATE cursors SET watermark = claimed_to, lease_owner = '', lease_until = 0 WHERE bit = ?`, w.bit); err != nil {
			return 0, fmt.Errorf("sqlite: release windows: %w", err)
		}
		c.watermark, c.claimedTo = w.claimedTo, w.claimedTo
	}
	return total, nil
}

// nextDueCursors returns when the earliest first attempt is due, or a
// window lease expires.
func (s *Store) nextDueCursors(ctx context.Context) (int64, bool, error) {
	var (
		best int64
		ok   bool
	)
	note := func(t int64) {
		if !ok || t < best {
			best, ok = t, true
		}
	}
	for _, c := range s.cursors.all() {
		s.cursors.mu.Lock()
		from := c.claimedTo
		for _, e := range c.window {
			if !e.resolved {
				note(e.leaseUntil)
			}
		}
		s.cursors.mu.Unlock()
		var at int64
		err := s.nextFirstStmt.QueryRowContext(ctx, from, c.bit, c.bit).Scan(&at)
		switch {
		case err == nil:
			note(at)
		case !errors.Is(err, sql.ErrNoRows):
			return 0, false, fmt.Errorf("sqlite: next due: %w", err)
		}
	}
	return best, ok, nil
}

// virtualStatus is the status of the delivery of event e to the
// destination of cursor c when it has no row: succeeded below the
// watermark; above it, up to the claimed mark, succeeded once an attempt
// is recorded (any other outcome makes a row in the same transaction) and
// in flight until then; pending past the mark.
const virtualStatus = `CASE WHEN e.seq <= c.watermark THEN 'succeeded'
  WHEN e.seq <= c.claimed_to THEN
    CASE WHEN EXISTS (SELECT 1 FROM attempts a WHERE a.delivery_id = (e.seq << 6) | c.bit)
         THEN 'succeeded' ELSE 'in_flight' END
  ELSE 'pending' END`

// noRow holds for the events e whose delivery to c has no row.
const noRow = `NOT EXISTS (SELECT 1 FROM deliveries r WHERE r.id = (e.seq << 6) | c.bit)`

// virtualDeliveries selects, in deliveryColumns, the deliveries that have
// no row, for the events and cursors that satisfy where (in terms of e
// and c; "true" for all).
func virtualDeliveries(where string) string {
	return `SELECT (e.seq << 6) | c.bit AS id, e.seq AS event_seq, e.id AS event_id, c.destination AS destination,
       ` + virtualStatus + ` AS status,
       CASE WHEN ` + virtualStatus + ` = 'succeeded' THEN 1 ELSE 0 END AS attempts,
       e.received_at AS next_attempt_at, '' AS lease_owner, 0 AS lease_until, '' AS last_error,
       e.received_at AS created_at, e.received_at AS updated_at
  FROM cursors c JOIN events e ON (e.dest_mask >> c.bit) & 1 = 1
 WHERE ` + noRow + ` AND ` + where
}

// virtualRange narrows virtualDeliveries to the events that can have
// statuses: all of them when statuses is empty. ok is false when no
// delivery without a row can have any of them (dead, discarded).
func virtualRange(statuses []string) (where string, ok bool) {
	if len(statuses) == 0 {
		return "true", true
	}
	var ranges []string
	for _, st := range statuses {
		switch st {
		case store.DeliverySucceeded:
			ranges = append(ranges, "e.seq <= c.claimed_to")
		case store.DeliveryInFlight:
			ranges = append(ranges, "e.seq > c.watermark AND e.seq <= c.claimed_to")
		case store.DeliveryPending:
			ranges = append(ranges, "e.seq > c.claimed_to")
		}
	}
	if len(ranges) == 0 {
		return "", false
	}
	return "(" + strings.Join(ranges, " OR ") + ")", true
}

// overlayWindow fills in the lease of the deliveries listed in flight
// that this Store holds in a window.
func (s *Store) overlayWindow(ds []store.Delivery) {
	s.cursors.mu.Lock()
	defer s.cursors.mu.Unlock()
	for i := range ds {
		d := &ds[i]
		if d.Status != store.DeliveryInFlight || d.LeaseOwner != "" {
			continue
		}
		seq, bit := splitDeliveryID(d.ID)
		c := s.cursors.byBit[bit]
		if c == nil {
			continue
		}
		if e := c.find(seq); e != nil && !e.resolved {
			d.LeaseOwner, d.LeaseUntil = e.owner, fromUnixNano(e.leaseUntil)
		}
	}
}
