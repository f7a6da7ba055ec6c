package cli_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/internal/cli"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/sqlite"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// seeded is a store on disk holding three events: dead (one of its two
// deliveries dead, the other succeeded), ok (delivered) and waiting (never
// tried), the first two with ids that end alike.
type seeded struct {
	path                 string
	dead, ok, waiting    *store.NewEvent
	vars                 map[string]string
	deadApp, okDelivered int64
}

func seedStore(t *testing.T) seeded {
	t.Helper()
	ctx := context.Background()
	s := seeded{path: filepath.Join(t.TempDir(), "h.db")}
	s.vars = map[string]string{"HOOKLATCH_STORE": s.path}
	st, err := sqlite.Open(ctx, s.path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := time.Now().Add(-time.Minute).UTC()
	add := func(key, id string, dests ...string) *store.NewEvent {
		ev := storetest.NewEvent("sent", key)
		if id != "" {
			ev.ID = id
		}
		ev.ReceivedAt, ev.Destinations = at, dests
		if _, err := st.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
		return ev
	}
	s.dead = add("event-id:evt_dead", "019a0000-0000-7000-8000-0000aa11b2c3", "app", "logs")
	s.ok = add("event-id:evt_ok", "019a0000-0000-7000-8000-0000bb11b2c3", "app")
	claims, err := st.Claim(ctx, store.ClaimParams{Owner: "w", Now: at, Lease: time.Minute})
	if err != nil || len(claims) != 3 {
		t.Fatalf("claim: %d, %v", len(claims), err)
	}
	for _, c := range claims {
		status := store.DeliverySucceeded
		if c.Event.ID == s.dead.ID && c.Delivery.Destination == "app" {
			status, s.deadApp = store.DeliveryDead, c.Delivery.ID
		}
		if c.Event.ID == s.ok.ID {
			s.okDelivered = c.Delivery.ID
		}
		err := st.Complete(ctx, store.Completion{DeliveryID: c.Delivery.ID, Owner: "w", Status: status, SpendAttempt: true, Now: at,
			Attempt: store.Attempt{Attempt: 1, StartedAt: at, Outcome: store.OutcomePermanent, StatusCode: 400, Error: "400 Bad Request"}})
		if err != nil {
			t.Fatal(err)
		}
	}
	s.waiting = add("event-id:evt_waiting", "", "app")
	return s
}

func (s seeded) deliveries(t *testing.T) map[int64]store.Delivery {
	t.Helper()
	st, err := sqlite.Open(context.Background(), s.path, sqlite.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ds, err := st.ListDeliveries(context.Background(), store.DeliveryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]store.Delivery{}
	for _, d := range ds {
		out[d.ID] = d
	}
	return out
}

// An id that names no event is an error naming it, for every command that
// takes one, and nothing is changed.
func TestEventsOfAnUnknownIDFail(t *testing.T) {
	t.Parallel()
	s := seedStore(t)
	before := s.deliveries(t)
	for _, cmd := range []string{"show", "retry", "replay", "discard"} {
		r := run(t, s.vars, "", "events", cmd, "0badc0de")
		if r.code != cli.ExitFailed || !strings.Contains(r.stderr, "no event 0badc0de") {
			t.Errorf("events %s 0badc0de: exit %d, stdout %q, stderr %q; want exit 1 naming the id", cmd, r.code, r.stdout, r.stderr)
		}
	}
	// With a known id first: still nothing done.
	r := run(t, s.vars, "", "events", "replay", s.ok.ID, "0badc0de")
	if r.code != cli.ExitFailed {
		t.Errorf("replay of a known and an unknown id: exit %d", r.code)
	}
	if after := s.deliveries(t); after[s.okDelivered].Status != before[s.okDelivered].Status {
		t.Errorf("a failed replay changed delivery %d: %s", s.okDelivered, after[s.okDelivered].Status)
	}
}

// The short id listen prints (an id's last eight characters), any end of
// at least six, and Sent's event id name an event everywhere; an end two
// events share is an error listing both.
func TestEventsTakeShortIDs(t *testing.T) {
	t.Parallel()
	s := seedStore(t)
	short := s.dead.ID[len(s.dead.ID)-8:]

	r := run(t, s.vars, "", "events", "show", short)
	if r.code != 0 || !strings.Contains(r.stdout, "event "+s.dead.ID) || !strings.Contains(r.stdout, ", 0 duplicates\n") {
		t.Errorf("show %s: exit %d\n%s%s", short, r.code, r.stdout, r.stderr)
	}
	r = run(t, s.vars, "", "events", "show", "evt_ok")
	if r.code != 0 || !strings.Contains(r.stdout, "event "+s.ok.ID) {
		t.Errorf("show by Sent's event id: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, s.vars, "", "events", "show", "11b2c3")
	if r.code != cli.ExitFailed || !strings.Contains(r.stderr, s.dead.ID) || !strings.Contains(r.stderr, s.ok.ID) {
		t.Errorf("an ambiguous short id: exit %d, stderr %q; want exit 1 listing both events", r.code, r.stderr)
	}

	r = run(t, s.vars, "", "events", "retry", short)
	if r.code != 0 || r.stdout != "1 delivery requeued\n" {
		t.Errorf("retry %s: exit %d, %q%s", short, r.code, r.stdout, r.stderr)
	}
	if d := s.deliveries(t)[s.deadApp]; d.Status != store.DeliveryPending {
		t.Errorf("retried delivery is %s, want pending", d.Status)
	}
	r = run(t, s.vars, "", "events", "replay", short, s.ok.ID[len(s.ok.ID)-8:])
	if r.code != 0 || r.stdout != "3 deliveries requeued\n" {
		t.Errorf("replay: exit %d, %q%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, s.vars, "", "events", "retry", "evt_ok")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "0 deliveries requeued: the event has no dead delivery") {
		t.Errorf("retry of an event with no dead delivery: exit %d, %q%s", r.code, r.stdout, r.stderr)
	}
}

// events ls says what became of each event's deliveries, counting
// deliveries in words that cannot be read as attempts, and --status finds
// the events with a delivery in that state, whatever their others are:
// the dead letters, and once one of two deliveries is discarded, the
// event among the discarded as among the succeeded.
func TestEventsListByDeliveryState(t *testing.T) {
	t.Parallel()
	s := seedStore(t)
	r := run(t, s.vars, "", "events", "ls")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "DELIVERY") {
		t.Fatalf("events ls:\n%s", r.stdout)
	}
	for i, want := range []struct{ id, state string }{{s.waiting.ID, " pending "}, {s.ok.ID, " succeeded "}, {s.dead.ID, " 1 of 2 deliveries dead, 1 succeeded "}} {
		if !strings.HasPrefix(lines[i+1], want.id) || !strings.Contains(lines[i+1], want.state) {
			t.Errorf("line %d = %q, want %s with%q", i+1, lines[i+1], want.id, want.state)
		}
	}

	r = run(t, s.vars, "", "events", "ls", "--status", "dead")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); r.code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[1], s.dead.ID) {
		t.Errorf("ls --status dead: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, s.vars, "", "events", "ls", "--status", "pending", "--json")
	var got struct{ ID, Delivery string }
	if err := json.Unmarshal([]byte(r.stdout), &got); r.code != 0 || err != nil || got.ID != s.waiting.ID || got.Delivery != "pending" {
		t.Errorf("ls --status pending --json: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	r = run(t, s.vars, "", "events", "ls", "--status", "succeeded")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); r.code != 0 || len(lines) != 3 ||
		!strings.HasPrefix(lines[1], s.ok.ID) || !strings.HasPrefix(lines[2], s.dead.ID) {
		t.Errorf("ls --status succeeded: exit %d, want the delivered event and the one with a dead delivery beside a delivered one\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r = run(t, s.vars, "", "events", "discard", s.dead.ID); r.code != 0 {
		t.Fatalf("discard: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, s.vars, "", "events", "ls", "--status", "discarded")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); r.code != 0 || len(lines) != 2 ||
		!strings.HasPrefix(lines[1], s.dead.ID) || !strings.Contains(lines[1], " 1 of 2 deliveries succeeded, 1 discarded ") {
		t.Errorf("ls --status discarded after one of two deliveries was discarded: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, s.vars, "", "events", "ls", "--status", "lost")
	if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "dead, pending, succeeded") {
		t.Errorf("ls --status lost: exit %d, %s", r.code, r.stderr)
	}
}

// events show --json is the event, its body, its deliveries and their
// attempts, as the store holds them.
func TestEventsShowJSON(t *testing.T) {
	t.Parallel()
	s := seedStore(t)
	r := run(t, s.vars, "", "events", "show", "--json", s.dead.ID)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var got struct {
		ID         string         `json:"id"`
		Body       map[string]any `json:"body"`
		Delivery   string         `json:"delivery"`
		Deliveries []struct {
			Destination string          `json:"destination"`
			Status      string          `json:"status"`
			Attempts    []store.Attempt `json:"attempts"`
		} `json:"deliveries"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("%v:\n%s", err, r.stdout)
	}
	if got.ID != s.dead.ID || got.Body["key"] != "event-id:evt_dead" || got.Delivery != "dead" || len(got.Deliveries) != 2 {
		t.Fatalf("show --json:\n%s", r.stdout)
	}
	for _, d := range got.Deliveries {
		if len(d.Attempts) != 1 || d.Attempts[0].StatusCode != 400 {
			t.Errorf("delivery to %s (%s): attempts %+v, want the one recorded", d.Destination, d.Status, d.Attempts)
		}
	}
}

// Commands on the store never create one: without a store they say where
// they looked and how to point them elsewhere.
func TestEventsAndRejectionsNeedAStore(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, args := range [][]string{
		{"events", "ls"}, {"events", "show", "x"}, {"events", "retry", "--dead"}, {"events", "replay", "x"},
		{"rejections", "ls"}, {"rejections", "show", "1"},
	} {
		r := run(t, nil, "", args...)
		if r.code != cli.ExitFailed || r.stderr != "hooklatch: no store at hooklatch.db (use --store or HOOKLATCH_STORE)\n" {
			t.Errorf("%s: exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
		}
		if _, err := os.Stat("hooklatch.db"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s created a store: %v", strings.Join(args, " "), err)
		}
	}
	// Where listen keeps its events, the message points there.
	if err := os.WriteFile("hooklatch-listen.db", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, nil, "", "events", "show", "3c4d5e6f")
	if want := "no store at hooklatch.db (use --store or HOOKLATCH_STORE); hooklatch listen keeps its events in hooklatch-listen.db: add --store hooklatch-listen.db"; r.code != cli.ExitFailed || !strings.Contains(r.stderr, want) {
		t.Errorf("next to listen's store: exit %d, stderr %q; want %q", r.code, r.stderr, want)
	}
}

// Reading commands leave an older store as it is and say what to do.
func TestReadingCommandsNeverMigrate(t *testing.T) {
	t.Parallel()
	s := seedStore(t)
	db, err := sql.Open("sqlite", s.path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("PRAGMA user_version = 1"); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"events", "ls"}, {"events", "show", s.ok.ID}, {"rejections", "ls"}} {
		r := run(t, s.vars, "", args...)
		if r.code != cli.ExitFailed || !strings.Contains(r.stderr, "written by an older hooklatch") {
			t.Errorf("%s on an older store: exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	var v int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != 1 {
		t.Errorf("schema version after reading commands = %d, %v; want 1", v, err)
	}
}

// events ls --limit N lists N events, however many pages of the store
// that takes.
func TestEventsListPastOnePage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const stored = 12500
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 64 { // concurrent appends share group commits
		wg.Go(func() {
			for i := w; i < stored; i += 64 {
				if _, err := st.Append(ctx, storetest.NewEvent("sent", fmt.Sprintf("event-id:evt_%d", i))); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	st.Close()

	vars := map[string]string{"HOOKLATCH_STORE": path}
	r := run(t, vars, "", "events", "ls", "--limit", "12000", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	ids := map[string]bool{}
	for line := range strings.Lines(r.stdout) {
		var ev struct{ ID string }
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		ids[ev.ID] = true
	}
	if len(ids) != 12000 {
		t.Errorf("--limit 12000 listed %d distinct events", len(ids))
	}
	r = run(t, vars, "", "events", "ls", "--limit", "20000")
	if r.code != 0 || strings.Count(r.stdout, "\n") != stored+1 {
		t.Errorf("--limit 20000 of %d: exit %d, %d lines", stored, r.code, strings.Count(r.stdout, "\n"))
	}
}
