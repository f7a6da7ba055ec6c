package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hooklatch/hooklatch/store"
)

const eventColumns = `seq, id, source, dedupe_key, field, type, subject_kind, subject, status,
	occurred_at, received_at, scheme, attention, headers, duplicates`

type scanner interface{ Scan(dest ...any) error }

// eventRow receives eventColumns.
type eventRow struct {
	ev                 store.Event
	occurred, received int64
	headers            string
}

func (r *eventRow) dest() []any {
	ev := &r.ev
	return []any{&ev.Seq, &ev.ID, &ev.Source, &ev.DedupeKey, &ev.Field, &ev.Type, &ev.SubjectKind,
		&ev.Subject, &ev.Status, &r.occurred, &r.received, &ev.Scheme, &ev.Attention, &r.headers, &ev.Duplicates}
}

func (r *eventRow) event() (*store.Event, error) {
	ev := &r.ev
	ev.OccurredAt = fromUnixNano(r.occurred)
	ev.ReceivedAt = fromUnixNano(r.received)
	var err error
	if ev.Headers, err = decodeHeaders(r.headers); err != nil {
		return nil, fmt.Errorf("sqlite: decode headers of event %s: %w", ev.ID, err)
	}
	return ev, nil
}

func scanEvent(row scanner, withBody bool) (*store.Event, error) {
	var r eventRow
	dest := r.dest()
	if withBody {
		dest = append(dest, &r.ev.Body)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	return r.event()
}

// deliveryStatusesColumn lists an event's delivery statuses, one per
// delivery, through the (event_seq, destination) index.
const deliveryStatusesColumn = `(SELECT group_concat(status) FROM deliveries WHERE event_seq = e.seq)`

// scanListedEvent scans eventColumns and deliveryStatusesColumn.
func scanListedEvent(row scanner) (*store.Event, error) {
	var (
		r        eventRow
		statuses sql.NullString
	)
	if err := row.Scan(append(r.dest(), &statuses)...); err != nil {
		return nil, err
	}
	if statuses.Valid {
		r.ev.DeliveryCounts = map[string]int{}
		for st := range strings.SplitSeq(statuses.String, ",") {
			r.ev.DeliveryCounts[st]++
		}
	}
	return r.event()
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
	q, args, err := listEventsSQL(f)
	if err != nil {
		return nil, err
	}
	rows, err := s.readDB.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list events: %w", err)
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		ev, err := scanListedEvent(rows)
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

// listEventsSQL is ListEvents' statement.
func listEventsSQL(f store.EventFilter) (string, []any, error) {
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
	if f.IDSuffix != "" {
		// No index holds ids by their end: this reads the id index, which
		// is much smaller than the table, rather than the events.
		where = append(where, "seq IN (SELECT seq FROM events WHERE substr(id, ?) = ?)")
		args = append(args, -len(f.IDSuffix), f.IDSuffix)
	}
	if len(f.DedupeKeys) > 0 {
		// The (source, dedupe_key) index, read whole: no source is given.
		where = append(where, "seq IN (SELECT seq FROM events WHERE dedupe_key IN ("+placeholders(len(f.DedupeKeys))+"))")
		for _, k := range f.DedupeKeys {
			args = append(args, k)
		}
	}
	if f.Delivery != "" {
		cond, condArgs, err := deliveryStateCondition(f.Delivery)
		if err != nil {
			return "", nil, err
		}
		where, args = append(where, cond), append(args, condArgs...)
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

	q := `SELECT ` + eventColumns + `, ` + deliveryStatusesColumn + ` FROM events e`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY seq " + order + " LIMIT " + strconv.Itoa(limit)
	return q, args, nil
}

// deliveryStateCondition selects the events whose deliveries sum up to
// state (store.DeliveryStateRule). Dead and pending events are found
// through deliveries_status, from the few rows in those statuses. The
// other states are checked event by event, newest first, through the
// (event_seq, destination) index, so a page is found without reading
// every delivery. The unary + keeps SQLite from preferring
// deliveries_status there, which would read all succeeded deliveries for
// every event.
func deliveryStateCondition(state string) (string, []any, error) {
	with, without, ok := store.DeliveryStateRule(state)
	if !ok {
		return "", nil, fmt.Errorf("sqlite: list events: delivery state %q: want one of %s", state, strings.Join(store.DeliveryStates(), ", "))
	}
	var (
		conds []string
		args  []any
	)
	in := func(column string, statuses []string) string {
		for _, st := range statuses {
			args = append(args, st)
		}
		return column + " IN (" + placeholders(len(statuses)) + ")"
	}
	switch state {
	case store.DeliveryDead, store.DeliveryPending:
		conds = append(conds, "seq IN (SELECT event_seq FROM deliveries INDEXED BY deliveries_status WHERE "+in("status", with)+")")
	case store.DeliveryNone:
	default:
		conds = append(conds, "EXISTS (SELECT 1 FROM deliveries WHERE event_seq = e.seq AND "+in("+status", with)+")")
	}
	if len(without) > 0 {
		conds = append(conds, "NOT EXISTS (SELECT 1 FROM deliveries WHERE event_seq = e.seq AND "+in("+status", without)+")")
	}
	return strings.Join(conds, " AND "), args, nil
}
