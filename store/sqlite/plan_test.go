package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store"
)

// The dispatcher's statements use their partial indexes and never sort,
// and finding an event's deliveries goes through its seq: their cost must
// not grow with the number of deliveries.
func TestDispatchStatementsUseTheirIndexes(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "h.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sel, selArgs, err := selection(store.DeliverySelector{EventIDs: []string{"a", "b"}, Destination: "app"})
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		q     string
		args  []any
		index []string
	}{
		"claim":           {claimSQL, []any{"o", 1, 1, 1, 10}, []string{"deliveries_pending"}},
		"expired":         {expiredAttemptsSQL, []any{1, 1}, []string{"deliveries_in_flight"}},
		"release expired": {releaseExpiredSQL, []any{1, 1, 1}, []string{"deliveries_in_flight"}},
		"next due":        {nextDueSQL, nil, []string{"deliveries_pending", "deliveries_in_flight"}},
		"claim some":      {claimSomeSQL(2), []any{"o", 1, 1, 10, "app", 10, "log", 10}, []string{"deliveries_pending_destination"}},
		"in flight to":    {inFlightToSQL, []any{1, "app"}, []string{"deliveries_in_flight"}},
		"backlog oldest":  {backlogOldestSQL, []any{"app"}, []string{"deliveries_pending_destination"}},
		"an event's deliveries": {`SELECT id FROM deliveries WHERE ` + byEventSeq + ` = ?) ORDER BY id LIMIT 100`,
			[]any{"e"}, []string{"deliveries_event"}},
		"by event ids": {`UPDATE deliveries SET status = 'pending' WHERE ` + sel,
			selArgs, []string{"deliveries_event"}},
	} {
		all := queryPlan(t, s, tc.q, tc.args)
		if strings.Contains(all, "SCAN deliveries") || strings.Contains(all, "deliveries_listed") {
			t.Errorf("%s scans the deliveries, or goes by status:\n%s", name, all)
		}
		// An event has a few deliveries; a claim of some destinations
		// merges at most its limit from each.
		if strings.Contains(all, "TEMP B-TREE") && name != "an event's deliveries" && name != "claim some" {
			t.Errorf("%s sorts:\n%s", name, all)
		}
		for _, ix := range tc.index {
			if !strings.Contains(all, ix) {
				t.Errorf("%s does not use %s:\n%s", name, ix, all)
			}
		}
	}
}

// Listing events by delivery state reads few deliveries: dead, pending and
// discarded ones walk their partial index by event_seq (deliveries_dead,
// deliveries_open, deliveries_discarded), as the events marked for attention walk
// events_attention, each walked row's event looked up by its seq; the
// common states go event by event through the (event_seq, destination)
// index, newest first. All stop at the limit.
// Short ids and dedupe keys are found through an index: the last six
// characters of an id not made from its body's hash, the (source,
// body_sha256) index once per stored source for one that was, the
// (source, dedupe_key) index once per stored source. A type pattern walks the (type, seq) index once per type it
// names, merged in seq order.
func TestEventListingsUseTheirIndexes(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "h.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	byEvent := "deliveries_event"
	for name, tc := range map[string]struct {
		f           store.EventFilter
		use, forbid []string
	}{
		"newest":             {store.EventFilter{BeforeSeq: 1 << 62}, []string{byEvent}, []string{"SCAN deliveries", "deliveries_listed", "TEMP B-TREE"}},
		"dead":               {store.EventFilter{Delivery: store.DeliveryDead, BeforeSeq: 1 << 62}, []string{"deliveries_dead (event_seq<?)"}, stateWalkForbids},
		"pending":            {store.EventFilter{Delivery: store.DeliveryPending, BeforeSeq: 1 << 62}, []string{"deliveries_open (event_seq<?)", byEvent}, stateWalkForbids},
		"pending, forward":   {store.EventFilter{Delivery: store.DeliveryPending, AfterSeq: 5}, []string{"deliveries_open (event_seq>?)", byEvent}, stateWalkForbids},
		"succeeded":          {store.EventFilter{Delivery: store.DeliverySucceeded, BeforeSeq: 1 << 62}, []string{byEvent}, []string{"SCAN deliveries", "deliveries_listed", "TEMP B-TREE"}},
		"discarded":          {store.EventFilter{Delivery: store.DeliveryDiscarded, BeforeSeq: 1 << 62}, []string{"deliveries_discarded (event_seq<?)"}, stateWalkForbids},
		"discarded, forward": {store.EventFilter{Delivery: store.DeliveryDiscarded, AfterSeq: 5}, []string{"deliveries_discarded (event_seq>?)"}, stateWalkForbids},
		"none":               {store.EventFilter{Delivery: store.DeliveryNone}, []string{byEvent}, []string{"SCAN deliveries", "deliveries_listed", "TEMP B-TREE"}},
		"id suffix": {store.EventFilter{IDSuffix: "3c4d5e6f", BeforeSeq: 1 << 62},
			[]string{"events_id_tail (<expr>=?)", "events_source_body (source=? AND body_sha256>? AND body_sha256<?)"}, []string{"SCAN events", "sqlite_autoindex_events_1", "TEMP B-TREE"}},
		"id suffix, last range": {store.EventFilter{IDSuffix: "ffffff", BeforeSeq: 1 << 62},
			[]string{"events_id_tail (<expr>=?)", "events_source_body (source=? AND body_sha256>?)"}, []string{"SCAN events", "sqlite_autoindex_events_1", "TEMP B-TREE"}},
		"id suffix, not hex": {store.EventFilter{IDSuffix: "3C4D5E6F", BeforeSeq: 1 << 62}, []string{"events_id_tail (<expr>=?)"}, []string{"SCAN events", "events_source_body", "TEMP B-TREE"}},
		"dedupe": {store.EventFilter{DedupeKeys: []string{"event-id:evt_1", "id:evt_1"}, BeforeSeq: 1 << 62},
			[]string{"sqlite_autoindex_events_2 (source=? AND dedupe_key=?)", "(source>?)"}, []string{"SCAN events", "TEMP B-TREE"}},
		"type": {store.EventFilter{Type: "message.sent", BeforeSeq: 1 << 62}, []string{"events_type_seq (type=? AND seq<?)"}, []string{"SCAN events\n", "TEMP B-TREE"}},
		"type pattern, newest": {store.EventFilter{Type: "message.*", BeforeSeq: 1 << 62},
			[]string{"MERGE (UNION ALL)", "COVERING INDEX events_type_seq (type=? AND seq<?)"}, []string{"SCAN events", "TEMP B-TREE", "substr"}},
		"type pattern, forward": {store.EventFilter{Type: "message.*", AfterSeq: 5},
			[]string{"MERGE (UNION ALL)", "COVERING INDEX events_type_seq (type=? AND seq>?)"}, []string{"SCAN events", "TEMP B-TREE", "substr"}},
		"type pattern and subject": {store.EventFilter{Type: "message.*", Subject: "msg_1", BeforeSeq: 1 << 62},
			[]string{"MERGE (UNION ALL)", "events_subject_seq (subject=? AND seq<?)"}, []string{"SCAN events", "TEMP B-TREE"}},
		"type pattern and dead": {store.EventFilter{Type: "message.*", Delivery: store.DeliveryDead, BeforeSeq: 1 << 62},
			[]string{"deliveries_dead (event_seq<?)"}, append(stateWalkForbids, "MERGE")},
		"type pattern and succeeded": {store.EventFilter{Type: "message.*", Delivery: store.DeliverySucceeded, BeforeSeq: 1 << 62},
			[]string{"MERGE (UNION ALL)", "INDEX events_type_seq (type=? AND seq<?)"}, []string{"SCAN events", "SCAN deliveries", "TEMP B-TREE"}},
		"attention": {store.EventFilter{AttentionOnly: true, BeforeSeq: 1 << 62}, []string{"events_attention (seq<?)"}, stateWalkForbids},
		"attention and type": {store.EventFilter{AttentionOnly: true, Type: "message.sent", AfterSeq: 5},
			[]string{"events_attention (seq>?)"}, append(stateWalkForbids, "events_type_seq")},
		"attention and type pattern": {store.EventFilter{AttentionOnly: true, Type: "message.*", BeforeSeq: 1 << 62},
			[]string{"events_attention (seq<?)"}, append(stateWalkForbids, "events_type_seq", "MERGE")},
		"subject":         {store.EventFilter{Subject: "msg_1", BeforeSeq: 1 << 62}, []string{"events_subject_seq (subject=? AND seq<?)"}, []string{"SCAN events\n", "TEMP B-TREE"}},
		"source":          {store.EventFilter{Source: "payments", BeforeSeq: 1 << 62}, []string{"events_source_seq (source=? AND seq<?)"}, []string{"SCAN events\n", "TEMP B-TREE"}},
		"source, forward": {store.EventFilter{Source: "payments", AfterSeq: 5}, []string{"events_source_seq (source=? AND seq>?)"}, []string{"SCAN events\n", "TEMP B-TREE"}},
		// No index holds events by time: the newest are walked by seq, each
		// tested against the window, until the page is full.
		"since":       {store.EventFilter{Since: time.Unix(1, 0), BeforeSeq: 1 << 62}, []string{"SEARCH e USING INTEGER PRIMARY KEY (rowid<?)"}, []string{"received_at", "TEMP B-TREE"}},
		"since until": {store.EventFilter{Since: time.Unix(1, 0), Until: time.Unix(2, 0), BeforeSeq: 1 << 62}, []string{"SEARCH e USING INTEGER PRIMARY KEY (rowid<?)"}, []string{"received_at", "TEMP B-TREE"}},
		// A page of the events page walks down to a seq (internal/inspect).
		"since until, down to a seq": {store.EventFilter{Since: time.Unix(1, 0), Until: time.Unix(2, 0), BeforeSeq: 1 << 62, MinSeq: 5},
			[]string{"SEARCH e USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"}, []string{"received_at", "TEMP B-TREE"}},
		"none, down to a seq": {store.EventFilter{Delivery: store.DeliveryNone, BeforeSeq: 1 << 62, MinSeq: 5},
			[]string{"SEARCH e USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)", byEvent}, []string{"SCAN deliveries", "deliveries_listed", "TEMP B-TREE"}},
		"message.* and succeeded, down to a seq": {store.EventFilter{Type: "message.*", Delivery: store.DeliverySucceeded, BeforeSeq: 1 << 62, MinSeq: 5},
			[]string{"MERGE (UNION ALL)", "INDEX events_type_seq (type=? AND seq>? AND seq<?)"}, []string{"SCAN events", "SCAN deliveries", "TEMP B-TREE"}},
	} {
		q, args, err := listEventsSQL(tc.f, patternTypes)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		all := queryPlan(t, s, q, args) + "\n"
		for _, ix := range tc.use {
			if !strings.Contains(all, ix) {
				t.Errorf("%s does not use %s:\n%s", name, ix, all)
			}
		}
		for _, bad := range tc.forbid {
			if strings.Contains(all, bad) {
				t.Errorf("%s: %q in its plan:\n%s", name, strings.TrimSpace(bad), all)
			}
		}
	}
}

// stateWalkForbids are what a listing by dead or pending must not do:
// read every delivery in its state (deliveries_listed, or a walk's rows
// gathered before the page is taken from them), scan, or sort.
var stateWalkForbids = []string{"SCAN deliveries", "SCAN events", "deliveries_listed", "MATERIALIZE", "TEMP B-TREE", "LIST SUBQUERY"}

// patternTypes are the stored types "message.*" is taken to name.
var patternTypes = []string{"message.delivered", "message.sent"}

// Every listing, whatever its filters, walks an index in seq order and
// stops at its limit: none sorts. An index that drew a listing away from
// seq order (as one on received_at did for --since with --until) would
// make it sort every event in range to return one page.
func TestEventListingsNeverSort(t *testing.T) {
	t.Parallel()
	s := openPlans(t)
	var (
		types  = []string{"", "message.sent", "message.*"}
		states = append([]string{""}, store.DeliveryStates()...)
		orders = []store.EventFilter{{}, {BeforeSeq: 1 << 62}, {AfterSeq: 3}}
	)
	for _, typ := range types {
		for _, state := range states {
			for _, order := range orders {
				for m := range 1 << 6 { // every subset of the other filters
					f := order
					f.Type, f.Delivery = typ, store.DeliveryStatus(state)
					if m&1 != 0 {
						f.Subject = "msg_1"
					}
					if m&2 != 0 {
						f.Since = time.Unix(1, 0)
					}
					if m&4 != 0 {
						f.Until = time.Unix(2, 0)
					}
					if m&8 != 0 {
						f.IDSuffix = "3c4d5e6f"
					}
					if m&16 != 0 {
						f.DedupeKeys = []string{"event-id:evt_1", "id:evt_1"}
					}
					f.AttentionOnly = m&32 != 0
					q, args, err := listEventsSQL(f, patternTypes)
					if err != nil {
						t.Fatalf("%+v: %v", f, err)
					}
					if plan := queryPlan(t, s, q, args); strings.Contains(plan, "TEMP B-TREE") {
						t.Errorf("listing %+v sorts:\n%s", f, plan)
					}
				}
			}
		}
	}
}

// Each index on events costs a B-tree insert per accepted event, on the
// ack path: every one must be read by a statement the store runs, and a
// new one must come with the statement that reads it. (Counts are left
// out: any index serves COUNT(*), which reads the smallest.)
func TestEveryEventIndexIsRead(t *testing.T) {
	t.Parallel()
	s := openPlans(t)
	var plans []string
	for _, f := range []store.EventFilter{
		{BeforeSeq: 1 << 62},
		{Type: "message.sent", BeforeSeq: 1 << 62},
		{Subject: "msg_1", BeforeSeq: 1 << 62},
		{Source: "payments", BeforeSeq: 1 << 62},
		{IDSuffix: "3c4d5e6f", BeforeSeq: 1 << 62},
		{DedupeKeys: []string{"event-id:evt_1"}, BeforeSeq: 1 << 62},
		{Since: time.Unix(1, 0), Until: time.Unix(2, 0), BeforeSeq: 1 << 62},
		{AttentionOnly: true, BeforeSeq: 1 << 62},
	} {
		q, args, err := listEventsSQL(f, nil)
		if err != nil {
			t.Fatal(err)
		}
		plans = append(plans, queryPlan(t, s, q, args))
	}
	plans = append(plans,
		queryPlan(t, s, countDuplicateSQL, []any{1, "sent", "event-id:evt_1", []byte("sum"), 1 << 62}),
		queryPlan(t, s, `SELECT `+eventColumns+` FROM events WHERE id = ?`, []any{"e"}))
	all := strings.Join(plans, "\n")

	rows, err := s.readDB.Query(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		n++
		if !strings.Contains(all, "INDEX "+name+" ") {
			t.Errorf("no statement reads index %s: drop it, or pin the statement that needs it here", name)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no index on events found")
	}
}

func openPlans(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "h.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func queryPlan(t *testing.T, s *Store, q string, args []any) string {
	t.Helper()
	rows, err := s.readDB.Query("EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "\n")
}

// Pruning the rejection log runs on every rejection kept: it must read
// only the index by reason, never the rows and their bodies, and never
// sort.
func TestRejectionPruneReadsOnlyItsIndex(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "h.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	plan := queryPlan(t, s, pruneRejectionsSQL, []any{1000, 1 << 20})
	for _, line := range strings.Split(plan, "\n") {
		if strings.Contains(line, "SCAN rejections") && !strings.Contains(line, "COVERING INDEX rejections_by_reason") ||
			strings.Contains(line, "TEMP B-TREE") {
			t.Errorf("pruning reads the rows or sorts (%s):\n%s", line, plan)
		}
	}
}

// Retention runs while the store takes events: each of its statements
// goes from the oldest seq upwards or through an index, reads an event's
// deliveries and attempts by its ids, and never sorts, so a batch costs
// the same however large the store. So does the kept keys' check on the
// ack path (the append's, and the lookup of a duplicate).
func TestRetentionStatementsUseTheirIndexes(t *testing.T) {
	t.Parallel()
	s := openPlans(t)
	appendArgs := make([]any, 19)
	for i := range appendArgs {
		appendArgs[i] = []byte("x")
	}
	var subjectsArgs []any
	for range 32 {
		subjectsArgs = append(subjectsArgs, "s", "m", "k", "SENT", 5, 1, "e", 1, 1)
	}
	for name, tc := range map[string]struct {
		q     string
		args  []any
		index []string
	}{
		"scan":       {pruneScanSQL, []any{0, 1, 1}, []string{"SEARCH e USING INTEGER PRIMARY KEY (rowid>?)", "SEARCH d USING INDEX deliveries_event (event_seq=?)"}},
		"victims":    {victimsSQL, []any{"[1,2]", 1, 1}, []string{"SEARCH e USING INTEGER PRIMARY KEY (rowid=?)", "SEARCH d USING INDEX deliveries_event (event_seq=?)"}},
		"attempts":   {pruneAttemptsSQL, []any{"[1,2]"}, []string{"deliveries_event (event_seq=?)", "attempts_delivery (delivery_id=?)"}},
		"events":     {pruneEventsSQL, []any{"[1,2]"}, []string{"SEARCH events USING INTEGER PRIMARY KEY (rowid=?)"}},
		"old keys":   {pruneKeysSQL, []any{1, 10}, []string{"SCAN kept_keys\n"}},
		"kept key":   {keptKeySQL, []any{[]byte("k"), []byte("b")}, []string{"kept_keys_key (key_digest=?)", "kept_keys_body (body_digest=?)"}},
		"append":     {appendSQL, appendArgs, []string{"COVERING INDEX kept_keys_key (key_digest=?)", "COVERING INDEX kept_keys_body (body_digest=?)"}},
		"mark stale": {markStaleSQL, []any{"[1,2]"}, []string{"SEARCH events USING INTEGER PRIMARY KEY (rowid=?)"}},
		// A subject's latest state: kept by the append, counted down,
		// deleted and moved to its next first event by retention, read by
		// a claim and by its page, each by its key, the subject's first
		// event, found through the events' (subject, seq) index.
		"subject":  {subjectsSQLs[1], []any{"s", "m", "k", "SENT", 5, 1, "e", 1, 1}, []string{"SEARCH events USING INDEX events_subject_seq (subject=?)"}},
		"subjects": {subjectsSQLs[32], subjectsArgs, []string{"SEARCH events USING INDEX events_subject_seq (subject=?)"}},
		"prune subjects": {pruneSubjectsSQL, []any{"[1,2]"}, []string{"SEARCH e USING INTEGER PRIMARY KEY (rowid=?)",
			"SEARCH events USING INDEX events_subject_seq (subject=?)", "SEARCH subjects USING INTEGER PRIMARY KEY (rowid=?)"}},
		"drop subjects": {dropSubjectsSQL, []any{"[1,2]"}, []string{"SEARCH subjects USING INTEGER PRIMARY KEY (rowid=?)",
			"SEARCH events USING INDEX events_subject_seq (subject=?)"}},
		"rekey subjects": {rekeySubjectsSQL, []any{"[1,2]"}, []string{"SEARCH subjects USING INTEGER PRIMARY KEY (rowid=?)",
			"SEARCH events USING INDEX events_subject_seq (subject=?)"}},
		"claimed subjects": {claimedSubjectsSQL, []any{`[["s","m"]]`}, []string{"SEARCH s USING INTEGER PRIMARY KEY (rowid=?)",
			"SEARCH events USING INDEX events_subject_seq (subject=?)"}},
		// The backfill of older events walks a stretch of seqs, and
		// compares each with its subject's earlier events.
		"backfill events": {backfillEventsSQL, []any{1, 500}, []string{"SEARCH events USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"}},
		"backfill rank": {backfillRankSQL, []any{5, 7, "m", "s", 1}, []string{"SEARCH events USING INTEGER PRIMARY KEY (rowid=?)",
			"SEARCH p USING INDEX events_subject_seq (subject=? AND seq<?)"}},
		"subject state": {subjectStateSQL, []any{"s", "m"}, []string{"SEARCH subjects USING INTEGER PRIMARY KEY (rowid=?)",
			"SEARCH events USING INDEX events_subject_seq (subject=?)"}},
	} {
		all := queryPlan(t, s, tc.q, tc.args) + "\n"
		for _, bad := range []string{"SCAN events", "SCAN e\n", "SCAN deliveries", "SCAN d\n", "deliveries_listed", "SCAN attempts", "SCAN a\n", "TEMP B-TREE",
			"SCAN subjects", "SCAN s\n"} {
			if bad == "TEMP B-TREE" && name == "prune subjects" {
				continue // it groups the batch's own events, at most maxPruneChunk
			}
			if strings.Contains(all, bad) {
				t.Errorf("%s: %q in its plan:\n%s", name, strings.TrimSpace(bad), all)
			}
		}
		for _, ix := range tc.index {
			if !strings.Contains(all, ix) {
				t.Errorf("%s does not use %s:\n%s", name, ix, all)
			}
		}
	}
}

// A succeeded delivery, what nearly every delivery ends as, is an entry of
// no index but (event_seq, destination): every other index of deliveries
// is partial and leaves it out, so that its claim and its outcome rewrite
// no index entry for it beyond those of the states it passes through.
func TestSucceededDeliveriesAreInOneIndex(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "h.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.readDB.Query(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'deliveries' AND sql IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		n++
		if name != "deliveries_event" && (!strings.Contains(def, " WHERE ") || strings.Contains(def, "succeeded")) {
			t.Errorf("%s holds succeeded deliveries: %s", name, def)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no index of deliveries found")
	}
}

// Listing deliveries by status, and moving them by status, reads only the
// deliveries in that status, in id order: a page costs the same however
// many have succeeded.
func TestDeliveriesByStatusUseTheirIndexes(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "h.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, st := range []store.DeliveryStatus{store.DeliveryPending, store.DeliveryDead, store.DeliveryDiscarded} {
		q, args, ok := listDeliveriesSQL(store.DeliveryFilter{Status: st, Destination: "app", AfterID: 5})
		if !ok {
			t.Fatalf("%s: no statement", st)
		}
		all := queryPlan(t, s, q, args)
		if !strings.Contains(all, "deliveries_listed (status=? AND id>?)") || strings.Contains(all, "TEMP B-TREE") {
			t.Errorf("listing %s does not walk deliveries_listed in id order:\n%s", st, all)
		}
		where, args, err := selection(store.DeliverySelector{Statuses: []store.DeliveryStatus{st}})
		if err != nil {
			t.Fatal(err)
		}
		all = queryPlan(t, s, `UPDATE deliveries SET updated_at = 1 WHERE `+where, args)
		if !strings.Contains(all, "deliveries_listed (status=?)") {
			t.Errorf("moving %s does not go through deliveries_listed:\n%s", st, all)
		}
	}
	for _, st := range []store.DeliveryStatus{store.DeliveryDead, store.DeliverySucceeded} {
		q, args, _ := listDeliveriesSQL(store.DeliveryFilter{EventID: "e", Status: st})
		if all := queryPlan(t, s, q, args); !strings.Contains(all, "deliveries_event (event_seq=?)") || strings.Contains(all, "deliveries_listed") {
			t.Errorf("listing an event's %s deliveries does not go by the event:\n%s", st, all)
		}
	}
	q, args, _ := listDeliveriesSQL(store.DeliveryFilter{Status: store.DeliveryInFlight})
	if all := queryPlan(t, s, q, args); !strings.Contains(all, "deliveries_in_flight") {
		t.Errorf("listing in-flight deliveries does not read deliveries_in_flight:\n%s", all)
	}
	if _, _, ok := listDeliveriesSQL(store.DeliveryFilter{Status: "lost"}); ok {
		t.Error("a status no delivery is in makes a statement")
	}
}

// The statements that insert a delivery or change its status build no
// temporary b-tree to evaluate an index's condition. SQLite codes an IN
// list of three or more values as one, built at every run of the
// statement, and evaluates a partial index's condition on every row that
// statement writes: with deliveries_listed's condition once an IN list,
// each single-row insert and completion spent about half its CPU building
// it.
func TestDeliveryWritesBuildNoTemporaryTable(t *testing.T) {
	s := openPlans(t)
	// A keyed ephemeral table ("k(...)" in P4) is what an IN list is built
	// as. Others (a RETURNING's rows, a CTE's) hold no key.
	keyed := func(q string, args []any) []string {
		t.Helper()
		rows, err := s.readDB.Query("EXPLAIN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var found []string
		for rows.Next() {
			var (
				addr, p1, p2, p3 int
				op, p4, comment  sql.NullString
				p5               sql.NullString
			)
			if err := rows.Scan(&addr, &op, &p1, &p2, &p3, &p4, &p5, &comment); err != nil {
				t.Fatal(err)
			}
			if op.String == "OpenEphemeral" && strings.HasPrefix(p4.String, "k(") {
				found = append(found, fmt.Sprintf("%d: OpenEphemeral %s", addr, p4.String))
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return found
	}
	ones := func(n int) []any {
		args := make([]any, n)
		for i := range args {
			args[i] = 1
		}
		return args
	}
	for name, tc := range map[string]struct {
		q    string
		args []any
	}{
		"insert":          {insertDeliveriesSQL(1), ones(deliveryArgs)},
		"insert 8":        {insertDeliveriesSQL(8), ones(8 * deliveryArgs)},
		"complete":        {completeRowsSQL(1), ones(completeArgs)},
		"release expired": {releaseExpiredSQL, []any{1, 1, 1}},
		"discard":         {`UPDATE deliveries SET status = 'discarded', updated_at = 1 WHERE id = 1`, nil},
		"requeue":         {`UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = 1, updated_at = 1 WHERE id = 1`, nil},
	} {
		if found := keyed(tc.q, tc.args); len(found) > 0 {
			t.Errorf("%s builds a temporary b-tree at every run:\n%s", name, strings.Join(found, "\n"))
		}
	}
}

// A confirmation counts the events a bulk action would touch: the count
// reads only the seqs of the listing's walk, from the (type, seq) index
// alone for a type, never the events' rows, and walks a time range from
// the seq it starts at (found by bisecting seq by the rowid), not from
// the oldest event.
func TestEventCountsReadOnlyTheirIndexes(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "h.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for name, tc := range map[string]struct {
		f           store.EventFilter
		use, forbid []string
	}{
		"type": {store.EventFilter{Type: "message.sent", BeforeSeq: 1 << 62},
			[]string{"COVERING INDEX events_type_seq (type=? AND seq<?)"}, []string{"SCAN events", "TEMP B-TREE", "deliveries"}},
		"type pattern": {store.EventFilter{Type: "message.*", BeforeSeq: 1 << 62},
			[]string{"MERGE (UNION ALL)", "COVERING INDEX events_type_seq (type=? AND seq<?)"}, []string{"SCAN events", "TEMP B-TREE", "deliveries_event"}},
		"dead": {store.EventFilter{Delivery: store.DeliveryDead, BeforeSeq: 1 << 62},
			[]string{"deliveries_dead (event_seq<?)"}, append(stateWalkForbids, "deliveries_event")},
		"since, from its seq": {store.EventFilter{Since: time.Unix(1, 0), BeforeSeq: 1 << 62, MinSeq: 5},
			[]string{"SEARCH e USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"}, []string{"SCAN e", "SCAN events", "TEMP B-TREE", "deliveries"}},
	} {
		q, args, err := countingSQL(tc.f, patternTypes, 10001)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		all := queryPlan(t, s, q, args) + "\n"
		for _, ix := range tc.use {
			if !strings.Contains(all, ix) {
				t.Errorf("%s does not use %s:\n%s", name, ix, all)
			}
		}
		for _, bad := range tc.forbid {
			if strings.Contains(all, bad) {
				t.Errorf("%s: %q in its plan:\n%s", name, strings.TrimSpace(bad), all)
			}
		}
	}
	plan := queryPlan(t, s, receivedSinceSQL, []any{5, 1})
	if !strings.Contains(plan, "SEARCH events USING INTEGER PRIMARY KEY (rowid>?)") || strings.Contains(plan, "SCAN events") {
		t.Errorf("a probe of the seq where a time range starts does not seek by seq:\n%s", plan)
	}
	if plan := queryPlan(t, s, seqBoundsSQL, nil); strings.Contains(plan, "SCAN events") {
		t.Errorf("the oldest and newest seq are found by reading every event:\n%s", plan)
	}
}
