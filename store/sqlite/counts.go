package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/hooklatch/hooklatch/store"
)

// Counters (migration 0011): how many events, duplicates and attention
// events are stored, and how many deliveries each destination has in each
// status. Stats reads them instead of the tables, so it costs the same at
// 20 M events as at 20 k.
//
// The writer keeps them exact: every statement that adds, deletes or moves
// an event or a delivery notes what it changed in counts, and the
// transaction writes the sums before it commits (flushCounts), a statement
// per destination and status it touched. A transaction that rolls back
// leaves the counters as they were, as it leaves the rows. Go code rather
// than triggers: a trigger costs a statement per event and per delivery on
// the ingest path, the sums one per transaction (docs/performance.md).

// deliveryKey is a counter of deliveries: one destination, one status.
type deliveryKey struct {
	destination string
	status      store.DeliveryStatus
}

// counts are the open transaction's changes to the counters.
type counts struct {
	events, duplicates, attention int64
	deliveries                    map[deliveryKey]int64
}

func newCounts() counts { return counts{deliveries: map[deliveryKey]int64{}} }

func (c *counts) reset() {
	c.events, c.duplicates, c.attention = 0, 0, 0
	clear(c.deliveries)
}

// event notes an event stored.
func (c *counts) event(attention bool) {
	c.events++
	if attention {
		c.attention++
	}
}

// add notes n deliveries to destination that entered status (n < 0: left
// it).
func (c *counts) add(destination string, status store.DeliveryStatus, n int64) {
	if n != 0 {
		c.deliveries[deliveryKey{destination, status}] += n
	}
}

// move notes n deliveries to destination that went from one status to
// another.
func (c *counts) move(destination string, from, to store.DeliveryStatus, n int64) {
	if from != to {
		c.add(destination, from, -n)
		c.add(destination, to, n)
	}
}

const (
	countEventsSQL     = `UPDATE event_counts SET events = events + ?, duplicates = duplicates + ?, attention = attention + ?`
	countDeliveriesSQL = `INSERT INTO delivery_counts (destination, status, n) VALUES (?, ?, ?)
ON CONFLICT (destination, status) DO UPDATE SET n = n + excluded.n`
	// statusCountsSQL counts, by destination and status, the deliveries a
	// statement is about to change: its WHERE clause follows.
	statusCountsSQL = `SELECT destination, status, COUNT(*) FROM deliveries WHERE `
)

// flushCounts writes the open transaction's changes to the counters.
func (s *Store) flushCounts(ctx context.Context, tx *sql.Tx) error {
	c := &s.counts
	if c.events != 0 || c.duplicates != 0 || c.attention != 0 {
		if _, err := s.execWriter(ctx, tx, countEventsSQL, c.events, c.duplicates, c.attention); err != nil {
			return fmt.Errorf("sqlite: count events: %w", err)
		}
	}
	for k, n := range c.deliveries {
		if n == 0 {
			continue
		}
		if _, err := s.execWriter(ctx, tx, countDeliveriesSQL, k.destination, k.status, n); err != nil {
			return fmt.Errorf("sqlite: count deliveries: %w", err)
		}
	}
	c.reset()
	return nil
}

// countStatuses notes that the deliveries matching where (a condition on
// deliveries, with args) are about to leave their statuses for to.
func (s *Store) countStatuses(ctx context.Context, tx *sql.Tx, to store.DeliveryStatus, where string, args []any) error {
	rows, err := tx.QueryContext(ctx, statusCountsSQL+where+` GROUP BY destination, status`, args...)
	if err != nil {
		return fmt.Errorf("sqlite: count deliveries: %w", err)
	}
	if err := s.counts.leave(rows, to); err != nil {
		return fmt.Errorf("sqlite: count deliveries: %w", err)
	}
	return nil
}

// leave notes, for each row of (destination, status, n) that rows holds,
// that n deliveries leave status: for status to, or for none when to is
// empty (they are deleted). It closes rows.
func (c *counts) leave(rows *sql.Rows, to store.DeliveryStatus) error {
	defer rows.Close()
	for rows.Next() {
		var (
			destination string
			status      store.DeliveryStatus
			n           int64
		)
		if err := rows.Scan(&destination, &status, &n); err != nil {
			return err
		}
		if to == "" {
			c.add(destination, status, -n)
		} else {
			c.move(destination, status, to, n)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}

// readCounts reads the counters, and the size of the bounded rejection
// log.
func readCounts(ctx context.Context, db *sql.DB) (store.Stats, error) {
	var st store.Stats
	err := db.QueryRowContext(ctx, `SELECT events, duplicates, attention, (SELECT COUNT(*) FROM rejections) FROM event_counts`).
		Scan(&st.Events, &st.Duplicates, &st.Attention, &st.Rejections)
	if err != nil {
		return st, err
	}
	st.Deliveries = map[store.DeliveryStatus]int64{}
	rows, err := db.QueryContext(ctx, `SELECT status, SUM(n) FROM delivery_counts GROUP BY status HAVING SUM(n) != 0`)
	if err != nil {
		return st, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			status store.DeliveryStatus
			n      int64
		)
		if err := rows.Scan(&status, &n); err != nil {
			return st, err
		}
		st.Deliveries[status] = n
	}
	return st, rows.Err()
}
