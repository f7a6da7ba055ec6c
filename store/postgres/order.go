package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hooklatch/hooklatch/store"
)

// FIFO per subject (store.OrderSubject). Deliveries are created as for
// any destination; for a destination that orders by subject, orderSQL
// then gives them their subject and position, held, in the same
// transaction, and the trigger order_subjects (migration 0008) picks
// each subject's head: under a lock per subject, so that instances
// appending and completing at once agree on one head. See the migration
// for how exact it is.

// orderSQL orders the pending deliveries just created of the events
// named ($1) to the destinations named ($2), by the subjects ($3) and
// ranks ($4) given.
const orderSQL = `
UPDATE deliveries d SET order_key = x.order_key, order_rank = x.order_rank,
       order_at = COALESCE(e.occurred_at, '-infinity'), held = true
  FROM unnest($1::text[], $2::text[], $3::text[], $4::int[]) AS x (event_id, destination, order_key, order_rank)
  JOIN events e ON e.id = x.event_id
 WHERE d.event_seq = e.seq AND d.destination = x.destination AND d.order_key = '' AND d.status = 'pending'`

// orderBatch is what orderSQL takes: one row per delivery to order.
type orderBatch struct {
	eventIDs, destinations, keys []string
	ranks                        []int32
}

// add lists the deliveries of ev to the destinations that order by
// subject.
func (b *orderBatch) add(ordered map[string]bool, ev *store.NewEvent) {
	if len(ordered) == 0 {
		return
	}
	key, rank := store.OrderKey(&ev.EventData)
	if key == "" {
		return
	}
	for _, d := range ev.DistinctDestinations() {
		if ordered[d] {
			b.eventIDs, b.destinations = append(b.eventIDs, text(ev.ID)), append(b.destinations, text(d))
			b.keys, b.ranks = append(b.keys, text(key)), append(b.ranks, int32(rank))
		}
	}
}

func (b *orderBatch) args() []any {
	return []any{b.eventIDs, b.destinations, b.keys, b.ranks}
}

// orderedNow returns the destinations that order by subject.
func (s *Store) orderedNow() map[string]bool {
	if m := s.ordered.Load(); m != nil {
		return *m
	}
	return nil
}

// loadOrdered reads which recorded routes order by subject. Instances
// sharing a schema are expected to share their routes: each orders what
// it appends by the routes it recorded (or found, when it records none).
func (s *Store) loadOrdered(ctx context.Context) error {
	routes, _, err := s.Routes(ctx)
	if err != nil {
		return err
	}
	ordered := store.OrderedRoutes(routes)
	s.ordered.Store(&ordered)
	return nil
}

// orderAdded orders the pending deliveries to destination, which orders
// by subject, of the events named, as an append would have, in tx.
func orderAdded(ctx context.Context, tx pgx.Tx, destination string, eventIDs []string) error {
	rows, err := tx.Query(ctx, `SELECT id, subject_kind, subject, status FROM events WHERE id = ANY($1::text[])`, eventIDs)
	if err != nil {
		return fmt.Errorf("postgres: order added deliveries: %w", err)
	}
	var (
		b  orderBatch
		ev = store.NewEvent{Destinations: []string{destination}}
	)
	_, err = pgx.ForEachRow(rows, []any{&ev.ID, &ev.SubjectKind, &ev.Subject, &ev.Status}, func() error {
		b.add(map[string]bool{destination: true}, &ev)
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: order added deliveries: %w", err)
	}
	if len(b.keys) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, orderSQL, b.args()...); err != nil {
		return fmt.Errorf("postgres: order added deliveries: %w", err)
	}
	return nil
}

// heldSubjectsSQL counts a destination's held subjects (store.Stats)
// through the index of those alone, up to store.MaxHeldCount.
const heldSubjectsSQL = `SELECT r.name, (SELECT COUNT(*) FROM (SELECT 1 FROM deliveries
 WHERE destination = r.name AND order_key <> '' AND NOT held AND status = 'pending' AND attempts > 0 LIMIT $1) h)
  FROM routes r WHERE r.ordering = 'subject'`

// heldSubjects counts the held subjects of each destination that orders by
// subject; nil when none does.
func (s *Store) heldSubjects(ctx context.Context) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, heldSubjectsSQL, store.MaxHeldCount)
	if err != nil {
		return nil, err
	}
	var (
		held map[string]int64
		name string
		n    int64
	)
	_, err = pgx.ForEachRow(rows, []any{&name, &n}, func() error {
		if held == nil {
			held = map[string]int64{}
		}
		held[name] = n
		return nil
	})
	return held, err
}
