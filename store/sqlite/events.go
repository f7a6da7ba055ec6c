package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hooklatch/hooklatch/store"
)

const eventColumns = `seq, id, source, dedupe_key, field, type, subject_kind, subject, status,
	occurred_at, received_at, scheme, attention, headers, duplicates, ifnull(trace_parent, ''), rank, stale`

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
		&ev.Subject, &ev.Status, &r.occurred, &r.received, &ev.Scheme, &ev.Attention, &r.headers, &ev.Duplicates, &ev.TraceParent, &ev.Rank, &ev.Stale}
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
		r.ev.DeliveryCounts = map[store.DeliveryStatus]int{}
		for st := range strings.SplitSeq(statuses.String, ",") {
			r.ev.DeliveryCounts[store.DeliveryStatus(st)]++
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
	types, none, err := store.PatternTypes(ctx, f.Type, s.storedTypes)
	if none || err != nil {
		return nil, err
	}
	q, args, err := listEventsSQL(f, types)
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

// skipScan lists the distinct values of column, which must lead an index
// of events: one probe of that index per value, however many events
// share it (a loose index scan). An empty table gives one NULL.
func skipScan(column string) string {
	return `WITH RECURSIVE v(v) AS (SELECT min(` + column + `) FROM events UNION ALL ` +
		`SELECT (SELECT min(` + column + `) FROM events WHERE ` + column + ` > v.v) FROM v WHERE v.v IS NOT NULL) ` +
		`SELECT v FROM v WHERE v IS NOT NULL`
}

// storedTypes lists the types of the stored events, through the (type,
// seq) index.
func (s *Store) storedTypes(ctx context.Context) ([]string, error) {
	rows, err := s.readDB.QueryContext(ctx, skipScan("type"))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list event types: %w", err)
	}
	defer rows.Close()
	var types []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, fmt.Errorf("sqlite: list event types: %w", err)
		}
		types = append(types, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list event types: %w", err)
	}
	return types, nil
}

// idTail is the expression events_id_tail (migration 0012) indexes: the
// last store.MinIDSuffix characters of an event's id. idTailIndexed is
// the condition of the events it holds since migration 0027: those whose
// id does not end with their body's hash (store.NewEventID). SQLite uses
// the index only for this very text.
const (
	idTail        = "substr(id, -6)"
	idTailIndexed = idTail + " IS NOT lower(hex(substr(body_sha256, 3, 1)) || hex(substr(body_sha256, 2, 1)) || hex(substr(body_sha256, 1, 1)))"
)

// listEventsSQL is ListEvents' statement. types are the stored types a
// pattern in f.Type names (see store.TypesMatching); unused for an exact
// type.
//
// Every filter is found through an index that yields events in seq
// order, so a page stops at its limit: one type walks the (type, seq)
// index; several are one walk each, merged by seq (a MERGE (UNION ALL)
// of co-routines, which reads only as far as the page needs).
func listEventsSQL(f store.EventFilter, types []string) (string, []any, error) {
	return listingSQL(f, types, eventColumns+", "+deliveryStatusesColumn, pageLimit(f.Limit))
}

// countingSQL is CountEvents' statement: the listing's walk, reading
// only the seq of each event it finds, up to limit of them.
func countingSQL(f store.EventFilter, types []string, limit int) (string, []any, error) {
	q, args, err := listingSQL(f, types, "e.seq", limit)
	return "SELECT count(*) FROM (" + q + ")", args, err
}

// listingSQL is the statement listing f's events with columns, up to
// limit of them.
func listingSQL(f store.EventFilter, types []string, columns string, limit int) (string, []any, error) {
	where, args, err := eventConditions(f)
	if err != nil {
		return "", nil, err
	}
	arms := store.TypeArms(f, types)
	if len(arms) == 0 && f.Type != "" {
		if prefix, _ := store.TypePrefix(f.Type); prefix != "" { // row by row
			where = append(where, "substr(type, 1, ?) = ?")
			args = append(args, len(prefix), prefix)
		}
	}
	if len(arms) == 1 {
		where = append([]string{"type = ?"}, where...)
		args = append([]any{arms[0]}, args...)
	}
	order, keyset, keyArgs := "ASC", []string(nil), []any(nil)
	switch {
	case f.AfterSeq > 0:
		keyset, keyArgs = []string{" > ?"}, []any{f.AfterSeq}
	case f.BeforeSeq > 0:
		keyset, keyArgs, order = []string{" < ?"}, []any{f.BeforeSeq}, "DESC"
	}
	if f.MinSeq > 0 {
		keyset, keyArgs = append(keyset, " >= ?"), append(keyArgs, f.MinSeq)
	}
	if walk, key, ok := listingWalk(f); ok {
		q, qArgs := walkedSQL(walk, key, keyset, order, columns, limit, where, args, keyArgs)
		return q, qArgs, nil
	}
	for _, k := range keyset {
		where = append(where, "seq"+k)
	}
	args = append(args, keyArgs...)
	page := " ORDER BY seq " + order + " LIMIT " + strconv.Itoa(limit)
	selected := `SELECT ` + columns + ` FROM events e`
	if len(arms) <= 1 {
		q := selected
		if len(where) > 0 {
			q += " WHERE " + strings.Join(where, " AND ")
		}
		return q + page, args, nil
	}
	var (
		merged  []string
		allArgs []any
	)
	for _, t := range arms {
		merged = append(merged, "SELECT seq FROM events e WHERE "+strings.Join(append([]string{"type = ?"}, where...), " AND "))
		allArgs = append(append(allArgs, t), args...)
	}
	return selected + " WHERE seq IN (" + strings.Join(merged, " UNION ALL ") + page + ")" + page, allArgs, nil
}

// pageLimit is a listing's LIMIT: 100 by default, at most 10000.
func pageLimit(limit int) int {
	if limit <= 0 {
		limit = 100
	}
	return min(limit, 10000)
}

// eventConditions are f's conditions on an event other than its type and
// seq.
func eventConditions(f store.EventFilter) ([]string, []any, error) {
	var (
		where []string
		args  []any
	)
	if f.Subject != "" {
		where = append(where, "subject = ?")
		args = append(args, f.Subject)
	}
	if f.Source != "" {
		where = append(where, "source = ?")
		args = append(args, f.Source)
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
		suffix := []rune(f.IDSuffix)
		if len(suffix) < store.MinIDSuffix {
			return nil, nil, fmt.Errorf("sqlite: list events: id suffix %q: give at least %d characters of the id", f.IDSuffix, store.MinIDSuffix)
		}
		// events_id_tail finds the few events sharing the last six whose
		// id was not made from their body's hash; the (source,
		// body_sha256) index, probed once per stored source, those
		// whose id was (store.BodyHashRange).
		q := "SELECT seq FROM events WHERE " + idTail + " = ? AND " + idTailIndexed + " AND substr(id, ?) = ?"
		args = append(args, string(suffix[len(suffix)-store.MinIDSuffix:]), -len(suffix), f.IDSuffix)
		if lo, hi, ok := store.BodyHashRange(f.IDSuffix); ok {
			q += " UNION ALL SELECT k.seq FROM (" + skipScan("source") + ") s JOIN events k ON k.source = s.v AND k.body_sha256 >= ?"
			args = append(args, lo)
			if hi != nil {
				q += " AND k.body_sha256 < ?"
				args = append(args, hi)
			}
			q += " WHERE substr(k.id, ?) = ?"
			args = append(args, -len(suffix), f.IDSuffix)
		}
		where = append(where, "seq IN ("+q+")")
	}
	if len(f.DedupeKeys) > 0 {
		// The (source, dedupe_key) index, probed once per stored source.
		where = append(where, "seq IN (SELECT k.seq FROM ("+skipScan("source")+") s JOIN events k ON k.source = s.v AND k.dedupe_key IN ("+
			placeholders(len(f.DedupeKeys))+"))")
		for _, k := range f.DedupeKeys {
			args = append(args, k)
		}
	}
	if f.AttentionOnly {
		where = append(where, "attention <> ''")
	}
	if f.Delivery != "" {
		cond, condArgs, err := deliveryStateCondition(f.Delivery)
		if err != nil {
			return nil, nil, err
		}
		if cond != "" {
			where, args = append(where, cond), append(args, condArgs...)
		}
	}
	return where, args, nil
}

// deliveryStateCondition selects the events that have a delivery in
// state, or none for DeliveryNone (store.DeliveryStateStatuses), but for the
// deliveries listingWalk walks for dead, pending and discarded events, which it
// leaves out. The other states are checked event by event, newest first,
// through the (event_seq, destination) index, so a page is found without
// reading every delivery. The unary + keeps SQLite from preferring a
// status index there (deliveries_listed), which would read all the
// deliveries in a status for every event.
func deliveryStateCondition(state store.DeliveryStatus) (string, []any, error) {
	statuses, ok := store.DeliveryStateStatuses(state)
	if !ok {
		return "", nil, fmt.Errorf("sqlite: list events: delivery state %q: want one of %s", state, strings.Join(store.DeliveryStates(), ", "))
	}
	switch state {
	case store.DeliveryDead, store.DeliveryPending, store.DeliveryDiscarded: // listingWalk walks their deliveries
		return "", nil, nil
	case store.DeliveryNone:
		return "NOT EXISTS (SELECT 1 FROM deliveries WHERE event_seq = e.seq)", nil, nil
	}
	args := make([]any, len(statuses))
	for i, st := range statuses {
		args[i] = st
	}
	return "EXISTS (SELECT 1 FROM deliveries WHERE event_seq = e.seq AND +status IN (" + placeholders(len(statuses)) + "))", args, nil
}

// listingWalk is the walk of a partial index (migrations 0014, 0019) that
// drives a listing by f, and the column of it that holds the events' seq:
// the deliveries of a dead, pending or discarded event, or the events marked for
// attention. ok is false when the listing walks the events instead. The
// indexes' conditions are written out, not bound, for SQLite to use them.
func listingWalk(f store.EventFilter) (walk, key string, ok bool) {
	switch {
	case f.Delivery == store.DeliveryDead:
		return "SELECT DISTINCT event_seq FROM deliveries INDEXED BY deliveries_dead WHERE status = 'dead'", "event_seq", true
	case f.Delivery == store.DeliveryPending:
		return "SELECT DISTINCT event_seq FROM deliveries INDEXED BY deliveries_open WHERE status IN ('pending', 'in_flight')", "event_seq", true
	case f.Delivery == store.DeliveryDiscarded:
		return "SELECT DISTINCT event_seq FROM deliveries INDEXED BY deliveries_discarded WHERE status = 'discarded'", "event_seq", true
	case f.AttentionOnly:
		return "SELECT seq AS event_seq FROM events INDEXED BY events_attention WHERE attention <> ''", "seq", true
	}
	return "", "", false
}

// walkedSQL lists the events walk yields that match where, in seq order
// from keyset: it walks the few rows walk's index holds, and looks up
// each one's event by its seq, so that a page costs the same however many
// events lie between them. where holds no condition on seq: keyset bounds
// the walk itself.
func walkedSQL(walk, key string, keyset []string, order, columns string, limit int, where []string, args, keyArgs []any) (string, []any) {
	for _, k := range keyset {
		walk += " AND " + key + k
	}
	// LIMIT -1 (none) keeps the walk's ORDER BY, which SQLite otherwise
	// drops from a subquery in FROM when the outer query has none.
	q := "SELECT " + columns + " FROM (" + walk + " ORDER BY " + key + " " + order +
		" LIMIT -1) d CROSS JOIN events e ON e.seq = d.event_seq"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	// No ORDER BY outside: SQLite would sort every event of the walk
	// before the LIMIT. The CROSS JOIN keeps the walk the outer loop, a
	// co-routine yielding in its own order (plan_test.go holds it there).
	return q + " LIMIT " + strconv.Itoa(limit), append(keyArgs, args...)
}

// CountEvents implements store.Store.
func (s *Store) CountEvents(ctx context.Context, f store.EventFilter) (int, error) {
	types, none, err := store.PatternTypes(ctx, f.Type, s.storedTypes)
	if none || err != nil {
		return 0, err
	}
	q, args, err := countingSQL(f, types, store.CountLimit(f.Limit))
	if err != nil {
		return 0, err
	}
	var n int
	if err := s.readDB.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count events: %w", err)
	}
	return n, nil
}

// receivedSinceSQL says whether one of the store.SinceWindow events from
// seq ?1 on was received at ?2 or later: a walk of the rowid from ?1.
var receivedSinceSQL = `SELECT EXISTS (SELECT 1 FROM (SELECT received_at FROM events WHERE seq >= ?1 ORDER BY seq LIMIT ` +
	strconv.Itoa(store.SinceWindow) + `) WHERE received_at >= ?2)`

// seqBoundsSQL reads the oldest and the newest seq: two subqueries, as
// SQLite seeks a lone min() or max() by the rowid but reads every event
// for both in one.
const seqBoundsSQL = `SELECT (SELECT min(seq) FROM events), (SELECT max(seq) FROM events)`

// SeqReceivedSince implements store.Store, by bisecting seq
// (store.SeqSince): no index holds events by time.
func (s *Store) SeqReceivedSince(ctx context.Context, t time.Time) (int64, error) {
	var first, last sql.NullInt64
	if err := s.readDB.QueryRowContext(ctx, seqBoundsSQL).Scan(&first, &last); err != nil {
		return 0, fmt.Errorf("sqlite: events received since: %w", err)
	}
	if !first.Valid {
		return 1, nil
	}
	at := t.UnixNano()
	seq, err := store.SeqSince(ctx, first.Int64, last.Int64, func(ctx context.Context, seq int64) (bool, error) {
		var ok bool
		err := s.readDB.QueryRowContext(ctx, receivedSinceSQL, seq, at).Scan(&ok)
		return ok, err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: events received since: %w", err)
	}
	return seq, nil
}
