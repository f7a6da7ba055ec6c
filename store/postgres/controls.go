package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/hooklatch/hooklatch/store"
)

// SetPaused implements store.Store. Every instance's dispatcher is woken
// to see the change (on resume, the backlog is due at once).
func (s *Store) SetPaused(ctx context.Context, destination string, paused bool, at time.Time) error {
	if s.isClosed() {
		return store.ErrClosed
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO destination_controls (name, paused, changed_at) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, changed_at = excluded.changed_at
 WHERE destination_controls.paused <> excluded.paused`, text(destination), paused, at)
	if err != nil {
		return fmt.Errorf("postgres: set paused %s: %w", destination, err)
	}
	s.announce()
	return nil
}

// Paused implements store.Store.
func (s *Store) Paused(ctx context.Context) (map[string]time.Time, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, changed_at FROM destination_controls WHERE paused`)
	if err != nil {
		return nil, fmt.Errorf("postgres: paused: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var (
			name string
			at   time.Time
		)
		if err := rows.Scan(&name, &at); err != nil {
			return nil, fmt.Errorf("postgres: paused: %w", err)
		}
		out[name] = at.UTC()
	}
	return out, rows.Err()
}

// backlogSQL counts a destination's waiting deliveries through
// deliveries_pending_destination, up to $2 (the counters are not kept
// per destination), and reads the first of them.
const backlogSQL = `
SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM deliveries
         WHERE destination = $1 AND status = 'pending' AND NOT held LIMIT $2) n),
       first.next_attempt_at, first.last_error
  FROM (SELECT 1) one LEFT JOIN LATERAL (
        SELECT next_attempt_at, last_error FROM deliveries
         WHERE destination = $1 AND status = 'pending' AND NOT held
         ORDER BY destination, next_attempt_at, id LIMIT 1) first ON true`

// Backlog implements store.Store. On PostgreSQL, Pending leaves out the
// deliveries held behind another of their subject.
func (s *Store) Backlog(ctx context.Context, destination string) (store.Backlog, error) {
	var (
		b       store.Backlog
		oldest  pgtype.Timestamptz
		lastErr pgtype.Text
	)
	err := s.pool.QueryRow(ctx, backlogSQL, text(destination), store.MaxHeldCount).Scan(&b.Pending, &oldest, &lastErr)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return b, fmt.Errorf("postgres: backlog: %w", err)
	}
	b.AtLeast = b.Pending >= store.MaxHeldCount
	b.Oldest, b.LastError = fromTS(oldest), lastErr.String
	return b, nil
}
