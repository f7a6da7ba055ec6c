package postgres

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store"
)

// The statements of FIFO per subject read only a subject's open
// deliveries, through their indexes, on a table large enough (100,000
// deliveries, analyzed, 10 % of them ordered and open) that the planner
// would rather read it whole if no index served: the trigger's statements
// that pick a subject's head (run with the subject as parameters), the
// statement that orders new deliveries, the count of held subjects, and
// the claim, which still reads only deliveries_pending.
func TestSubjectOrderStatementsUseTheirIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openInternal(t)
	if _, err := s.pool.Exec(ctx, `INSERT INTO events (id, source, dedupe_key, type, subject, received_at, headers, body, body_sha256)
SELECT 'e' || i, 'sent', 'event-id:evt_' || i, 'message.sent', 'msg_' || (i / 4), now(), '{}', ''::bytea, sha256(i::text::bytea)
FROM generate_series(1, 100000) i`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO deliveries (event_seq, event_id, destination, status, next_attempt_at, created_at, updated_at,
                        order_key, order_rank, held)
SELECT seq, id, 'app', CASE WHEN seq % 10 = 0 THEN 'pending' ELSE 'succeeded' END, now(), now(), now(),
       'message_id:' || subject, 5, seq % 40 <> 0
FROM events`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE events, deliveries`); err != nil {
		t.Fatal(err)
	}
	script, err := migrations.ReadFile("migrations/0010_subject_order.sql")
	if err != nil {
		t.Fatal(err)
	}
	body := string(script)
	body = body[strings.Index(body, "END IF;\n    FOR")+len("END IF;\n") : strings.Index(body, "END LOOP;")]
	body = body[strings.Index(body, "LOOP")+len("LOOP"):]
	body = regexp.MustCompile(`--[^\n]*`).ReplaceAllString(body, "")
	body = regexp.MustCompile(`(?s)PERFORM [^;]*;`).ReplaceAllString(body, "")
	body = regexp.MustCompile(`(?s)IF (.*) THEN(.*)END IF;`).ReplaceAllString(body, "SELECT $1;$2")
	body = strings.ReplaceAll(body, "INTO best ", "")
	body = regexp.MustCompile(`\bdestination = d\b`).ReplaceAllLiteralString(body, "destination = $1")
	body = regexp.MustCompile(`\border_key = k\b`).ReplaceAllLiteralString(body, "order_key = $2")
	body = regexp.MustCompile(`\bbest\b`).ReplaceAllLiteralString(body, "$3::bigint")
	var statements []string
	for q := range strings.SplitSeq(body, ";") {
		if strings.TrimSpace(q) != "" {
			statements = append(statements, q)
		}
	}
	if len(statements) != 4 {
		t.Fatalf("the trigger has %d statements, want 4:\n%s", len(statements), body)
	}
	check := func(name, q string, args []any, use ...string) {
		t.Helper()
		switch {
		case !strings.Contains(q, "$1"):
			q, args = strings.ReplaceAll(q, "$3::bigint", "7"), nil
		case !strings.Contains(q, "$3"):
			args = args[:min(len(args), 2)]
		}
		plan := explain(t, s, q, args)
		if strings.Contains(plan, "Seq Scan on deliveries") {
			t.Errorf("%s reads every delivery:\n%s", name, plan)
		}
		if !slices.ContainsFunc(use, func(ix string) bool { return strings.Contains(plan, ix) }) {
			t.Errorf("%s uses none of %v:\n%s", name, use, plan)
		}
	}
	subject := []any{"app", "message_id:msg_7", int64(7)}
	// A subject's queue, its head, whether it has one in flight (the
	// deliveries in flight are as few as the attempts running), the head.
	uses := [][]string{{"deliveries_subject_queue"}, {"deliveries_subject_head"},
		{"deliveries_subject_head", "deliveries_in_flight"}, {"deliveries_pkey"}}
	for i, q := range statements {
		check("trigger statement "+string(rune('1'+i)), q, subject, uses[i]...)
	}
	now := time.Now()
	check("claim", claimSQL, []any{now, 100, "o", now}, "deliveries_pending")
	check("held subjects", heldSubjectsSQL, []any{store.MaxHeldCount}, "deliveries_subject_retrying")
	check("order", orderSQL, []any{[]string{"e7"}, []string{"app"}, []string{"message_id:msg_1"}, []int32{5}}, "deliveries_event_seq_destination_key", "deliveries_open")
}
