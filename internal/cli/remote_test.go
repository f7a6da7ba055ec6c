package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/internal/bench"
	"github.com/hooklatch/hooklatch/internal/cli"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/server"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/store/postgres/pgtest"
	"github.com/hooklatch/hooklatch/store/sqlite"
)

const adminToken = "remote-admin-token-0123456789"

// app is the application serve delivers to: it counts what it receives
// by event id.
type app struct {
	*httptest.Server
	mu       sync.Mutex
	received map[string]int
}

func newApp(t *testing.T) *app {
	t.Helper()
	a := &app{received: map[string]int{}}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		a.mu.Lock()
		a.received[r.Header.Get(httpdest.HeaderEventID)]++
		a.mu.Unlock()
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *app) count(id string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.received[id]
}

// remoteServe is a running serve with an admin token, its store, and the
// environments that reach the same events through the store (local) and
// through the admin API (remote).
type remoteServe struct {
	srv           *server.Server
	adminURL      string
	local, remote map[string]string
}

// startRemoteServe runs serve in-process on location with the admin
// listener on loopback behind adminToken, delivering to a as "forward".
func startRemoteServe(t *testing.T, location string, a *app, secrets string) *remoteServe {
	t.Helper()
	ss, err := signature.ParseSecrets(secrets)
	if err != nil {
		t.Fatal(err)
	}
	var routes []dispatch.Route
	if a != nil {
		forward, err := httpdest.New(httpdest.Config{URL: a.URL})
		if err != nil {
			t.Fatal(err)
		}
		routes = []dispatch.Route{{Name: "forward", Destination: forward}}
	}
	srv, err := server.New(context.Background(), server.Config{Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", AdminToken: adminToken,
		Store: location, Secrets: ss, Routes: routes})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown() })
	s := &remoteServe{srv: srv, adminURL: "http://" + srv.AdminAddr()}
	s.local = map[string]string{"HOOKLATCH_STORE": location}
	s.remote = map[string]string{"HOOKLATCH_ADMIN_URL": s.adminURL, "HOOKLATCH_ADMIN_TOKEN": adminToken}
	return s
}

// send posts a message event signed with secret, Sent's id for it sentID,
// and returns the status and the id serve gave the event.
func (s *remoteServe) send(t *testing.T, secret, sentID string) (int, string) {
	t.Helper()
	body := fmt.Appendf(nil, `{"field":"message","sub_type":"message.delivered","timestamp":"2026-01-02T10:00:00Z","payload":{"message_id":"msg-%s","message_status":"DELIVERED"}}`, sentID)
	return s.post(t, secret, sentID, body)
}

// post posts body signed with secret, Sent's id for it sentID, and
// returns the status and the id serve gave the event.
func (s *remoteServe) post(t *testing.T, secret, sentID string, body []byte) (int, string) {
	t.Helper()
	ss, err := signature.ParseSecrets(secret)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+s.srv.Addr()+"/webhooks/sent", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = signature.Sign(signature.V1, ss[0], body, signature.SignOptions{})
	req.Header.Set(event.HeaderEventID, sentID)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Hooklatch-Event-Id")
}

// same runs args locally and remotely and wants the same exit code and
// output from both; it returns the remote result.
func (s *remoteServe) same(t *testing.T, args ...string) result {
	t.Helper()
	local := run(t, s.local, "", args...)
	remote := run(t, s.remote, "", args...)
	if remote.code != local.code || remote.stdout != local.stdout || remote.stderr != local.stderr {
		t.Errorf("%s: through the admin API exit %d\n%s%s\non the store exit %d\n%s%s", strings.Join(args, " "),
			remote.code, remote.stdout, remote.stderr, local.code, local.stdout, local.stderr)
	}
	return remote
}

type listed struct {
	ID         string `json:"id"`
	DedupeKey  string `json:"dedupe_key"`
	ReceivedAt string `json:"received_at"`
	Delivery   string `json:"delivery"`
}

func listJSON(t *testing.T, vars map[string]string, args ...string) []listed {
	t.Helper()
	r := run(t, vars, "", append([]string{"events", "ls", "--json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("events ls: exit %d\n%s", r.code, r.stderr)
	}
	var out []listed
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	for dec.More() {
		var ev listed
		if err := dec.Decode(&ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// Through the admin API, events ls, retry's count and backfill's errors
// read as on the store itself, for every filter and across pages of the
// API: a store grown with the mix a sender produces (dead, pending,
// attention, duplicates, every type).
func TestEventsThroughTheAdminAPIReadAsOnTheStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	secrets, _ := signature.ParseSecrets(v1Secret)
	if _, err := bench.Grow(ctx, st, 1300, secrets[0], io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	a := newApp(t) // bench.Grow's destination, which no grown delivery is due to yet
	s := startRemoteServe(t, path, a, v1Secret)

	all := listJSON(t, s.local, "--limit", "5000")
	if len(all) < 1300 {
		t.Fatalf("%d events listed of the 1300 grown", len(all))
	}
	mid := all[len(all)/2].ReceivedAt
	for _, tc := range []struct {
		args  []string
		code  int
		lines int // of the output, when not 0
	}{
		{[]string{"events", "ls"}, 0, 51},
		{[]string{"events", "ls", "--json", "--limit", "1250"}, 0, 1250}, // two pages of the API
		{[]string{"events", "ls", "--limit", "5000"}, 0, len(all) + 1},   // every one
		{[]string{"events", "ls", "--status", "dead", "--limit", "400"}, 0, 0},
		{[]string{"events", "ls", "--status", "succeeded", "--json", "--limit", "1100"}, 0, 1100},
		{[]string{"events", "ls", "--type", "message.*", "--since", mid}, 0, 51},
		{[]string{"events", "ls", "--until", mid, "--limit", "20"}, 0, 21},
		{[]string{"events", "ls", "--source", "sent", "--limit", "20"}, 0, 21},
		{[]string{"events", "ls", "--status", "lost"}, cli.ExitUsage, 0},
		{[]string{"events", "retry", "--status", "dead", "--until", mid, "--dry-run"}, 0, 2},
		{[]string{"events", "replay", "--type", "template.*", "--dry-run"}, 0, 2},
		{[]string{"events", "backfill", "--to", "elsewhere", "--all"}, cli.ExitFailed, 0},
	} {
		r := s.same(t, tc.args...)
		if n := strings.Count(r.stdout, "\n"); r.code != tc.code || tc.lines > 0 && n != tc.lines || strings.HasPrefix(r.stdout, "0 events") ||
			tc.code == 0 && (r.stdout == "" || r.stdout == "no events\n") {
			t.Errorf("%s: exit %d, %d lines\n%.500s%s", strings.Join(tc.args, " "), r.code, n, r.stdout, r.stderr)
		}
		if testing.Verbose() {
			t.Logf("%s:\n%.300s", strings.Join(tc.args, " "), r.stdout)
		}
	}

	// The grown events all came in on Sent's endpoint: another source has none.
	if r := s.same(t, "events", "ls", "--source", "payments"); r.code != 0 || r.stdout != "no events\n" {
		t.Errorf("events ls --source payments: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Retry by filter, on the store: exactly the dead of the range reach
	// the app.
	dead := listJSON(t, s.local, "--status", "dead", "--until", mid, "--limit", "5000")
	if len(dead) == 0 {
		t.Fatal("no dead event in the range: the grown mix changed")
	}
	r := run(t, s.local, "", "events", "retry", "--until", mid, "--yes")
	if want := fmt.Sprintf("%d events match: received before ", len(dead)); r.code != 0 || !strings.HasPrefix(r.stdout, want) ||
		!strings.HasSuffix(r.stdout, fmt.Sprintf("\n%d deliveries requeued\n", len(dead))) {
		t.Fatalf("retry --until: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	waitFor(t, "the retried deliveries delivered", func() bool {
		for _, ev := range dead {
			if a.count(ev.ID) != 1 {
				return false
			}
		}
		return true
	})
	a.mu.Lock()
	if len(a.received) != len(dead) {
		t.Errorf("the app received %d events, want the %d retried", len(a.received), len(dead))
	}
	a.mu.Unlock()

	// Replay of the whole range through the API, in batches of 500: every
	// event of it reaches the app once more, none other.
	waitFor(t, "the retried deliveries settled", func() bool {
		settled := map[string]bool{}
		for _, ev := range listJSON(t, s.remote, "--until", mid, "--limit", "5000") {
			settled[ev.ID] = ev.Delivery == "succeeded"
		}
		for _, ev := range dead {
			if !settled[ev.ID] {
				return false
			}
		}
		return true
	})
	inRange := listJSON(t, s.remote, "--until", mid, "--limit", "5000")
	if len(inRange) <= 500 {
		t.Fatalf("%d events in the range: not enough for two batches", len(inRange))
	}
	r = run(t, s.remote, "", "events", "replay", "--until", mid, "--yes")
	if r.code != 0 || !strings.HasSuffix(r.stdout, fmt.Sprintf("\n%d deliveries requeued\n", len(inRange))) {
		t.Fatalf("replay --until of %d events: exit %d\n%s%s", len(inRange), r.code, r.stdout, r.stderr)
	}
	before := map[string]int{}
	for _, ev := range dead {
		before[ev.ID] = 1
	}
	waitFor(t, "the replayed range delivered", func() bool {
		for _, ev := range inRange {
			if a.count(ev.ID) != before[ev.ID]+1 {
				return false
			}
		}
		return true
	})
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.received) != len(inRange) {
		t.Errorf("the app received %d events, want the %d of the range", len(a.received), len(inRange))
	}
}

// events show names an event by its id, the end of it and Sent's id, and
// shows the same through the admin API; events replay --since --until
// requeues exactly the events received in the range, which the app then
// receives again; on SQLite and on PostgreSQL.
func TestEventsReplayByTimeRangeThroughTheAdminAPI(t *testing.T) {
	t.Parallel()
	for name, location := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "h.db") },
		"postgres": func(t *testing.T) string { return pgtest.URL(t) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := newApp(t)
			s := startRemoteServe(t, location(t), a, v1Secret)
			var ids []string
			for i := range 6 {
				code, id := s.send(t, v1Secret, fmt.Sprintf("evt_remote_%d", i))
				if code != http.StatusOK || id == "" {
					t.Fatalf("send: %d %q", code, id)
				}
				ids = append(ids, id)
			}
			waitFor(t, "every event delivered once and settled", func() bool {
				evs := listJSON(t, s.remote)
				for _, ev := range evs {
					if ev.Delivery != "succeeded" || a.count(ev.ID) != 1 {
						return false
					}
				}
				return len(evs) == len(ids)
			})
			received := map[string]string{}
			for _, ev := range listJSON(t, s.remote) {
				received[ev.ID] = ev.ReceivedAt
			}
			since, until := received[ids[1]], received[ids[4]] // ids 1, 2 and 3

			r := run(t, s.remote, "", "events", "replay", "--since", since, "--until", until, "--dry-run")
			if r.code != 0 || !strings.HasPrefix(r.stdout, "3 events match: received from ") || !strings.Contains(r.stdout, "dry run: nothing done") {
				t.Fatalf("replay --dry-run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			r = run(t, s.remote, "", "events", "replay", "--since", since, "--until", until)
			if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "pass --yes to replay them, or --dry-run") {
				t.Fatalf("replay without --yes nor a terminal: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			r = run(t, nil, "", "events", "replay", "--admin-url", s.adminURL, "--since", since, "--until", until, "--yes")
			if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "wants the admin token") {
				t.Fatalf("replay without the token: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			r = run(t, map[string]string{"HOOKLATCH_ADMIN_TOKEN": adminToken}, "", "events", "replay", "--admin-url", s.adminURL,
				"--since", since, "--until", until, "--yes")
			if r.code != 0 || !strings.HasSuffix(r.stdout, "\n3 deliveries requeued\n") {
				t.Fatalf("replay --yes: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			waitFor(t, "the replayed events delivered again", func() bool {
				return a.count(ids[1]) == 2 && a.count(ids[2]) == 2 && a.count(ids[3]) == 2
			})
			// Those outside the range were not requeued: delivered once,
			// one attempt, succeeded.
			for _, i := range []int{0, 4, 5} {
				var d struct {
					Delivery   string
					Deliveries []struct{ Attempts []struct{} }
				}
				r := run(t, s.remote, "", "events", "show", "--json", ids[i])
				if err := json.Unmarshal([]byte(r.stdout), &d); err != nil || d.Delivery != "succeeded" || len(d.Deliveries) != 1 ||
					len(d.Deliveries[0].Attempts) != 1 || a.count(ids[i]) != 1 {
					t.Errorf("event %d, outside the range: %s (%v), app received it %d times", i, r.stdout, err, a.count(ids[i]))
				}
			}
			waitFor(t, "the replayed deliveries settled", func() bool {
				return len(listJSON(t, s.remote, "--status", "pending")) == 0
			})

			// Every name of an event shows it the same through the API.
			for _, ref := range []string{ids[2], ids[2][len(ids[2])-8:], "evt_remote_2", "event-id:evt_remote_2"} {
				r := s.same(t, "events", "show", ref)
				if r.code != 0 || !strings.Contains(r.stdout, "event "+ids[2]) || !strings.Contains(r.stdout, "2 attempts (1 counted against its budget)") {
					t.Errorf("events show %s: exit %d\n%s%s", ref, r.code, r.stdout, r.stderr)
				}
				s.same(t, "events", "show", "--json", ref)
			}
			if r := s.same(t, "events", "show", "0badc0de"); r.code != cli.ExitFailed || !strings.Contains(r.stderr, "no event 0badc0de") {
				t.Errorf("events show of an unknown id: exit %d %s", r.code, r.stderr)
			}
			if r := s.same(t, "events", "replay", ids[0], "0badc0de"); r.code != cli.ExitFailed {
				t.Errorf("replay of a known and an unknown id: exit %d %s", r.code, r.stderr)
			}
			s.same(t, "events", "ls", "--json")
			// Every event has its delivery to forward already.
			if r := s.same(t, "events", "backfill", "--to", "forward", "--from", ids[3]); r.code != 0 || r.stdout != "0 deliveries to forward created\n" {
				t.Errorf("backfill --from: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// rejections ls, show and release work through the admin API; release
// verifies with the serve's own secrets, once its configuration is fixed
// and it restarted.
func TestRejectionsThroughTheAdminAPI(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "h.db")
	a := newApp(t)
	s := startRemoteServe(t, path, a, v1Secret)
	const otherSecret = "whsec_b3RoZXItc2VjcmV0LW9mLXRoZS1zYW1lLXNlbmRlcg=="
	if code, _ := s.send(t, otherSecret, "evt_rejected"); code != http.StatusUnauthorized {
		t.Fatalf("signed with a secret serve has not: %d", code)
	}
	waitFor(t, "the rejection kept", func() bool {
		r := run(t, s.remote, "", "rejections", "ls")
		if r.code != 0 {
			t.Fatalf("rejections ls: exit %d\n%s", r.code, r.stderr)
		}
		return strings.Contains(r.stdout, "no_match")
	})
	s.same(t, "rejections", "ls")
	s.same(t, "rejections", "ls", "--json")
	if r := s.same(t, "rejections", "show", "1"); r.code != 0 || !strings.Contains(r.stdout, "msg-evt_rejected") {
		t.Errorf("rejections show 1: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	s.same(t, "rejections", "show", "--json", "1")
	if r := s.same(t, "rejections", "show", "99"); r.code != cli.ExitFailed || !strings.Contains(r.stderr, "no rejection 99") {
		t.Errorf("rejections show 99: exit %d %s", r.code, r.stderr)
	}
	// The serve's secret still does not verify it.
	r := run(t, s.remote, "", "rejections", "release", "--all")
	if r.code != cli.ExitFailed || !strings.Contains(r.stdout, "rejection 1: still fails (no_match)") || !strings.Contains(r.stdout, "0 released, 1 still failing") {
		t.Fatalf("release with the serve's old secret: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, s.remote, "", "rejections", "release", "--all", "--secret", otherSecret); r.code != cli.ExitUsage || !strings.Contains(r.stderr, "serve verifies with its own secrets") {
		t.Errorf("release --secret through the API: exit %d %s", r.code, r.stderr)
	}

	// Fixed: serve runs with both secrets; the release stores the event,
	// which the app receives.
	if err := s.srv.Shutdown(); err != nil {
		t.Fatal(err)
	}
	s = startRemoteServe(t, path, a, v1Secret+","+otherSecret)
	r = run(t, s.remote, "", "rejections", "release", "1")
	if r.code != 0 || !strings.Contains(r.stdout, "rejection 1: verified with secret 2 (v1), stored as event ") || !strings.Contains(r.stdout, "1 released, 0 still failing") {
		t.Fatalf("release with the fixed serve: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	evs := listJSON(t, s.remote)
	if len(evs) != 1 || evs[0].DedupeKey != "event-id:evt_rejected" {
		t.Fatalf("events after release: %+v", evs)
	}
	waitFor(t, "the released event delivered", func() bool { return a.count(evs[0].ID) == 1 })
}

// A wrong token, no token, a URL nothing answers at and one that is not
// the admin listener each fail with a message that says so.
func TestAdminURLErrors(t *testing.T) {
	t.Parallel()
	s := startRemoteServe(t, filepath.Join(t.TempDir(), "h.db"), nil, v1Secret)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	for _, tc := range []struct {
		name string
		vars map[string]string
		args []string
		code int
		want string
	}{
		{"wrong token", map[string]string{"HOOKLATCH_ADMIN_TOKEN": "not-the-token-at-all"}, []string{"--admin-url", s.adminURL}, cli.ExitUsage,
			"the admin API at " + s.adminURL + " refused the admin token"},
		{"no token", nil, []string{"--admin-url", s.adminURL}, cli.ExitUsage, "wants the admin token: set $HOOKLATCH_ADMIN_TOKEN"},
		{"unreachable", map[string]string{"HOOKLATCH_ADMIN_URL": closed, "HOOKLATCH_ADMIN_TOKEN": adminToken}, nil, cli.ExitRuntime,
			"cannot reach the admin API at " + closed + ": dial tcp"},
		{"the webhook listener", map[string]string{"HOOKLATCH_ADMIN_TOKEN": adminToken}, []string{"--admin-url", s.srv.Addr()}, cli.ExitRuntime,
			"is that URL serve's admin listener?"},
		{"not a URL", nil, []string{"--admin-url", "ftp://x"}, cli.ExitUsage, `--admin-url "ftp://x": want the URL of serve's admin listener`},
		{"both", nil, []string{"--admin-url", s.adminURL, "--store", "h.db"}, cli.ExitUsage, "--store and --admin-url: give one"},
	} {
		for _, cmd := range [][]string{{"events", "ls"}, {"rejections", "ls"}, {"events", "replay", "--since", "1h", "--yes"}} {
			r := run(t, tc.vars, "", append(cmd, tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("%s, %s: exit %d, stderr %q; want exit %d saying %q", tc.name, strings.Join(cmd, " "), r.code, r.stderr, tc.code, tc.want)
			}
		}
	}
	// A token file does as the variable does.
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(adminToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := run(t, nil, "", "events", "ls", "--admin-url", s.adminURL, "--admin-token-file", file); r.code != 0 || r.stdout != "no events\n" {
		t.Errorf("--admin-token-file: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
