package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hooklatch/hooklatch/store"
)

// bookSQL books up to $2 slots of destination $5, $3 microseconds apart
// (twice that while slowed), none starting after $4, from the latest of
// $1, the next free slot and the hold's end. Its SET expressions read only
// the row being updated, as it was: concurrent bookings of the destination
// queue on the row's lock, and each, re-evaluated on the row the one
// before left, starts where that one ended.
var bookSQL = strings.NewReplacer(
	"START", "GREATEST(next_at, hold_until, $1::timestamptz)",
	"STEP", "($3::bigint * CASE WHEN GREATEST(next_at, hold_until, $1::timestamptz) < slow_until THEN 2 ELSE 1 END)",
).Replace(`
UPDATE destination_slots
   SET booked_from = START,
       next_at = START + (LEAST($2::int, GREATEST(0, floor(EXTRACT(EPOCH FROM $4::timestamptz - START) * 1000000 / STEP) + 1))
                          * STEP) * interval '1 microsecond'
 WHERE name = $5
RETURNING booked_from, next_at, hold_until, slow_until`)

// BookSlots implements store.SlotBooker: one round trip for the whole
// batch, the destinations' rows locked in name order.
func (s *Store) BookSlots(ctx context.Context, now time.Time, reqs []store.SlotRequest) ([]store.SlotBooking, error) {
	if s.isClosed() {
		return nil, store.ErrClosed
	}
	out := make([]store.SlotBooking, len(reqs))
	order := make([]int, len(reqs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		if reqs[a].Destination < reqs[b].Destination {
			return -1
		}
		if reqs[a].Destination > reqs[b].Destination {
			return 1
		}
		return 0
	})
	missing, err := s.book(ctx, now, reqs, order, out)
	if err != nil || len(missing) == 0 {
		return out, err
	}
	// A destination booked for the first time: add its row, book again.
	names := make([]string, len(missing))
	for i, m := range missing {
		names[i] = text(reqs[m].Destination)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO destination_slots (name) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`, names); err != nil {
		return nil, fmt.Errorf("postgres: book slots: %w", err)
	}
	if missing, err = s.book(ctx, now, reqs, missing, out); err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("postgres: book slots: no row for %s", reqs[missing[0]].Destination)
	}
	return out, nil
}

// book books reqs[i] for each i of order, in one batch (one transaction),
// and returns those whose destination has no row yet.
func (s *Store) book(ctx context.Context, now time.Time, reqs []store.SlotRequest, order []int, out []store.SlotBooking) (missing []int, err error) {
	b := &pgx.Batch{}
	for _, i := range order {
		r := reqs[i]
		b.Queue(bookSQL, now, max(r.Want, 0), max(r.Step.Microseconds(), 1), r.Latest, text(r.Destination))
	}
	results := s.pool.SendBatch(ctx, b)
	defer results.Close()
	for _, i := range order {
		var from, next, hold, slow time.Time
		err := results.QueryRow().Scan(&from, &next, &hold, &slow)
		if errors.Is(err, pgx.ErrNoRows) {
			missing = append(missing, i)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("postgres: book slots of %s: %w", reqs[i].Destination, err)
		}
		step := reqs[i].Step
		if from.Before(slow) {
			step *= 2
		}
		booked := 0
		if step > 0 {
			booked = int(next.Sub(from) / step)
		}
		out[i] = store.SlotBooking{First: from.UTC(), Step: step, Booked: booked, Next: next.UTC(),
			Hold: store.Hold{Until: finite(hold), SlowUntil: finite(slow)}}
	}
	if err := results.Close(); err != nil {
		return nil, fmt.Errorf("postgres: book slots: %w", err)
	}
	return missing, nil
}

// finite turns the epoch (the columns' default: never held) into the
// zero time.
func finite(t time.Time) time.Time {
	if !t.After(time.Unix(0, 0)) {
		return time.Time{}
	}
	return t.UTC()
}

// HoldDestination implements store.SlotBooker.
func (s *Store) HoldDestination(ctx context.Context, destination string, until, slowUntil time.Time) error {
	if s.isClosed() {
		return store.ErrClosed
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO destination_slots (name, hold_until, slow_until) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET hold_until = GREATEST(destination_slots.hold_until, excluded.hold_until),
                                 slow_until = GREATEST(destination_slots.slow_until, excluded.slow_until)`,
		text(destination), until, slowUntil)
	if err != nil {
		return fmt.Errorf("postgres: hold %s: %w", destination, err)
	}
	s.announce()
	return nil
}

// Holds implements store.SlotBooker.
func (s *Store) Holds(ctx context.Context, now time.Time) (map[string]store.Hold, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, hold_until, slow_until FROM destination_slots WHERE slow_until > $1`, now)
	if err != nil {
		return nil, fmt.Errorf("postgres: holds: %w", err)
	}
	defer rows.Close()
	out := map[string]store.Hold{}
	for rows.Next() {
		var (
			name       string
			hold, slow time.Time
		)
		if err := rows.Scan(&name, &hold, &slow); err != nil {
			return nil, fmt.Errorf("postgres: holds: %w", err)
		}
		out[name] = store.Hold{Until: finite(hold), SlowUntil: finite(slow)}
	}
	return out, rows.Err()
}

var _ store.SlotBooker = (*Store)(nil)
