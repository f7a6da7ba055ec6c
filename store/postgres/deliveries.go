package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/store"
)

const deliveryColumns = `id, event_seq, event_id, destination, status, attempts, next_attempt_at,
	lease_owner, lease_until, last_error, created_at, updated_at`

// deliveryRow receives deliveryColumns.
type deliveryRow struct {
	d                  store.Delivery
	next, created, upd time.Time
	lease              pgtype.Timestamptz
}

func (r *deliveryRow) dest() []any {
	d := &r.d
	return []any{&d.ID, &d.EventSeq, &d.EventID, &d.Destination, &d.Status, &d.Attempts, &r.next,
		&d.LeaseOwner, &r.lease, &d.LastError, &r.created, &r.upd}
}

func (r *deliveryRow) delivery() store.Delivery {
	d := r.d
	d.NextAttemptAt, d.LeaseUntil = r.next.UTC(), fromTS(r.lease)
	d.CreatedAt, d.UpdatedAt = r.created.UTC(), r.upd.UTC()
	return d
}

func scanDelivery(row pgx.Row) (store.Delivery, error) {
	var r deliveryRow
	err := row.Scan(r.dest()...)
	return r.delivery(), err
}

const (
	// releaseExpiredSQL makes the deliveries whose lease expired pending
	// again and records the attempt lost with each: its worker died
	// mid-attempt, and the attempt happened (it may even have been
	// delivered), so it is counted. Rows another claimer is releasing
	// are skipped, not waited for.
	releaseExpiredSQL = `
WITH expired AS (
    SELECT id, updated_at FROM deliveries
     WHERE status = 'in_flight' AND lease_until <= $1
     ORDER BY lease_until LIMIT $2
       FOR UPDATE SKIP LOCKED
), released AS (
    UPDATE deliveries d
       SET status = 'pending', attempts = d.attempts + 1, recorded = d.recorded + 1,
           lease_owner = '', lease_until = NULL, last_error = 'lease expired',
           next_attempt_at = LEAST(d.lease_until, $1), updated_at = $1
      FROM expired WHERE d.id = expired.id
    RETURNING d.id, d.recorded, expired.updated_at AS started_at
)
INSERT INTO attempts (delivery_id, attempt, started_at, duration_ns, outcome, error)
SELECT id, recorded, started_at, (EXTRACT(EPOCH FROM ($1 - started_at)) * 1e9)::bigint, 'lease_expired',
       'the worker holding the lease stopped before recording an outcome'
  FROM released`
)

// claimSQL leases the deliveries due first that no other claimer is
// taking at this moment, and returns them with their events.
var claimSQL = claimDue(`
    SELECT id FROM deliveries
     WHERE status = 'pending' AND NOT held AND next_attempt_at <= $1
     ORDER BY next_attempt_at, id LIMIT $2
       FOR UPDATE SKIP LOCKED`)

// claimSomeSQL is claimSQL for the destinations named in $5, each walked
// through its own range of deliveries_pending_destination, so that a
// paused destination's backlog costs the claim nothing.
var claimSomeSQL = claimDue(`
    SELECT x.id FROM unnest($5::text[]) AS r(name),
           LATERAL (SELECT id, next_attempt_at FROM deliveries
                     WHERE destination = r.name AND status = 'pending' AND NOT held AND next_attempt_at <= $1
                     ORDER BY next_attempt_at, id LIMIT $2
                       FOR UPDATE SKIP LOCKED) x
     ORDER BY x.next_attempt_at, x.id LIMIT $2`)

// claimBoundedSQL is claimSomeSQL with a bound on each destination's
// deliveries in flight ($6, matched to $5; 0: none): a bounded destination
// gives at most its bound less those of its deliveries in flight whose
// lease has not expired, counted up to the bound through deliveries_in_flight
// (the deliveries in flight on the schema, which each instance's
// MaxInFlight bounds: no index of their own, which every claim of every
// destination would pay to keep). It runs after lockBoundedSQL, as a
// statement of its own: under READ COMMITTED (PostgreSQL's default) its
// snapshot, taken once the locks are held, sees every claim of those
// destinations that committed before.
var claimBoundedSQL = claimDue(`
    SELECT x.id FROM unnest($5::text[], $6::int[]) AS r(name, bound),
           LATERAL (SELECT id, next_attempt_at FROM deliveries
                     WHERE destination = r.name AND status = 'pending' AND NOT held AND next_attempt_at <= $1
                     ORDER BY next_attempt_at, id
                     LIMIT CASE WHEN r.bound = 0 THEN $2 ELSE GREATEST(0, LEAST($2, r.bound - (
                         SELECT count(*) FROM (SELECT FROM deliveries f
                                                WHERE f.destination = r.name AND f.status = 'in_flight' AND f.lease_until > $1
                                                LIMIT r.bound) busy))) END
                       FOR UPDATE SKIP LOCKED) x
     ORDER BY x.next_attempt_at, x.id LIMIT $2`)

const (
	// addSlotsSQL gives each bounded destination its destination_slots
	// row, whose lock its claims take turns on.
	addSlotsSQL = `INSERT INTO destination_slots (name) SELECT n FROM unnest($1::text[]) AS n ORDER BY n ON CONFLICT DO NOTHING`
	// lockBoundedSQL takes the bounded destinations' rows, in name order
	// (as BookSlots does), until the claim commits.
	lockBoundedSQL = `SELECT name FROM destination_slots WHERE name = ANY($1::text[]) ORDER BY name FOR UPDATE`
)

func claimDue(due string) string {
	return `
WITH due AS (` + due + `
), claimed AS (
    UPDATE deliveries d SET status = 'in_flight', lease_owner = $3, lease_until = $4, updated_at = $1
      FROM due WHERE d.id = due.id
    RETURNING d.id, d.event_seq, d.event_id, d.destination, d.status, d.attempts, d.next_attempt_at,
              d.lease_owner, d.lease_until, d.last_error, d.created_at, d.updated_at, d.recorded
)
SELECT claimed.*, ` + eventColumnsOf("e") + `, e.body, s.status, s.rank, s.occurred_at, s.event_seq
  FROM claimed JOIN events e ON e.seq = claimed.event_seq
  LEFT JOIN subjects s ON s.source = e.source AND s.subject = e.subject`
}

// Claim implements store.Store. Several instances claim at once without
// waiting for each other: each skips the rows another holds.
func (s *Store) Claim(ctx context.Context, p store.ClaimParams) ([]store.Claim, error) {
	if p.Owner == "" || p.Lease <= 0 {
		return nil, errors.New("postgres: claim needs an owner and a lease")
	}
	if p.Limit <= 0 {
		p.Limit = 100
	}
	// One round trip, one transaction: the two statements of a batch
	// commit together.
	b := &pgx.Batch{}
	b.Queue(releaseExpiredSQL, p.Now, 1000)
	bounds, bounded := claimBounds(p)
	switch {
	case p.Destinations == nil:
		b.Queue(claimSQL, p.Now, p.Limit, p.Owner, p.Now.Add(p.Lease))
	case len(bounded) == 0:
		b.Queue(claimSomeSQL, p.Now, p.Limit, p.Owner, p.Now.Add(p.Lease), p.Destinations)
	default:
		b.Queue(addSlotsSQL, bounded)
		b.Queue(lockBoundedSQL, bounded)
		b.Queue(claimBoundedSQL, p.Now, p.Limit, p.Owner, p.Now.Add(p.Lease), p.Destinations, bounds)
	}
	results := s.pool.SendBatch(ctx, b)
	defer results.Close()
	if _, err := results.Exec(); err != nil {
		return nil, fmt.Errorf("postgres: release expired leases: %w", err)
	}
	if len(bounded) > 0 {
		for range 2 {
			if _, err := results.Exec(); err != nil {
				return nil, fmt.Errorf("postgres: claim: lock the bounded destinations: %w", err)
			}
		}
	}
	rows, err := results.Query()
	if err != nil {
		return nil, fmt.Errorf("postgres: claim: %w", err)
	}
	var claims []store.Claim
	events := map[int64]*store.Event{}
	latest := map[store.SubjectKey]store.Latest{}
	for rows.Next() {
		var (
			d        deliveryRow
			ev       eventRow
			recorded int
			// The subject's latest state, NULL when there is none.
			status    pgtype.Text
			rank      pgtype.Int4
			occurred  pgtype.Timestamptz
			latestSeq pgtype.Int8
		)
		if err := rows.Scan(append(append(append(d.dest(), &recorded), ev.dest()...), &ev.ev.Body, &status, &rank, &occurred, &latestSeq)...); err != nil {
			rows.Close()
			return nil, fmt.Errorf("postgres: claim: %w", err)
		}
		if latestSeq.Valid {
			latest[store.SubjectKey{Source: ev.ev.Source, Subject: ev.ev.Subject}] = store.Latest{Status: status.String,
				Position: event.Position{Rank: int(rank.Int32), OccurredAt: fromTS(occurred), Received: latestSeq.Int64}}
		}
		e := events[ev.ev.Seq]
		if e == nil {
			if e, err = ev.event(); err != nil {
				rows.Close()
				return nil, err
			}
			if e.Body == nil {
				e.Body = []byte{}
			}
			events[e.Seq] = e
		}
		claims = append(claims, store.Claim{Delivery: d.delivery(), Event: e, Attempt: recorded + 1})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: claim: %w", err)
	}
	if err := results.Close(); err != nil {
		return nil, fmt.Errorf("postgres: claim: %w", err)
	}
	store.FillStaleness(claims, latest)
	// Oldest due first (the UPDATE's RETURNING order is not guaranteed).
	slices.SortFunc(claims, func(a, b store.Claim) int {
		return cmp.Or(a.Delivery.NextAttemptAt.Compare(b.Delivery.NextAttemptAt), cmp.Compare(a.Delivery.ID, b.Delivery.ID))
	})
	return claims, nil
}

// claimBounds returns p.Concurrency's bound of each of p.Destinations (0:
// none), and the names of those bounded, sorted.
func claimBounds(p store.ClaimParams) (bounds []int32, bounded []string) {
	if len(p.Concurrency) == 0 || p.Destinations == nil {
		return nil, nil
	}
	bounds = make([]int32, len(p.Destinations))
	for i, name := range p.Destinations {
		if n := p.Concurrency[name]; n > 0 {
			bounds[i] = int32(min(n, 1<<31-1))
			bounded = append(bounded, text(name))
		}
	}
	slices.Sort(bounded)
	return bounds, slices.Compact(bounded)
}

// NextDue implements store.Store.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var at pgtype.Timestamptz
	err := s.pool.QueryRow(ctx, `
SELECT LEAST((SELECT MIN(next_attempt_at) FROM deliveries WHERE status = 'pending' AND NOT held),
             (SELECT MIN(lease_until) FROM deliveries WHERE status = 'in_flight'))`).Scan(&at)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("postgres: next due: %w", err)
	}
	return fromTS(at), at.Valid, nil
}

// ListDeliveries implements store.Store.
func (s *Store) ListDeliveries(ctx context.Context, f store.DeliveryFilter) ([]store.Delivery, error) {
	var (
		where []string
		a     args
	)
	if f.EventID != "" {
		where = append(where, "event_seq IN (SELECT seq FROM events WHERE id = "+a.add(f.EventID)+")")
	}
	switch f.Status {
	case "":
	case store.DeliveryPending, store.DeliveryInFlight, store.DeliverySucceeded, store.DeliveryDead, store.DeliveryDiscarded:
		// Written out, not bound: a plan kept for any status walks every
		// delivery by id to find a page of a rare one (0.5 s at two
		// million deliveries for the queue sampler's 1,000 pending).
		where = append(where, "status = "+literals([]store.DeliveryStatus{f.Status}))
	default:
		where = append(where, "status = "+a.add(string(f.Status)))
	}
	if f.Destination != "" {
		where = append(where, "destination = "+a.add(f.Destination))
	}
	if f.AfterID > 0 {
		where = append(where, "id > "+a.add(f.AfterID))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q := `SELECT ` + deliveryColumns + ` FROM deliveries`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id LIMIT " + strconv.Itoa(min(limit, 10000))
	rows, err := s.pool.Query(ctx, q, a...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list deliveries: %w", err)
	}
	defer rows.Close()
	var out []store.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list deliveries: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ListAttempts implements store.Store.
func (s *Store) ListAttempts(ctx context.Context, deliveryID int64) ([]store.Attempt, error) {
	rows, err := s.pool.Query(ctx, `
SELECT id, delivery_id, attempt, started_at, duration_ns, outcome, status_code, error, response
  FROM attempts WHERE delivery_id = $1 ORDER BY id`, deliveryID)
	if err != nil {
		return nil, fmt.Errorf("postgres: list attempts: %w", err)
	}
	defer rows.Close()
	var out []store.Attempt
	for rows.Next() {
		var (
			a        store.Attempt
			started  time.Time
			duration int64
		)
		if err := rows.Scan(&a.ID, &a.DeliveryID, &a.Attempt, &started, &duration, &a.Outcome, &a.StatusCode, &a.Error, &a.Response); err != nil {
			return nil, fmt.Errorf("postgres: list attempts: %w", err)
		}
		a.StartedAt, a.Duration = started.UTC(), time.Duration(duration)
		out = append(out, a)
	}
	return out, rows.Err()
}

// selection turns a selector into a WHERE condition.
func selection(sel store.DeliverySelector, a *args) (string, error) {
	if len(sel.IDs) == 0 && len(sel.EventIDs) == 0 && len(sel.Statuses) == 0 {
		return "", store.ErrNoSelection
	}
	var where []string
	if len(sel.IDs) > 0 {
		where = append(where, "id = ANY("+a.add(sel.IDs)+"::bigint[])")
	}
	if len(sel.EventIDs) > 0 {
		where = append(where, "event_seq IN (SELECT seq FROM events WHERE id = ANY("+a.add(sel.EventIDs)+"::text[]))")
	}
	if len(sel.Statuses) > 0 {
		where = append(where, "status = ANY("+a.add(sel.Statuses)+"::text[])")
	}
	if sel.Destination != "" {
		where = append(where, "destination = "+a.add(sel.Destination))
	}
	return strings.Join(where, " AND "), nil
}

// Requeue implements store.Store.
func (s *Store) Requeue(ctx context.Context, sel store.DeliverySelector, now time.Time) (int, error) {
	a := args{now}
	where, err := selection(sel, &a)
	if err != nil {
		return 0, err
	}
	n, err := s.update(ctx, `UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1, updated_at = $1
 WHERE status <> 'in_flight' AND `+where, a)
	if n > 0 {
		s.announce()
	}
	return n, err
}

// AddDeliveries implements store.Store.
func (s *Store) AddDeliveries(ctx context.Context, eventIDs []string, destination string, now time.Time) (int, error) {
	if destination == "" {
		return 0, errors.New("postgres: AddDeliveries: empty destination")
	}
	if len(eventIDs) == 0 {
		return 0, store.ErrNoSelection
	}
	const insert = `INSERT INTO deliveries (event_seq, event_id, destination, status, next_attempt_at, created_at, updated_at)
SELECT seq, id, $1, 'pending', $2, $2, $2 FROM events WHERE id = ANY($3::text[]) ORDER BY seq
ON CONFLICT (event_seq, destination) DO NOTHING`
	var (
		n   int
		err error
	)
	if s.orderedNow()[destination] {
		n, err = s.addOrdered(ctx, insert, destination, now, eventIDs)
	} else {
		n, err = s.update(ctx, insert, args{text(destination), now, eventIDs})
	}
	if n > 0 {
		s.announce()
	}
	return n, err
}

// Discard implements store.Store.
func (s *Store) Discard(ctx context.Context, sel store.DeliverySelector, now time.Time) (int, error) {
	a := args{now}
	where, err := selection(sel, &a)
	if err != nil {
		return 0, err
	}
	return s.update(ctx, `UPDATE deliveries SET status = 'discarded', updated_at = $1
 WHERE status IN ('pending', 'dead') AND `+where, a)
}

func (s *Store) update(ctx context.Context, q string, a args) (int, error) {
	if s.isClosed() {
		return 0, store.ErrClosed
	}
	tag, err := s.pool.Exec(ctx, q, a...)
	if err != nil {
		return 0, fmt.Errorf("postgres: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// addOrdered runs insert, AddDeliveries' statement, for a destination
// that orders by subject, and orders what it added in its transaction.
func (s *Store) addOrdered(ctx context.Context, insert, destination string, now time.Time, eventIDs []string) (int, error) {
	if s.isClosed() {
		return 0, store.ErrClosed
	}
	n := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, insert, text(destination), now, eventIDs)
		if err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		if n = int(tag.RowsAffected()); n == 0 {
			return nil
		}
		return orderAdded(ctx, tx, destination, eventIDs)
	})
	return n, err
}
