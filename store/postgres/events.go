package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/hooklatch/hooklatch/store"
)

const eventColumns = `seq, id, source, dedupe_key, field, type, subject_kind, subject, status,
	occurred_at, received_at, scheme, attention, headers, duplicates, trace_parent, rank, stale`

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
	traceParent        pgtype.Text
}

func (r *eventRow) dest() []any {
	ev := &r.ev
	return []any{&ev.Seq, &ev.ID, &ev.Source, &ev.DedupeKey, &ev.Field, &ev.Type, &ev.SubjectKind,
		&ev.Subject, &ev.Status, &r.occurred, &r.received, &ev.Scheme, &ev.Attention, &r.headers, &ev.Duplicates, &r.traceParent, &ev.Rank, &ev.Stale}
}

func (r *eventRow) event() (*store.Event, error) {
	ev := &r.ev
	ev.OccurredAt, ev.ReceivedAt = fromTS(r.occurred), fromTS(r.received)
	ev.TraceParent = r.traceParent.String
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
	types, none, err := store.PatternTypes(ctx, f.Type, s.storedTypes)
	if none || err != nil {
		return nil, err
	}
	q, args, err := listEventsSQL(f, types)
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
			r.ev.DeliveryCounts = map[store.DeliveryStatus]int{}
			for _, st := range statuses {
				r.ev.DeliveryCounts[store.DeliveryStatus(st)]++
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

// storedTypesSQL lists the types of the stored events: one probe of the
// (type, seq) index per type, however many events share it (a loose
// index scan).
const storedTypesSQL = `WITH RECURSIVE t(t) AS (SELECT min(type) FROM events UNION ALL ` +
	`SELECT (SELECT min(type) FROM events WHERE type > t.t) FROM t WHERE t.t IS NOT NULL) ` +
	`SELECT t FROM t WHERE t IS NOT NULL`

// storedTypes lists the types of the stored events.
func (s *Store) storedTypes(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, storedTypesSQL)
	if err != nil {
		return nil, fmt.Errorf("postgres: list event types: %w", err)
	}
	types, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: list event types: %w", err)
	}
	return types, nil
}

// args collects a statement's parameters and names their placeholders.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// idTail is the expression events_id_tail (migration 0004) indexes: the
// last store.MinIDSuffix characters of an event's id. idTailIndexed is
// the condition of the events it holds since migration 0016: those whose
// id does not end with their body's hash (store.NewEventID). The planner
// uses the index only for this very text.
const (
	idTail        = "right(id, 6)"
	idTailIndexed = idTail + " IS DISTINCT FROM encode(substring(body_sha256 FROM 3 FOR 1) || substring(body_sha256 FROM 2 FOR 1) || substring(body_sha256 FROM 1 FOR 1), 'hex')"
)

// listEventsSQL is ListEvents' statement. types are the stored types a
// pattern in f.Type names (see store.TypesMatching); unused for an exact
// type.
//
// Every filter is found through an index that yields events in seq
// order, so a page stops at its limit: one type walks the (type, seq)
// index; several are one walk each, merged by seq (a Merge Append, which
// reads only as far as the page needs).
func listEventsSQL(f store.EventFilter, types []string) (string, []any, error) {
	return listingSQL(f, types, false, pageLimit(f.Limit))
}

// countingSQL is CountEvents' statement: the listing's walk, reading only
// the seq of each event it finds (from the (type, seq) index alone where
// it walks that), up to limit of them.
func countingSQL(f store.EventFilter, types []string, limit int) (string, []any, error) {
	q, a, err := listingSQL(f, types, true, limit)
	return "SELECT count(*) FROM (" + q + ") listed", a, err
}

// listingSQL is the statement listing f's events, up to limit of them;
// counting, only their seqs, in no order: the arms, each of one type, are
// then read one after the other until limit, rather than each up to limit
// and sorted.
func listingSQL(f store.EventFilter, types []string, counting bool, limit int) (string, []any, error) {
	armColumns, columns := eventColumns, eventColumnsOf("events")+`, ARRAY(SELECT status FROM deliveries WHERE event_seq = events.seq)`
	if counting {
		armColumns, columns = "seq", "events.seq"
	}
	var a args
	where, err := eventConditions(f, &a)
	if err != nil {
		return "", nil, err
	}
	arms := store.TypeArms(f, types)
	if prefix, _ := store.TypePrefix(f.Type); len(arms) == 0 && prefix != "" { // row by row
		where = append(where, "starts_with(type, "+a.add(text(prefix))+")")
	}
	if len(arms) == 0 {
		arms = []string{""}
	}
	order, keyset := "ASC", []string(nil)
	switch {
	case f.AfterSeq > 0:
		keyset = []string{" > " + a.add(f.AfterSeq)}
	case f.BeforeSeq > 0:
		keyset, order = []string{" < " + a.add(f.BeforeSeq)}, "DESC"
	}
	if f.MinSeq > 0 {
		keyset = append(keyset, " >= "+a.add(f.MinSeq))
	}
	page := " ORDER BY seq " + order + " LIMIT " + strconv.Itoa(limit)
	if walk, key, ok := listingWalk(f); ok {
		// TypeArms walks no type here: the type is one condition more.
		if _, pattern := store.TypePrefix(f.Type); f.Type != "" && !pattern {
			where = append(where, "type = "+a.add(text(f.Type)))
		}
		return `SELECT DISTINCT ON (walked.event_seq) ` + columns + ` FROM ` +
			walkedFrom(walk, key, keyset, where) + " ORDER BY walked.event_seq " + order + " LIMIT " + strconv.Itoa(limit), a, nil
	}
	for _, k := range keyset {
		where = append(where, "seq"+k)
	}

	selects := make([]string, len(arms))
	for i, t := range arms {
		cond, armPage := where, page
		if t != "" {
			// The type as a range of one, in (type, seq) order: only the
			// (type, seq) index yields that order. With "type = $t" the
			// planner may walk the events by seq instead and test each
			// one's type, which reads as far back as the type's newest
			// event lies: cheap while every type keeps arriving, the whole
			// store for one that stopped.
			p := a.add(text(t))
			cond = append([]string{"type >= " + p + " AND type <= " + p}, where...)
			armPage = " ORDER BY type " + order + ", seq " + order + " LIMIT " + strconv.Itoa(limit)
		}
		selects[i] = `SELECT ` + armColumns + ` FROM events`
		if len(cond) > 0 {
			selects[i] += " WHERE " + strings.Join(cond, " AND ")
		}
		selects[i] = "(" + selects[i] + armPage + ")"
	}
	// Each arm ordered and limited on its own, so that the page reads at
	// most a page from each type: the arms' rows are then sorted by seq
	// (a few hundred at most). Without the arms' own LIMIT it would
	// append every matching event, then sort them.
	if counting {
		return `SELECT seq FROM (` + strings.Join(selects, " UNION ALL ") + `) events LIMIT ` + strconv.Itoa(limit), a, nil
	}
	inner := selects[0]
	if len(selects) > 1 {
		inner = "(" + strings.Join(selects, " UNION ALL ") + page + ")"
	}
	q := `SELECT ` + columns + ` FROM ` + inner + ` events ORDER BY seq ` + order
	return q, a, nil
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
func eventConditions(f store.EventFilter, a *args) ([]string, error) {
	var where []string
	if f.Subject != "" {
		where = append(where, "subject = "+a.add(text(f.Subject)))
	}
	if f.Source != "" {
		where = append(where, "source = "+a.add(text(f.Source)))
	}
	if !f.Since.IsZero() {
		where = append(where, "received_at >= "+a.add(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "received_at < "+a.add(f.Until))
	}
	if f.IDSuffix != "" {
		suffix := []rune(text(f.IDSuffix))
		if len(suffix) < store.MinIDSuffix {
			return nil, fmt.Errorf("postgres: list events: id suffix %q: give at least %d characters of the id", f.IDSuffix, store.MinIDSuffix)
		}
		// events_id_tail finds the few events sharing the last six whose
		// id was not made from their body's hash; events_body, those
		// whose id was (store.BodyHashRange).
		n, whole := a.add(len(suffix)), a.add(string(suffix))
		q := "SELECT seq FROM events WHERE " + idTail + " = " + a.add(string(suffix[len(suffix)-store.MinIDSuffix:])) +
			" AND " + idTailIndexed + " AND right(id, " + n + ") = " + whole
		if lo, hi, ok := store.BodyHashRange(f.IDSuffix); ok {
			q += " UNION ALL SELECT seq FROM events WHERE body_sha256 >= " + a.add(lo)
			if hi != nil {
				q += " AND body_sha256 < " + a.add(hi)
			}
			q += " AND right(id, " + n + ") = " + whole
		}
		where = append(where, "seq IN ("+q+")")
	}
	if len(f.DedupeKeys) > 0 {
		// The (dedupe_key, source) index: no source is given.
		keys := make([]string, len(f.DedupeKeys))
		for i, k := range f.DedupeKeys {
			keys[i] = text(k)
		}
		where = append(where, "dedupe_key = ANY("+a.add(keys)+"::text[])")
	}
	if f.AttentionOnly {
		where = append(where, "attention <> ''")
	}
	if f.Delivery != "" {
		cond, err := deliveryStateCondition(f.Delivery)
		if err != nil {
			return nil, err
		}
		if cond != "" {
			where = append(where, cond)
		}
	}
	return where, nil
}

// listingWalk is the walk of a partial index that drives a listing by
// f, and the column of it that holds the events' seq: deliveries_dead
// (migration 0003), deliveries_open (0005) or deliveries_discarded (0008)
// for a dead, pending or discarded event,
// events_attention (0005) for the events marked for attention. ok is
// false when the listing walks the events instead. The indexes'
// conditions are written out, not bound, for the planner to use them.
func listingWalk(f store.EventFilter) (walk, key string, ok bool) {
	switch {
	case f.Delivery == store.DeliveryDead:
		return "SELECT event_seq FROM deliveries WHERE status = 'dead'", "event_seq", true
	case f.Delivery == store.DeliveryPending:
		return "SELECT event_seq FROM deliveries WHERE status IN ('pending', 'in_flight')", "event_seq", true
	case f.Delivery == store.DeliveryDiscarded:
		return "SELECT event_seq FROM deliveries WHERE status = 'discarded'", "event_seq", true
	case f.AttentionOnly:
		return "SELECT seq AS event_seq FROM events WHERE attention <> ''", "seq", true
	}
	return "", "", false
}

// walkedFrom is the FROM clause of the events walk yields that match
// where, from keyset: driven by the small partial index, one event looked
// up by its key for each row of it, so that a page costs the same however
// many events lie between them. (Left to itself the planner walks the
// events and merges.) The walk is a plain subquery, which the planner
// pulls up into the listing: so it plans the walk knowing the listing's
// LIMIT, and walks the index in order rather than sorting every row it
// yields, which a walk planned on its own (with DISTINCT or ORDER BY)
// may prefer once its table's pages are not all visible. An event with
// several deliveries in the state is met once for each: the listing
// keeps one (DISTINCT ON, in the walk's order).
func walkedFrom(walk, key string, keyset []string, where []string) string {
	for _, k := range keyset {
		walk += " AND " + key + k
	}
	match := "SELECT * FROM events WHERE events.seq = walked.event_seq"
	for _, w := range where {
		match += " AND " + w
	}
	// OFFSET 0 keeps the planner from flattening the lookup into a join.
	return "(" + walk + ") walked CROSS JOIN LATERAL (" + match + " OFFSET 0) events"
}

// deliveryStateCondition selects the events that have a delivery in
// state, or none for DeliveryNone (store.DeliveryStateStatuses), but for the
// deliveries listingWalk walks for dead, pending and discarded events, which it
// leaves out. The statuses are written out, not bound, so that the
// planner can use the partial indexes they name.
func deliveryStateCondition(state store.DeliveryStatus) (string, error) {
	statuses, ok := store.DeliveryStateStatuses(state)
	if !ok {
		return "", fmt.Errorf("postgres: list events: delivery state %q: want one of %s", state, strings.Join(store.DeliveryStates(), ", "))
	}
	switch state {
	case store.DeliveryDead, store.DeliveryPending, store.DeliveryDiscarded: // listingWalk walks them
		return "", nil
	case store.DeliveryNone:
		return "NOT EXISTS (SELECT 1 FROM deliveries WHERE event_seq = events.seq)", nil
	default:
		return "EXISTS (SELECT 1 FROM deliveries WHERE event_seq = events.seq AND status IN (" + literals(statuses) + "))", nil
	}
}

// literals writes words as a list of SQL string literals.
func literals[W ~string](words []W) string {
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = "'" + strings.ReplaceAll(string(w), "'", "''") + "'"
	}
	return strings.Join(quoted, ", ")
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
	if err := s.pool.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count events: %w", err)
	}
	return n, nil
}

// receivedSinceSQL says whether one of the store.SinceWindow events from
// seq $1 on was received at $2 or later: a walk of the primary key from
// $1.
var receivedSinceSQL = `SELECT EXISTS (SELECT 1 FROM (SELECT received_at FROM events WHERE seq >= $1 ORDER BY seq LIMIT ` +
	strconv.Itoa(store.SinceWindow) + `) w WHERE received_at >= $2)`

// seqBoundsSQL reads the oldest and the newest seq, each from one end of
// the primary key.
const seqBoundsSQL = `SELECT min(seq), max(seq) FROM events`

// SeqReceivedSince implements store.Store, by bisecting seq
// (store.SeqSince): no index holds events by time.
func (s *Store) SeqReceivedSince(ctx context.Context, t time.Time) (int64, error) {
	var first, last *int64
	if err := s.pool.QueryRow(ctx, seqBoundsSQL).Scan(&first, &last); err != nil {
		return 0, fmt.Errorf("postgres: events received since: %w", err)
	}
	if first == nil {
		return 1, nil
	}
	seq, err := store.SeqSince(ctx, *first, *last, func(ctx context.Context, seq int64) (bool, error) {
		var ok bool
		err := s.pool.QueryRow(ctx, receivedSinceSQL, seq, t).Scan(&ok)
		return ok, err
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: events received since: %w", err)
	}
	return seq, nil
}
