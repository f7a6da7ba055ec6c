package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

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
		"an event's deliveries": {`SELECT id FROM deliveries WHERE ` + byEventSeq + ` = ?) ORDER BY id LIMIT 100`,
			[]any{"e"}, []string{"sqlite_autoindex_deliveries_1"}},
		"by event ids": {`UPDATE deliveries SET status = 'pending' WHERE ` + sel,
			selArgs, []string{"sqlite_autoindex_deliveries_1"}},
	} {
		all := queryPlan(t, s, tc.q, tc.args)
		if strings.Contains(all, "SCAN deliveries") || strings.Contains(all, "deliveries_status") {
			t.Errorf("%s scans the deliveries, or goes by status:\n%s", name, all)
		}
		if strings.Contains(all, "TEMP B-TREE") && name != "an event's deliveries" { // an event has a few
			t.Errorf("%s sorts:\n%s", name, all)
		}
		for _, ix := range tc.index {
			if !strings.Contains(all, ix) {
				t.Errorf("%s does not use %s:\n%s", name, ix, all)
			}
		}
	}
}

// Listing events by delivery state reads few deliveries: dead and pending
// ones from deliveries_status, the common states event by event through
// the (event_seq, destination) index, newest first, stopping at the limit.
// Short ids and dedupe keys read an index of events, never the table.
func TestEventListingsUseTheirIndexes(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "h.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	byEvent := "sqlite_autoindex_deliveries_1"
	for name, tc := range map[string]struct {
		f           store.EventFilter
		use, forbid []string
	}{
		"newest":    {store.EventFilter{BeforeSeq: 1 << 62}, []string{byEvent}, []string{"SCAN deliveries", "deliveries_status", "TEMP B-TREE"}},
		"dead":      {store.EventFilter{Delivery: store.DeliveryDead, BeforeSeq: 1 << 62}, []string{"deliveries_status"}, []string{"SCAN deliveries", "SCAN events", "TEMP B-TREE"}},
		"pending":   {store.EventFilter{Delivery: store.DeliveryPending, BeforeSeq: 1 << 62}, []string{"deliveries_status", byEvent}, []string{"SCAN deliveries", "SCAN events", "TEMP B-TREE"}},
		"succeeded": {store.EventFilter{Delivery: store.DeliverySucceeded, BeforeSeq: 1 << 62}, []string{byEvent}, []string{"SCAN deliveries", "deliveries_status", "TEMP B-TREE"}},
		"discarded": {store.EventFilter{Delivery: store.DeliveryDiscarded}, []string{byEvent}, []string{"SCAN deliveries", "deliveries_status", "TEMP B-TREE"}},
		"none":      {store.EventFilter{Delivery: store.DeliveryNone}, []string{byEvent}, []string{"SCAN deliveries", "deliveries_status", "TEMP B-TREE"}},
		"id suffix": {store.EventFilter{IDSuffix: "3c4d5e6f", BeforeSeq: 1 << 62}, []string{"COVERING INDEX sqlite_autoindex_events_1"}, []string{"SCAN events\n", "TEMP B-TREE"}},
		"dedupe":    {store.EventFilter{DedupeKeys: []string{"event-id:evt_1", "id:evt_1"}, BeforeSeq: 1 << 62}, []string{"COVERING INDEX sqlite_autoindex_events_2"}, []string{"SCAN events\n", "TEMP B-TREE"}},
	} {
		q, args, err := listEventsSQL(tc.f)
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
