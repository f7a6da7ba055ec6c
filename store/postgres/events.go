package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/hooklatch/hooklatch/store"
)

const eventColumns = `seq, id, source, dedupe_key, field, type, subject_kind, subject, status,
	occurred_at, received_at, scheme, attention, headers, duplicates`

// eventColumnsOf is eventColumns of the table named alias.
func eventColumnsOf(alias string) string {
	cols := strings.Split(eventColumns, ",")
	for i, c := range cols {
		cols[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// eventRow receives eventColumns.
type eventRow struct {
	ev                 store.Event
	occurred, received pgtype.Timestamptz
	headers            string
}

func (r *eventRow) dest() []any {
	ev := &r.ev
	return []any{&ev.Seq, &ev.ID, &ev.Source, &ev.DedupeKey, &ev.Field, &ev.Type, &ev.SubjectKind,
		&ev.Subject, &ev.Status, &r.occurred, &r.received, &ev.Scheme, &ev.Attention, &r.headers, &ev.Duplicates}
}

func (r *eventRow) event() (*store.Event, error) {
	ev := &r.ev
	ev.OccurredAt, ev.ReceivedAt = fromTS(r.occurred), fromTS(r.received)
	if err := json.Unmarshal([]byte(r.headers), &ev.Headers); err != nil {
		return nil, fmt.Errorf("postgres: decode headers of event %s: %w", ev.ID, err)
	}
	return ev, nil
}

func scanEvent(row pgx.Row, withBody bool) (*store.Event, error) {
	var r eventRow
	dest := r.dest()
	if withBody {
		dest = append(dest, &r.ev.Body)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	if withBody && r.ev.Body == nil {
		r.ev.Body = []byte{}
	}
	return r.event()
}

// GetEvent implements store.Store.
func (s *Store) GetEvent(ctx context.Context, id string) (*store.Event, error) {
	ev, err := scanEvent(s.pool.QueryRow(ctx, `SELECT `+eventColumns+`, body FROM events WHERE id = $1`, text(id)), true)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get event: %w", err)
	}
	return ev, nil
}

// ListEvents implements store.Store.
func (s *Store) ListEvents(ctx context.Context, f store.EventFilter) ([]store.Event, error) {
	q, args, err := listEventsSQL(f)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list events: %w", err)
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var (
			r        eventRow
			statuses []string
		)
		if err := rows.Scan(append(r.dest(), &statuses)...); err != nil {
			return nil, fmt.Errorf("postgres: list events: %w", err)
		}
		if len(statuses) > 0 {
			r.ev.DeliveryCounts = map[string]int{}
			for _, st := range statuses {
				r.ev.DeliveryCounts[st]++
			}
		}
		ev, err := r.event()
		if err != nil {
			return nil, err
		}
		out = append(out, *ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list events: %w", err)
	}
	return out, nil
}

// args collects a statement's parameters and names their placeholders.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// listEventsSQL is ListEvents' statement.
func listEventsSQL(f store.EventFilter) (string, []any, error) {
	var (
		where []string
		a     args
	)
	if f.Type != "" {
		if prefix, ok := strings.CutSuffix(f.Type, "*"); ok {
			where = append(where, "starts_with(type, "+a.add(text(prefix))+")")
		} else {
			where = append(where, "type = "+a.add(text(f.Type)))
		}
	}
	if f.Subject != "" {
		where = append(where, "subject = "+a.add(text(f.Subject)))
	}
	if !f.Since.IsZero() {
		where = append(where, "received_at >= "+a.add(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "received_at < "+a.add(f.Until))
	}
	if f.IDSuffix != "" {
		suffix := text(f.IDSuffix)
		where = append(where, "right(id, "+a.add(utf8.RuneCountInString(suffix))+") = "+a.add(suffix))
	}
	if len(f.DedupeKeys) > 0 {
		// The (dedupe_key, source) index: no source is given.
		keys := make([]string, len(f.DedupeKeys))
		for i, k := range f.DedupeKeys {
			keys[i] = text(k)
		}
		where = append(where, "dedupe_key = ANY("+a.add(keys)+"::text[])")
	}
	if f.Delivery != "" && f.Delivery != store.DeliveryDead {
		cond, err := deliveryStateCondition(f.Delivery)
		if err != nil {
			return "", nil, err
		}
		where = append(where, cond)
	}
	order, keyset := "ASC", ""
	switch {
	case f.AfterSeq > 0:
		keyset = " > " + a.add(f.AfterSeq)
	case f.BeforeSeq > 0:
		keyset, order = " < "+a.add(f.BeforeSeq), "DESC"
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000)

	q := `SELECT ` + eventColumnsOf("events") + `, ARRAY(SELECT status FROM deliveries WHERE event_seq = events.seq) FROM `
	if f.Delivery == store.DeliveryDead {
		return q + deadEventsFrom(keyset, order, where) + " ORDER BY dead.event_seq " + order + " LIMIT " + strconv.Itoa(limit), a, nil
	}
	if keyset != "" {
		where = append(where, "seq"+keyset)
	}
	q += "events"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY seq " + order + " LIMIT " + strconv.Itoa(limit)
	return q, a, nil
}

// deadEventsFrom is the FROM clause of the events with a dead delivery
// that match where, in seq order from keyset: driven by the small
// deliveries_dead index, one event looked up by its key for each dead
// one, so that a page costs the same however many events lie between the
// dead ones. (Left to itself the planner walks the events and merges.)
func deadEventsFrom(keyset, order string, where []string) string {
	dead := "SELECT DISTINCT event_seq FROM deliveries WHERE status = 'dead'"
	if keyset != "" {
		dead += " AND event_seq" + keyset
	}
	match := "SELECT * FROM events WHERE events.seq = dead.event_seq"
	for _, w := range where {
		match += " AND " + w
	}
	// OFFSET 0 keeps the planner from flattening the lookup into a join.
	return "(" + dead + " ORDER BY event_seq " + order + ") dead CROSS JOIN LATERAL (" + match + " OFFSET 0) events"
}

// deliveryStateCondition selects the events whose deliveries sum up to
// state, by store.DeliveryStateRule. The statuses are written out, not
// bound, so that the planner can use the partial indexes they name.
func deliveryStateCondition(state string) (string, error) {
	with, without, ok := store.DeliveryStateRule(state)
	if !ok {
		return "", fmt.Errorf("postgres: list events: delivery state %q: want one of %s", state, strings.Join(store.DeliveryStates(), ", "))
	}
	var conds []string
	if len(with) > 0 {
		conds = append(conds, "EXISTS (SELECT 1 FROM deliveries WHERE event_seq = events.seq AND status IN ("+literals(with)+"))")
	}
	if len(without) > 0 {
		conds = append(conds, "NOT EXISTS (SELECT 1 FROM deliveries WHERE event_seq = events.seq AND status IN ("+literals(without)+"))")
	}
	return strings.Join(conds, " AND "), nil
}

// literals writes words as a list of SQL string literals.
func literals(words []string) string {
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = "'" + strings.ReplaceAll(w, "'", "''") + "'"
	}
	return strings.Join(quoted, ", ")
}
