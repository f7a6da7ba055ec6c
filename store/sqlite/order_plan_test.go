package sqlite

import (
	"regexp"
	"strings"
	"testing"

	"github.com/hooklatch/hooklatch/store"
)

// The statements of FIFO per subject read only a subject's open
// deliveries, through their indexes, and never sort: the trigger that
// picks a subject's head (its statements, run with the subject as
// parameters), the statement that orders a new delivery, and the count of
// held subjects. A claim still reads only deliveries_pending, which held
// deliveries are not in.
func TestSubjectOrderStatementsUseTheirIndexes(t *testing.T) {
	s := openPlans(t)
	var trigger string
	if err := s.readDB.QueryRow(`SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'deliveries_subject_next'`).Scan(&trigger); err != nil {
		t.Fatal(err)
	}
	body := trigger[strings.Index(trigger, "BEGIN")+len("BEGIN") : strings.LastIndex(trigger, "END")]
	body = regexp.MustCompile(`--[^\n]*`).ReplaceAllString(body, "")
	body = strings.NewReplacer("new.destination", "?1", "new.order_key", "?2").Replace(body)
	statements := map[string]string{
		"held subjects": heldSubjectsSQL,
		"order":         orderSQL,
		"claim":         claimSQL,
	}
	for i, q := range strings.Split(body, ";") {
		if strings.TrimSpace(q) != "" {
			statements["trigger statement "+string(rune('1'+i))] = q
		}
	}
	if len(statements) != 5 {
		t.Fatalf("the trigger has %d statements, want 2:\n%s", len(statements)-3, body)
	}
	for name, q := range statements {
		args := []any{"app", "message_id:m"} // the trigger's
		switch name {
		case "held subjects":
			args = []any{"app", store.MaxHeldCount}
		case "order", "claim":
			args = []any{"o", 1, 1, 1, 1}
		}
		plan := queryPlan(t, s, q, args)
		if strings.Contains(plan, "SCAN deliveries") {
			t.Errorf("%s reads every delivery:\n%s", name, plan)
		}
		if strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("%s sorts:\n%s", name, plan)
		}
		if strings.Contains(plan, "deliveries_listed") || (name != "claim" && strings.Contains(plan, "deliveries_pending")) {
			t.Errorf("%s walks the deliveries by status:\n%s", name, plan)
		}
	}
}
