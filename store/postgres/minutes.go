package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hooklatch/hooklatch/store"
)

// AddMinutes implements store.Store. Instances sharing the schema add to
// the same rows: a minute is the sum over all of them.
func (s *Store) AddMinutes(ctx context.Context, minutes []store.MinuteStats, keepFrom time.Time) error {
	if s.isClosed() {
		return store.ErrClosed
	}
	// In time order, so that instances adding at once lock rows alike.
	minutes = slices.Clone(minutes)
	slices.SortFunc(minutes, func(a, b store.MinuteStats) int { return a.Start.Compare(b.Start) })
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, m := range minutes {
			start := m.Start.Truncate(time.Minute)
			if _, err := tx.Exec(ctx, `INSERT INTO minutes (start) VALUES ($1) ON CONFLICT (start) DO NOTHING`, start); err != nil {
				return err
			}
			var ack string
			if err := tx.QueryRow(ctx, `SELECT ack FROM minutes WHERE start = $1 FOR UPDATE`, start).Scan(&ack); err != nil {
				return err
			}
			old, err := store.DecodeBuckets(ack)
			if err != nil {
				return err
			}
			sum := store.MinuteStats{AckBuckets: old}
			sum.Add(store.MinuteStats{AckBuckets: m.AckBuckets})
			_, err = tx.Exec(ctx, `
UPDATE minutes SET received = received + $2, duplicates = duplicates + $3, rejected = rejected + $4,
       refused = refused + $5, delivered = delivered + $6, failed = failed + $7, dead = dead + $8, ack = $9
 WHERE start = $1`,
				start, m.Received, m.Duplicates, m.Rejected, m.Refused, m.Delivered, m.Failed, m.Dead, store.EncodeBuckets(sum.AckBuckets))
			if err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `DELETE FROM minutes WHERE start < $1`, keepFrom)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: add minutes: %w", err)
	}
	return nil
}

// Minutes implements store.Store.
func (s *Store) Minutes(ctx context.Context, since time.Time) ([]store.MinuteStats, error) {
	rows, err := s.pool.Query(ctx, `
SELECT start, received, duplicates, rejected, refused, delivered, failed, dead, ack
  FROM minutes WHERE start >= $1 ORDER BY start`, since)
	if err != nil {
		return nil, fmt.Errorf("postgres: minutes: %w", err)
	}
	defer rows.Close()
	var out []store.MinuteStats
	for rows.Next() {
		var m store.MinuteStats
		var ack string
		if err := rows.Scan(&m.Start, &m.Received, &m.Duplicates, &m.Rejected, &m.Refused, &m.Delivered, &m.Failed, &m.Dead, &ack); err != nil {
			return nil, fmt.Errorf("postgres: minutes: %w", err)
		}
		m.Start = m.Start.UTC()
		if m.AckBuckets, err = store.DecodeBuckets(ack); err != nil {
			return nil, fmt.Errorf("postgres: minutes: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: minutes: %w", err)
	}
	return out, nil
}
