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
INSERT INTO rejections (source, received_at, remote_addr, reason, detail, diagnosis, headers, body, size)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.Source, unixNano(r.ReceivedAt), r.RemoteAddr, r.Reason, r.Detail, r.Diagnosis, headers, body, size)
		if err != nil {
			return fmt.Errorf("sqlite: add rejection: %w", err)
		}
		if r.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		// Oldest first: past the count cap, then past the byte cap counted
		// from the newest.
		res, err = tx.ExecContext(ctx, `
DELETE FROM rejections WHERE id <= COALESCE((
    SELECT id FROM (
        SELECT id,
               ROW_NUMBER() OVER (ORDER BY id DESC) AS n,
               SUM(size)    OVER (ORDER BY id DESC) AS total
          FROM rejections)
     WHERE n > ? OR total > ?
     ORDER BY id DESC LIMIT 1), 0)`, limits.MaxCount, limits.MaxBytes)
		if err != nil {
			return fmt.Errorf("sqlite: prune rejections: %w", err)
		}
		dropped, err = res.RowsAffected()
		return err
	})
	return int(dropped), err
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

const rejectionColumns = `id, source, received_at, remote_addr, reason, detail, diagnosis, headers, released_at, event_id`

func scanRejection(row scanner, withBody bool) (*store.Rejection, error) {
	var (
		r                  store.Rejection
		received, released int64
		headers            string
	)
	dest := []any{&r.ID, &r.Source, &received, &r.RemoteAddr, &r.Reason, &r.Detail, &r.Diagnosis, &headers, &released, &r.EventID}
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
