package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/hooklatch/hooklatch/store"
)

// SetPaused implements store.Store.
func (s *Store) SetPaused(ctx context.Context, destination string, paused bool, at time.Time) error {
	return s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO destination_controls (name, paused, changed_at) VALUES (?, ?, ?)
ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, changed_at = excluded.changed_at
 WHERE destination_controls.paused <> excluded.paused`, destination, paused, unixNano(at))
		if err != nil {
			return fmt.Errorf("sqlite: set paused %s: %w", destination, err)
		}
		// From the next statement on, appends take no delivery to it
		// (handoff.go). A resume whose transaction then fails leaves
		// appends free to take them while the dispatcher, which reads
		// the pauses stored, still holds them back.
		if paused {
			s.pausedNow[destination] = true
		} else {
			delete(s.pausedNow, destination)
		}
		return nil
	})
}

// Paused implements store.Store.
func (s *Store) Paused(ctx context.Context) (map[string]time.Time, error) {
	rows, err := s.readDB.QueryContext(ctx, `SELECT name, changed_at FROM destination_controls WHERE paused <> 0`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: paused: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var (
			name string
			at   int64
		)
		if err := rows.Scan(&name, &at); err != nil {
			return nil, fmt.Errorf("sqlite: paused: %w", err)
		}
		out[name] = fromUnixNano(at)
	}
	return out, rows.Err()
}

// Backlog implements store.Store: the pending count from the counters the
// writer keeps, the oldest through deliveries_pending_destination.
func (s *Store) Backlog(ctx context.Context, destination string) (store.Backlog, error) {
	var (
		b       store.Backlog
		oldest  sql.NullInt64
		lastErr sql.NullString
	)
	err := s.readDB.QueryRowContext(ctx, `SELECT COALESCE((SELECT SUM(n) FROM delivery_counts WHERE destination = ?1 AND status = 'pending'), 0)`, destination).Scan(&b.Pending)
	if err != nil {
		return b, fmt.Errorf("sqlite: backlog: %w", err)
	}
	err = s.readDB.QueryRowContext(ctx, backlogOldestSQL, destination).Scan(&oldest, &lastErr)
	switch {
	case err == sql.ErrNoRows:
	case err != nil:
		return b, fmt.Errorf("sqlite: backlog: %w", err)
	default:
		b.Oldest, b.LastError = fromUnixNano(oldest.Int64), lastErr.String
	}
	return b, nil
}

// backlogOldestSQL reads a destination's first waiting delivery.
var backlogOldestSQL = strings.TrimSpace(`
SELECT next_attempt_at, last_error FROM deliveries INDEXED BY deliveries_pending_destination
 WHERE destination = ? AND status = 'pending' AND held = 0 ORDER BY next_attempt_at LIMIT 1`)
