package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hooklatch/hooklatch/store"
)

const eventColumns = `seq, id, source, dedupe_key, field, type, subject_kind, subject, status,
	occurred_at, received_at, scheme, attention, headers, duplicates`

type scanner interface{ Scan(dest ...any) error }

func scanEvent(row scanner, withBody bool) (*store.Event, error) {
	var (
		ev                 store.Event
		occurred, received int64
		headers            string
		dest               []any
	)
	dest = append(dest, &ev.Seq, &ev.ID, &ev.Source, &ev.DedupeKey, &ev.Field, &ev.Type, &ev.SubjectKind,
		&ev.Subject, &ev.Status, &occurred, &received, &ev.Scheme, &ev.Attention, &headers, &ev.Duplicates)
	if withBody {
		dest = append(dest, &ev.Body)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	ev.OccurredAt = fromUnixNano(occurred)
	ev.ReceivedAt = fromUnixNano(received)
	if err := json.Unmarshal([]byte(headers), &ev.Headers); err != nil {
		return nil, fmt.Errorf("sqlite: decode headers of event %s: %w", ev.ID, err)
	}
	return &ev, nil
}

// GetEvent implements store.Store.
func (s *Store) GetEvent(ctx context.Context, id string) (*store.Event, error) {
	row := s.readDB.QueryRowContext(ctx, `SELECT `+eventColumns+`, body FROM events WHERE id = ?`, id)
	ev, err := scanEvent(row, true)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get event: %w", err)
	}
	return ev, nil
}

// ListEvents implements store.Store.
func (s *Store) ListEvents(ctx context.Context, f store.EventFilter) ([]store.Event, error) {
	var (
		where []string
		args  []any
	)
	if f.Type != "" {
		if prefix, ok := strings.CutSuffix(f.Type, "*"); ok {
			where = append(where, "substr(type, 1, ?) = ?")
			args = append(args, len(prefix), prefix)
		} else {
			where = append(where, "type = ?")
			args = append(args, f.Type)
		}
	}
	if f.Subject != "" {
		where = append(where, "subject = ?")
		args = append(args, f.Subject)
	}
	if !f.Since.IsZero() {
		where = append(where, "received_at >= ?")
		args = append(args, f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		where = append(where, "received_at < ?")
		args = append(args, f.Until.UnixNano())
	}
	order := "ASC"
	switch {
	case f.AfterSeq > 0:
		where = append(where, "seq > ?")
		args = append(args, f.AfterSeq)
	case f.BeforeSeq > 0:
		where = append(where, "seq < ?")
		args = append(args, f.BeforeSeq)
		order = "DESC"
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000)

	q := `SELECT ` + eventColumns + ` FROM events`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY seq " + order + " LIMIT " + strconv.Itoa(limit)

	rows, err := s.readDB.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list events: %w", err)
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		ev, err := scanEvent(rows, false)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list events: %w", err)
		}
		out = append(out, *ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list events: %w", err)
	}
	return out, nil
}
