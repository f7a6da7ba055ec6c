package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/hooklatch/hooklatch/store"
)

// rejectionLockSQL serializes the rejection log's writers across
// instances: each prunes by the shares the others' rows leave it.
const rejectionLockSQL = `SELECT pg_advisory_xact_lock(hashtextextended('hooklatch rejections ' || current_schema(), 0))`

// AddRejection implements store.Store.
func (s *Store) AddRejection(ctx context.Context, r *store.Rejection, limits store.RejectionLimits) (int, error) {
	if s.isClosed() {
		return 0, store.ErrClosed
	}
	limits = limits.WithDefaults()
	headers, err := json.Marshal(r.Headers)
	if err != nil {
		return 0, fmt.Errorf("postgres: encode headers: %w", err)
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
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, rejectionLockSQL); err != nil {
			return fmt.Errorf("postgres: add rejection: %w", err)
		}
		err := tx.QueryRow(ctx, `
INSERT INTO rejections (source, received_at, remote_addr, reason, detail, diagnosis, headers, body, size,
                        body_bytes, body_sha256, truncated)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
			text(r.Source), r.ReceivedAt, text(r.RemoteAddr), text(r.Reason), text(r.Detail), text(r.Diagnosis), string(headers), body, size,
			r.BodyBytes, text(r.BodySHA256), r.Truncated).Scan(&r.ID)
		if err != nil {
			return fmt.Errorf("postgres: add rejection: %w", err)
		}
		tag, err := tx.Exec(ctx, pruneRejectionsSQL, limits.MaxCount, limits.MaxBytes)
		if err != nil {
			return fmt.Errorf("postgres: prune rejections: %w", err)
		}
		dropped = tag.RowsAffected()
		return nil
	})
	return int(dropped), err
}

// pruneRejectionsSQL splits the caps (count, then bytes) evenly across the
// reasons in the log and drops each reason's oldest past its share, always
// keeping its newest.
const pruneRejectionsSQL = `
WITH share AS (
    SELECT GREATEST($1::bigint / n, 1) AS count, $2::bigint / n AS bytes
      FROM (SELECT COUNT(*) AS n FROM (SELECT DISTINCT source, reason FROM rejections) r) c),
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
	if s.isClosed() {
		return store.ErrClosed
	}
	// In key order, so that instances counting at once lock rows alike.
	counts = slices.Clone(counts)
	slices.SortFunc(counts, func(a, b store.RejectionCount) int {
		return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(a.Reason, b.Reason))
	})
	b := &pgx.Batch{}
	for _, c := range counts {
		if c.Count <= 0 {
			continue
		}
		b.Queue(`
INSERT INTO rejection_counts AS rc (source, reason, count, first_at, last_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (source, reason) DO UPDATE SET
    count    = rc.count + excluded.count,
    first_at = LEAST(rc.first_at, excluded.first_at),
    last_at  = GREATEST(rc.last_at, excluded.last_at)`,
			text(c.Source), text(c.Reason), c.Count, c.FirstAt, c.LastAt)
	}
	if b.Len() == 0 {
		return nil
	}
	// A batch runs as one transaction.
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("postgres: count rejections: %w", err)
	}
	return nil
}

// RejectionCounts implements store.Store.
func (s *Store) RejectionCounts(ctx context.Context) ([]store.RejectionCount, error) {
	rows, err := s.pool.Query(ctx, `
SELECT c.source, c.reason, c.count, c.first_at, c.last_at,
       (SELECT COUNT(*) FROM rejections r WHERE r.source = c.source AND r.reason = c.reason)
  FROM rejection_counts c
 ORDER BY c.count DESC, c.source, c.reason`)
	if err != nil {
		return nil, fmt.Errorf("postgres: rejection counts: %w", err)
	}
	defer rows.Close()
	var out []store.RejectionCount
	for rows.Next() {
		var c store.RejectionCount
		if err := rows.Scan(&c.Source, &c.Reason, &c.Count, &c.FirstAt, &c.LastAt, &c.Kept); err != nil {
			return nil, fmt.Errorf("postgres: rejection counts: %w", err)
		}
		c.FirstAt, c.LastAt = c.FirstAt.UTC(), c.LastAt.UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

// MarkRejectionReleased implements store.Store.
func (s *Store) MarkRejectionReleased(ctx context.Context, id int64, eventID string, at time.Time) error {
	n, err := s.update(ctx, `UPDATE rejections SET released_at = $1, event_id = $2 WHERE id = $3`, args{at, text(eventID), id})
	if err != nil {
		return fmt.Errorf("postgres: mark released: %w", err)
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

const rejectionColumns = `id, source, received_at, remote_addr, reason, detail, diagnosis, headers, released_at, event_id,
       body_bytes, body_sha256, truncated`

func scanRejection(row pgx.Row, withBody bool) (*store.Rejection, error) {
	var (
		r        store.Rejection
		released pgtype.Timestamptz
		headers  string
	)
	dest := []any{&r.ID, &r.Source, &r.ReceivedAt, &r.RemoteAddr, &r.Reason, &r.Detail, &r.Diagnosis, &headers, &released, &r.EventID,
		&r.BodyBytes, &r.BodySHA256, &r.Truncated}
	if withBody {
		dest = append(dest, &r.Body)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	r.ReceivedAt, r.ReleasedAt = r.ReceivedAt.UTC(), fromTS(released)
	if err := json.Unmarshal([]byte(headers), &r.Headers); err != nil {
		return nil, fmt.Errorf("postgres: decode headers of rejection %d: %w", r.ID, err)
	}
	return &r, nil
}

// ListRejections implements store.Store.
func (s *Store) ListRejections(ctx context.Context, limit int) ([]store.Rejection, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.pool.Query(ctx, `SELECT `+rejectionColumns+` FROM rejections ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: list rejections: %w", err)
	}
	defer rows.Close()
	var out []store.Rejection
	for rows.Next() {
		r, err := scanRejection(rows, false)
		if err != nil {
			return nil, fmt.Errorf("postgres: list rejections: %w", err)
		}
		out = append(out, *r)
	}
	return out, rows.Err()
}

// GetRejection implements store.Store.
func (s *Store) GetRejection(ctx context.Context, id int64) (*store.Rejection, error) {
	r, err := scanRejection(s.pool.QueryRow(ctx, `SELECT `+rejectionColumns+`, body FROM rejections WHERE id = $1`, id), true)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get rejection: %w", err)
	}
	return r, nil
}
