package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hooklatch/hooklatch/store"
)

// AddRejection implements store.Store.
func (s *Store) AddRejection(ctx context.Context, r *store.Rejection, limits store.RejectionLimits) (int, error) {
	limits = limits.WithDefaults()
	headers, err := json.Marshal(r.Headers)
	if err != nil {
		return 0, fmt.Errorf("sqlite: encode headers: %w", err)
	}
	size := int64(len(r.Body) + len(headers) + len(r.Diagnosis) + len(r.Detail))
	if size > limits.MaxBytes {
		return 0, fmt.Errorf("%w: rejection of %d bytes, cap %d", store.ErrTooLarge, size, limits.MaxBytes)
	}
	body := r.Body
	if body == nil {
		body = []byte{}
	}
	var dropped int64
	err = s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
INSERT INTO rejections (source, received_at, remote_addr, reason, detail, diagnosis, headers, body, size,
                        body_bytes, body_sha256, truncated)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.Source, unixNano(r.ReceivedAt), r.RemoteAddr, r.Reason, r.Detail, r.Diagnosis, headers, body, size,
			r.BodyBytes, r.BodySHA256, r.Truncated)
		if err != nil {
			return fmt.Errorf("sqlite: add rejection: %w", err)
		}
		if r.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, pruneRejectionsSQL, limits.MaxCount, limits.MaxBytes)
		if err != nil {
			return fmt.Errorf("sqlite: prune rejections: %w", err)
		}
		dropped, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, err // dropped is the writer's until it has answered
	}
	return int(dropped), nil
}

// pruneRejectionsSQL splits the caps (count, then bytes) evenly across the
// reasons in the log and drops each reason's oldest past its share, always
// keeping its newest. It reads only the rejections_by_reason index.
const pruneRejectionsSQL = `
WITH share AS (
    SELECT MAX(?1 / n, 1) AS count, ?2 / n AS bytes
      FROM (SELECT COUNT(*) AS n FROM (SELECT DISTINCT source, reason FROM rejections))),
ranked AS (
    SELECT id,
           ROW_NUMBER() OVER by_reason AS k,
           SUM(size)    OVER by_reason AS total
      FROM rejections
    WINDOW by_reason AS (PARTITION BY source, reason ORDER BY id DESC))
DELETE FROM rejections WHERE id IN (
    SELECT id FROM ranked, share WHERE k > 1 AND (k > share.count OR total > share.bytes))`

// CountRejections implements store.Store.
func (s *Store) CountRejections(ctx context.Context, counts []store.RejectionCount) error {
	return s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, c := range counts {
			if c.Count <= 0 {
				continue
			}
			_, err := tx.ExecContext(ctx, `
INSERT INTO rejection_counts (source, reason, count, first_at, last_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (source, reason) DO UPDATE SET
    count    = count + excluded.count,
    first_at = MIN(first_at, excluded.first_at),
    last_at  = MAX(last_at, excluded.last_at)`,
				c.Source, c.Reason, c.Count, unixNano(c.FirstAt), unixNano(c.LastAt))
			if err != nil {
				return fmt.Errorf("sqlite: count rejections: %w", err)
			}
		}
		return nil
	})
}

// RejectionCounts implements store.Store.
func (s *Store) RejectionCounts(ctx context.Context) ([]store.RejectionCount, error) {
	rows, err := s.readDB.QueryContext(ctx, `
SELECT c.source, c.reason, c.count, c.first_at, c.last_at,
       (SELECT COUNT(*) FROM rejections r WHERE r.source = c.source AND r.reason = c.reason)
  FROM rejection_counts c
 ORDER BY c.count DESC, c.source, c.reason`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: rejection counts: %w", err)
	}
	defer rows.Close()
	var out []store.RejectionCount
	for rows.Next() {
		var c store.RejectionCount
		var first, last int64
		if err := rows.Scan(&c.Source, &c.Reason, &c.Count, &first, &last, &c.Kept); err != nil {
			return nil, fmt.Errorf("sqlite: rejection counts: %w", err)
		}
		c.FirstAt, c.LastAt = fromUnixNano(first), fromUnixNano(last)
		out = append(out, c)
	}
	return out, rows.Err()
}

// MarkRejectionReleased implements store.Store.
func (s *Store) MarkRejectionReleased(ctx context.Context, id int64, eventID string, at time.Time) error {
	return s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE rejections SET released_at = ?, event_id = ? WHERE id = ?`,
			unixNano(at), eventID, id)
		if err != nil {
			return fmt.Errorf("sqlite: mark released: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}

const rejectionColumns = `id, source, received_at, remote_addr, reason, detail, diagnosis, headers, released_at, event_id,
       body_bytes, body_sha256, truncated`

func scanRejection(row scanner, withBody bool) (*store.Rejection, error) {
	var (
		r                  store.Rejection
		received, released int64
		headers            string
	)
	dest := []any{&r.ID, &r.Source, &received, &r.RemoteAddr, &r.Reason, &r.Detail, &r.Diagnosis, &headers, &released, &r.EventID,
		&r.BodyBytes, &r.BodySHA256, &r.Truncated}
	if withBody {
		dest = append(dest, &r.Body)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	r.ReceivedAt = fromUnixNano(received)
	r.ReleasedAt = fromUnixNano(released)
	if err := json.Unmarshal([]byte(headers), &r.Headers); err != nil {
		return nil, fmt.Errorf("sqlite: decode headers of rejection %d: %w", r.ID, err)
	}
	return &r, nil
}

// ListRejections implements store.Store.
func (s *Store) ListRejections(ctx context.Context, limit int) ([]store.Rejection, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.readDB.QueryContext(ctx, `SELECT `+rejectionColumns+` FROM rejections ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list rejections: %w", err)
	}
	defer rows.Close()
	var out []store.Rejection
	for rows.Next() {
		r, err := scanRejection(rows, false)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list rejections: %w", err)
		}
		out = append(out, *r)
	}
	return out, rows.Err()
}

// GetRejection implements store.Store.
func (s *Store) GetRejection(ctx context.Context, id int64) (*store.Rejection, error) {
	row := s.readDB.QueryRowContext(ctx, `SELECT `+rejectionColumns+`, body FROM rejections WHERE id = ?`, id)
	r, err := scanRejection(row, true)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get rejection: %w", err)
	}
	return r, nil
}
