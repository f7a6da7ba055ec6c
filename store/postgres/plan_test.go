package postgres

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/postgres/pgtest"
)

// openInternal opens a store on a schema of its own, closed when the
// test ends, for the tests that read its pool.
func openInternal(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), pgtest.URL(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Lookups, type patterns, delivery states and attention go through an
// index on a table large enough (100,000 events, analyzed, 1 % of each
// message type, 1 % dead, 1 % pending, 0.1 % marked for attention) that the planner
// would rather read it whole, or walk it by seq, if no index served: a short id through events_id_tail and events_body, Sent's id
// through the (dedupe_key, source) index, a type pattern as one backward
// or forward walk of the (type, seq) index per type, merged by seq.
func TestEventLookupsUseTheirIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openInternal(t)
	if _, err := s.pool.Exec(ctx, `INSERT INTO events (id, source, dedupe_key, type, subject, received_at, headers, body, body_sha256, attention)
SELECT gen_random_uuid()::text, CASE WHEN i % 10 = 0 THEN 'other' ELSE 'sent' END, 'event-id:evt_' || i,
       CASE i % 100 WHEN 0 THEN 'message.sent' WHEN 1 THEN 'message.delivered' WHEN 2 THEN 'message.bounced' ELSE 'template.approved' END,
       'msg_' || (i / 4), now(), '{}', ''::bytea, sha256(i::text::bytea), CASE WHEN i % 1000 = 3 THEN 'unknown type' ELSE '' END
FROM generate_series(1, 100000) i`); err != nil {
		t.Fatal(err)
	}
	// One delivery each: 1 % dead, 1 % pending, 1 % in flight, 0.1 % discarded.
	if _, err := s.pool.Exec(ctx, `INSERT INTO deliveries (event_seq, event_id, destination, status, next_attempt_at, created_at, updated_at)
SELECT seq, id, 'app', CASE WHEN seq % 1000 = 8 THEN 'discarded' WHEN seq % 100 = 5 THEN 'dead' WHEN seq % 100 = 6 THEN 'pending'
       WHEN seq % 100 = 7 THEN 'in_flight' ELSE 'succeeded' END, now(), now(), now()
FROM events`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE events, deliveries`); err != nil {
		t.Fatal(err)
	}
	types := []string{"message.bounced", "message.delivered", "message.sent"}
	for name, tc := range map[string]struct {
		f   store.EventFilter
		use []string
	}{
		"short id":        {store.EventFilter{IDSuffix: "3c4d5e6f", BeforeSeq: math.MaxInt64}, []string{"events_id_tail", "events_body"}},
		"short id, last":  {store.EventFilter{IDSuffix: "ffffff", BeforeSeq: math.MaxInt64}, []string{"events_id_tail", "events_body"}},
		"sent id":         {store.EventFilter{DedupeKeys: []string{"event-id:evt_7", "id:evt_7"}, BeforeSeq: math.MaxInt64}, []string{"events_dedupe_key"}},
		"type":            {store.EventFilter{Type: "message.sent", BeforeSeq: math.MaxInt64, Limit: 50}, []string{"Index Scan Backward using events_type_seq"}},
		"pattern, newest": {store.EventFilter{Type: "message.*", BeforeSeq: math.MaxInt64, Limit: 50}, []string{"Append", "Index Scan Backward using events_type_seq"}},
		"pattern, older":  {store.EventFilter{Type: "message.*", BeforeSeq: 50000, Limit: 50}, []string{"Append", "Index Scan Backward using events_type_seq"}},
		"pattern, after":  {store.EventFilter{Type: "message.*", AfterSeq: 50000, Limit: 50}, []string{"Append", "Index Scan using events_type_seq"}},
		"subject":         {store.EventFilter{Subject: "msg_7", BeforeSeq: math.MaxInt64}, []string{"events_subject_seq"}},
		"source":          {store.EventFilter{Source: "payments", BeforeSeq: math.MaxInt64, Limit: 50}, []string{"Index Scan Backward using events_source_seq"}},
		"source, after":   {store.EventFilter{Source: "payments", AfterSeq: 50000, Limit: 50}, []string{"Index Scan using events_source_seq"}},
		// A delivery state walks its few deliveries by event_seq, each
		// one's event looked up by its key.
		"dead":                {store.EventFilter{Delivery: store.DeliveryDead, BeforeSeq: math.MaxInt64}, []string{"Index Only Scan Backward using deliveries_dead"}},
		"dead, after":         {store.EventFilter{Delivery: store.DeliveryDead, AfterSeq: 50000}, []string{"Index Only Scan using deliveries_dead"}},
		"pending":             {store.EventFilter{Delivery: store.DeliveryPending, BeforeSeq: math.MaxInt64}, []string{"Index Only Scan Backward using deliveries_open"}},
		"pending, older":      {store.EventFilter{Delivery: store.DeliveryPending, BeforeSeq: 50000}, []string{"Index Only Scan Backward using deliveries_open"}},
		"pending, after":      {store.EventFilter{Delivery: store.DeliveryPending, AfterSeq: 50000}, []string{"Index Only Scan using deliveries_open"}},
		"discarded":           {store.EventFilter{Delivery: store.DeliveryDiscarded, BeforeSeq: math.MaxInt64}, []string{"Index Only Scan Backward using deliveries_discarded"}},
		"discarded, after":    {store.EventFilter{Delivery: store.DeliveryDiscarded, AfterSeq: 50000}, []string{"Index Only Scan using deliveries_discarded"}},
		"attention":           {store.EventFilter{AttentionOnly: true, BeforeSeq: math.MaxInt64}, []string{"Index Only Scan Backward using events_attention"}},
		"attention and type":  {store.EventFilter{AttentionOnly: true, Type: "message.sent", AfterSeq: 50000}, []string{"Index Only Scan using events_attention"}},
		"pattern and pending": {store.EventFilter{Type: "template.*", Delivery: store.DeliveryPending, BeforeSeq: math.MaxInt64}, []string{"deliveries_open"}},
	} {
		q, args, err := listEventsSQL(tc.f, types)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		plan := explain(t, s, q, args)
		for _, ix := range tc.use {
			if !strings.Contains(plan, ix) {
				t.Errorf("%s does not use %s:\n%s", name, ix, plan)
			}
		}
		if strings.Contains(plan, "Seq Scan on events") || strings.Contains(plan, "Seq Scan on deliveries") {
			t.Errorf("%s reads every event or delivery:\n%s", name, plan)
		}
		// A lookup sorts the few events its key names, a type listing the
		// page each of its types gave, in (type, seq) order; any other
		// listing sorts none.
		if strings.Contains(plan, "Sort  (") && len(tc.f.DedupeKeys) == 0 && tc.f.IDSuffix == "" && tc.f.Type == "" {
			t.Errorf("%s sorts:\n%s", name, plan)
		}
	}
	// A confirmation's count reads only the seqs of the listing's walk:
	// a type from its (type, seq) index alone, never the events' rows; a
	// time range from the seq it starts at, found by seeking the primary
	// key.
	for name, tc := range map[string]struct {
		f   store.EventFilter
		use string
	}{
		"count type":          {store.EventFilter{Type: "message.sent", BeforeSeq: math.MaxInt64}, "Index Only Scan Backward using events_type_seq"},
		"count pattern":       {store.EventFilter{Type: "message.*", BeforeSeq: math.MaxInt64}, "Index Only Scan Backward using events_type_seq"},
		"count dead":          {store.EventFilter{Delivery: store.DeliveryDead, BeforeSeq: math.MaxInt64}, "Index Only Scan Backward using deliveries_dead"},
		"count since its seq": {store.EventFilter{Since: time.Unix(1, 0), MinSeq: 90000, BeforeSeq: math.MaxInt64}, "Index Scan Backward using events_pkey"},
	} {
		q, args, err := countingSQL(tc.f, types, 10001)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		plan := explain(t, s, q, args)
		if !strings.Contains(plan, tc.use) || strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "Sort  (") {
			t.Errorf("%s does not use %s alone:\n%s", name, tc.use, plan)
		}
		if tc.f.Type != "" && strings.Contains(plan, " Index Scan") {
			t.Errorf("%s reads the events' rows:\n%s", name, plan)
		}
	}
	for name, q := range map[string]string{"since probe": receivedSinceSQL, "seq bounds": seqBoundsSQL} {
		var args []any
		if q == receivedSinceSQL {
			args = []any{50000, time.Unix(1, 0)}
		}
		if plan := explain(t, s, q, args); !strings.Contains(plan, "events_pkey") || strings.Contains(plan, "Seq Scan") {
			t.Errorf("%s does not seek the primary key:\n%s", name, plan)
		}
	}
}

// A type walks the (type, seq) index however far back its newest event
// lies. Here message.read stopped arriving 90,000 events ago: walking the
// events by seq and testing each one's type, which the planner prefers
// for a type this common when it assumes the types are mixed evenly,
// would read those 90,000 events for a page.
func TestTypeWalkIgnoresWhereTheTypeLastArrived(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openInternal(t)
	if _, err := s.pool.Exec(ctx, `INSERT INTO events (id, source, dedupe_key, type, subject, received_at, headers, body, body_sha256)
SELECT gen_random_uuid()::text, 'sent', 'event-id:evt_' || i, CASE WHEN i <= 10000 THEN 'message.read' ELSE 'message.delivered' END,
       'msg_' || i, now(), '{}', ''::bytea, sha256(i::text::bytea)
FROM generate_series(1, 100000) i`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE events`); err != nil {
		t.Fatal(err)
	}
	types := []string{"message.delivered", "message.read"}
	for name, f := range map[string]store.EventFilter{
		"type":    {Type: "message.read", BeforeSeq: math.MaxInt64, Limit: 50},
		"pattern": {Type: "message.*", BeforeSeq: math.MaxInt64, Limit: 50},
	} {
		q, args, err := listEventsSQL(f, types)
		if err != nil {
			t.Fatal(err)
		}
		plan := explain(t, s, q, args)
		if strings.Contains(plan, "events_pkey") || !strings.Contains(plan, "Index Scan Backward using events_type_seq") {
			t.Errorf("%s walks the events by seq, not the (type, seq) index:\n%s", name, plan)
		}
	}
}

// explain returns the plan PostgreSQL makes for q, a line a node.
func explain(t *testing.T, s *Store, q string, args []any) string {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), "EXPLAIN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// Every statement that keeps or reads subjects' states finds a subject by
// its primary key, in a store large enough (100,000 events of 25,000
// subjects, analyzed) that the planner would rather read the table whole
// if no index served: the append's stale check, the states' upsert, a
// claim's, retention's and a subject's read.
func TestSubjectStatementsUseTheirKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openInternal(t)
	if _, err := s.pool.Exec(ctx, `INSERT INTO events (id, source, dedupe_key, type, subject_kind, subject, status, received_at, headers, body, body_sha256)
SELECT gen_random_uuid()::text, 'sent', 'event-id:evt_' || i, 'message.sent', 'message_id', 'msg_' || (i / 4), 'SENT', now(), '{}', ''::bytea, sha256(i::text::bytea)
FROM generate_series(1, 100000) i;
INSERT INTO subjects (source, subject, kind, status, rank, event_seq, event_id, received_at, events, updated_at)
SELECT 'sent', subject, 'message_id', 'SENT', 5, MAX(seq), MAX(id), now(), COUNT(*), now() FROM events GROUP BY subject;
INSERT INTO deliveries (event_seq, event_id, destination, status, next_attempt_at, created_at, updated_at)
SELECT seq, id, 'app', CASE WHEN seq % 100 = 5 THEN 'pending' ELSE 'succeeded' END, now(), now(), now() FROM events;
ANALYZE events, subjects, deliveries`); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	one := func(v string) []string { return []string{v} }
	appendArgs := []any{one("e-new"), one("sent"), one("k-new"), one("message"), one("message.sent"), one("message_id"), one("msg_7"), one("SENT"),
		[]pgtype.Timestamptz{ts(now)}, []time.Time{now}, one("v1"), one(""), one("{}"), [][]byte{{}}, [][]byte{{1}}, []string(nil), []string(nil),
		[]*string(nil), []int32{5}}
	appendArgs = append(appendArgs, (*handing)(nil).args()...)
	upsertArgs := (&subjectStates{sources: one("sent"), subjects: one("msg_7"), kinds: one("message_id"), statuses: one("SENT"), ids: one("e-new"),
		ranks: []int32{5}, seqs: []int64{100001}, events: []int64{1}, occurred: []pgtype.Timestamptz{ts(now)}, received: []time.Time{now}}).args()
	for name, tc := range map[string]struct {
		q    string
		args []any
	}{
		"append":  {appendSQL, appendArgs},
		"upsert":  {upsertSubjectsSQL, upsertArgs},
		"claim":   {claimSQL, []any{now, 100, "w", now.Add(time.Minute)}},
		"prune":   {pruneEventsSQL, []any{now, pgtype.Timestamptz{}, 100, 0, 400}},
		"subject": {`SELECT * FROM subjects WHERE source = $1 AND subject = $2`, []any{"sent", "msg_7"}},
		"stale":   {markStaleSQL, []any{[]int64{5, 6}}},
		// A handed claim's subject state, when its batch cannot tell it.
		"handed": {claimedSubjectsSQL, []any{one("sent"), one("msg_7")}},
	} {
		plan := explain(t, s, tc.q, tc.args)
		if strings.Contains(plan, "Seq Scan on subjects") || strings.Contains(plan, "Seq Scan on events") {
			t.Errorf("%s reads every subject or event:\n%s", name, plan)
		}
		if name != "stale" && !strings.Contains(plan, "subjects_pkey") {
			t.Errorf("%s does not find its subjects by their key:\n%s", name, plan)
		}
	}
}

// While a destination is paused, its backlog costs the claims of the
// others nothing: with 100,000 deliveries waiting for a paused destination
// (analyzed), a claim of the other walks deliveries_pending_destination,
// and a destination's backlog (backlogSQL: count, then the oldest) is read
// through it too.
func TestPausedBacklogIsNotScanned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openInternal(t)
	if _, err := s.pool.Exec(ctx, insertEventsSQL(100000)+`
INSERT INTO deliveries (event_seq, event_id, destination, status, next_attempt_at, created_at, updated_at)
SELECT seq, id, CASE WHEN seq % 1000 = 5 THEN 'app' ELSE 'paused' END, 'pending', now() - interval '1 hour', now(), now() FROM events;
ANALYZE events, deliveries`); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for name, tc := range map[string]struct {
		q    string
		args []any
	}{
		"claim of the others": {claimSomeSQL, []any{now, 100, "w", now.Add(time.Minute), []string{"app"}}},
		"backlog":             {backlogSQL, []any{"app", store.MaxHeldCount}},
	} {
		plan := explain(t, s, tc.q, tc.args)
		if strings.Contains(plan, "Seq Scan on deliveries") || !strings.Contains(plan, "deliveries_pending_destination") {
			t.Errorf("%s does not walk deliveries_pending_destination:\n%s", name, plan)
		}
	}
}

// A claim of a destination with a concurrency bound counts its deliveries
// in flight through an index, stopping at the bound: with 100,000
// deliveries done and 20,000 in flight to 100 other destinations
// (analyzed), it reads none of those done, and at worst those in flight.
func TestBoundedClaimCountsThroughAnIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openInternal(t)
	if _, err := s.pool.Exec(ctx, insertEventsSQL(120000)+`
INSERT INTO deliveries (event_seq, event_id, destination, status, next_attempt_at, lease_owner, lease_until, created_at, updated_at)
SELECT seq, id, CASE WHEN seq % 6 = 0 THEN 'd' || (seq % 100) ELSE 'app' END,
       CASE WHEN seq % 6 = 0 OR seq % 10000 = 1 THEN 'in_flight' WHEN seq % 100 = 1 THEN 'pending' ELSE 'succeeded' END,
       now() - interval '1 hour', 'w', CASE WHEN seq % 6 = 0 OR seq % 10000 = 1 THEN now() + interval '1 hour' END, now(), now() FROM events;
ANALYZE events, deliveries`); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	plan := explain(t, s, claimBoundedSQL, []any{now, 100, "w", now.Add(time.Minute), []string{"app"}, []int32{4}})
	if strings.Contains(plan, "Seq Scan on deliveries") || !strings.Contains(plan, "deliveries_in_flight") {
		t.Errorf("the bounded claim does not count through deliveries_in_flight:\n%s", plan)
	}
}

// insertEventsSQL stores n events without a subject, received now.
func insertEventsSQL(n int) string {
	return fmt.Sprintf(`INSERT INTO events (id, source, dedupe_key, type, received_at, headers, body, body_sha256)
SELECT gen_random_uuid()::text, 'sent', 'event-id:evt_' || i, 'message.sent', now(), '{}', ''::bytea, sha256(i::text::bytea)
FROM generate_series(1, %d) i;`, n)
}

// events_id_tail holds just the events whose id does not end with their
// body's hash: an id store.NewEventID made is left out, so the append
// writes no entry for it, and a random one is kept.
func TestShortIDIndexLeavesOutIDsMadeFromTheBodyHash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openInternal(t)
	var want []string
	for i := range 20 {
		ev := &store.NewEvent{EventData: store.EventData{Source: "sent", DedupeKey: fmt.Sprintf("k%d", i),
			ReceivedAt: time.Now(), Body: fmt.Appendf(nil, `{"n":%d}`, i)}}
		ev.ID = store.NewEventIDFor(ev.Body)
		if i%5 == 0 {
			ev.ID = fmt.Sprintf("019a0000-0000-7000-8000-%012d", i) // made otherwise
			want = append(want, ev.ID)
		}
		if _, err := s.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := s.pool.Query(ctx, "SELECT id FROM events WHERE "+idTailIndexed+" ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events_id_tail holds %v, want only the ids made otherwise %v", got, want)
	}
}

// A delivery state's listing walks its partial index in order, for a page
// and for a count, however sparse the index has become. Every delivery
// passes through deliveries_open (in flight) on its way to succeeded, so
// on a busy store that index keeps a page for every few deliveries it
// still holds: at 1 M events, 5,059 pages for 10,866 pending. Planned
// apart from the listing's LIMIT, the walk then looked dearer than
// reading the pending deliveries by status and sorting them all (or
// gathering them from parallel workers): 18–24 ms for a page of 50,
// 1 ms walking the index. Here 100,000 deliveries went through it and
// 0.1 % stayed, and pages of 5 and counts up to 10 stand for pages of 50
// and counts up to 1,001 among thousands; sorting a set no larger than
// the page is the planner's right.
func TestDeliveryStateWalkIgnoresASparseIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openInternal(t)
	if _, err := s.pool.Exec(ctx, `INSERT INTO events (id, source, dedupe_key, type, subject, received_at, headers, body, body_sha256)
SELECT gen_random_uuid()::text, 'sent', 'event-id:evt_' || i, CASE WHEN i % 2 = 0 THEN 'message.sent' ELSE 'message.delivered' END,
       'msg_' || i, now(), '{}', ''::bytea, sha256(i::text::bytea)
FROM generate_series(1, 100000) i`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO deliveries (event_seq, event_id, destination, status, next_attempt_at, created_at, updated_at)
SELECT seq, id, 'app', 'in_flight', now(), now(), now() FROM events`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `UPDATE deliveries SET
  status = CASE WHEN event_seq % 1000 = 6 THEN 'pending' WHEN event_seq % 1000 = 5 THEN 'dead' ELSE 'succeeded' END`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `VACUUM (ANALYZE) events, deliveries`); err != nil {
		t.Fatal(err)
	}
	types := []string{"message.delivered", "message.sent"}
	for name, tc := range map[string]struct {
		f   store.EventFilter
		use string
	}{
		"pending":          {store.EventFilter{Delivery: store.DeliveryPending, BeforeSeq: math.MaxInt64, Limit: 5}, "Index Only Scan Backward using deliveries_open"},
		"pending, after":   {store.EventFilter{Delivery: store.DeliveryPending, AfterSeq: 1, Limit: 5}, "Index Only Scan using deliveries_open"},
		"dead and pattern": {store.EventFilter{Delivery: store.DeliveryDead, Type: "message.*", BeforeSeq: math.MaxInt64, Limit: 5}, "Index Only Scan Backward using deliveries_dead"},
	} {
		q, args, err := listEventsSQL(tc.f, types)
		if err != nil {
			t.Fatal(err)
		}
		cq, cargs, err := countingSQL(tc.f, types, 10)
		if err != nil {
			t.Fatal(err)
		}
		for what, plan := range map[string]string{"page": explain(t, s, q, args), "count": explain(t, s, cq, cargs)} {
			if !strings.Contains(plan, tc.use) || strings.Contains(plan, "Sort  (") || strings.Contains(plan, "Gather") {
				t.Errorf("%s, %s: does not walk %s in order:\n%s", name, what, tc.use, plan)
			}
		}
	}
}
