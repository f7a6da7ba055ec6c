package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hooklatch/hooklatch/store"
)

// AddMinutes implements store.Store.
func (s *Store) AddMinutes(ctx context.Context, minutes []store.MinuteStats, keepFrom time.Time) error {
	return s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, m := range minutes {
			start := unixNano(m.Start.Truncate(time.Minute))
			var ack string
			err := tx.QueryRowContext(ctx, `SELECT ack FROM minutes WHERE start = ?`, start).Scan(&ack)
			switch {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				return fmt.Errorf("sqlite: add minutes: %w", err)
			default:
				old, err := store.DecodeBuckets(ack)
				if err != nil {
					return fmt.Errorf("sqlite: add minutes: %w", err)
				}
				sum := store.MinuteStats{AckBuckets: old}
				sum.Add(store.MinuteStats{AckBuckets: m.AckBuckets})
				m.AckBuckets = sum.AckBuckets
			}
			_, err = tx.ExecContext(ctx, `
INSERT INTO minutes (start, received, duplicates, rejected, refused, delivered, failed, dead, ack)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (start) DO UPDATE SET
    received   = received + excluded.received,
    duplicates = duplicates + excluded.duplicates,
    rejected   = rejected + excluded.rejected,
    refused    = refused + excluded.refused,
    delivered  = delivered + excluded.delivered,
    failed     = failed + excluded.failed,
    dead       = dead + excluded.dead,
    ack        = excluded.ack`,
				start, m.Received, m.Duplicates, m.Rejected, m.Refused, m.Delivered, m.Failed, m.Dead, store.EncodeBuckets(m.AckBuckets))
			if err != nil {
				return fmt.Errorf("sqlite: add minutes: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM minutes WHERE start < ?`, unixNano(keepFrom)); err != nil {
			return fmt.Errorf("sqlite: prune minutes: %w", err)
		}
		return nil
	})
}

// Minutes implements store.Store.
func (s *Store) Minutes(ctx context.Context, since time.Time) ([]store.MinuteStats, error) {
	rows, err := s.readDB.QueryContext(ctx, `
SELECT start, received, duplicates, rejected, refused, delivered, failed, dead, ack
  FROM minutes WHERE start >= ? ORDER BY start`, unixNano(since))
	if err != nil {
		return nil, fmt.Errorf("sqlite: minutes: %w", err)
	}
	defer rows.Close()
	var out []store.MinuteStats
	for rows.Next() {
		var m store.MinuteStats
		var start int64
		var ack string
		if err := rows.Scan(&start, &m.Received, &m.Duplicates, &m.Rejected, &m.Refused, &m.Delivered, &m.Failed, &m.Dead, &ack); err != nil {
			return nil, fmt.Errorf("sqlite: minutes: %w", err)
		}
		m.Start = fromUnixNano(start)
		if m.AckBuckets, err = store.DecodeBuckets(ack); err != nil {
			return nil, fmt.Errorf("sqlite: minutes: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}
