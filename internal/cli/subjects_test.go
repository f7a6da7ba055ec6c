package cli_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hooklatch/hooklatch/internal/cli"
)

// sendStatus posts message msg reaching status at minute min past ten,
// Sent's id for it sentID.
func (s *remoteServe) sendStatus(t *testing.T, sentID, msg, status string, min int) {
	t.Helper()
	body := fmt.Appendf(nil, `{"field":"message","sub_type":"message.%s","timestamp":"2026-01-02T10:%02d:00Z","payload":{"message_id":%q,"message_status":%q}}`,
		strings.ToLower(status), min, msg, status)
	if code, _ := s.post(t, v1Secret, sentID, body); code != http.StatusOK {
		t.Fatalf("send %s %s: %d", msg, status, code)
	}
}

// A message's statuses received out of order: subjects show prints its
// latest state, the highest-ranked status, and marks the events that
// arrived stale; the same on the store and through the admin API, whose
// GET /v1/subjects/{subject} answers 404 for a subject it has no state of.
func TestSubjectsShowOutOfOrder(t *testing.T) {
	t.Parallel()
	s := startRemoteServe(t, filepath.Join(t.TempDir(), "h.db"), nil, v1Secret)
	s.sendStatus(t, "e-delivered", "msg-1", "DELIVERED", 2)
	s.sendStatus(t, "e-sent", "msg-1", "SENT", 1)
	s.sendStatus(t, "e-queued", "msg-1", "QUEUED", 0)

	r := s.same(t, "subjects", "show", "msg-1")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "subject message_id=msg-1 (source sent): DELIVERED, rank 6\n") ||
		strings.Count(r.stdout, "  stale\n") != 2 || !strings.Contains(r.stdout, "; 3 events\n") {
		t.Errorf("subjects show: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = s.same(t, "subjects", "show", "msg-1", "--json")
	var d struct {
		State struct {
			Status string `json:"status"`
			Rank   int    `json:"rank"`
			Events int    `json:"events"`
		} `json:"state"`
		Events []struct {
			Status string `json:"status"`
			Rank   int    `json:"rank"`
			Stale  bool   `json:"stale"`
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("subjects show --json: %v\n%s", err, r.stdout)
	}
	got := fmt.Sprintf("%s %d %d:", d.State.Status, d.State.Rank, d.State.Events)
	for _, ev := range d.Events {
		got += fmt.Sprintf(" %s/%d/%v", ev.Status, ev.Rank, ev.Stale)
	}
	if want := "DELIVERED 6 3: QUEUED/2/true SENT/5/true DELIVERED/6/false"; got != want {
		t.Errorf("subjects show --json: %s, want %s", got, want)
	}

	for _, args := range [][]string{{"subjects", "show", "msg-unknown"}, {"subjects", "show", "msg-1", "--source", "elsewhere"}} {
		if r := s.same(t, args...); r.code != cli.ExitFailed || !strings.Contains(r.stderr, "no subject ") {
			t.Errorf("%s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, s.adminURL+"/v1/subjects/msg-unknown", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /v1/subjects/msg-unknown: %s, want 404", resp.Status)
	}
}

// The dashboard's subject page shows the lifecycle as received, the
// events that arrived out of order marked, and every event's page links
// to it.
func TestSubjectsDashboardPage(t *testing.T) {
	t.Parallel()
	s := startRemoteServe(t, filepath.Join(t.TempDir(), "h.db"), nil, v1Secret)
	s.sendStatus(t, "e-read", "msg-2", "READ", 3)
	s.sendStatus(t, "e-delivered", "msg-2", "DELIVERED", 2)
	get := func(path string) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.adminURL+path, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s\n%s", path, resp.Status, body)
		}
		return string(body)
	}
	page := get("/ui/subjects/msg-2")
	read, delivered := strings.Index(page, "<b>READ</b>"), strings.Index(page, "<b>DELIVERED</b>")
	if !strings.Contains(page, `<b id="subject-status">READ</b>`) || read < 0 || delivered < read ||
		strings.Count(page, "out of order</span>") != 1 || !strings.Contains(page, `<li class="arrival stale">`) {
		t.Errorf("the subject page does not show READ as the latest, then DELIVERED received out of order:\n%s", page)
	}
	var d struct {
		Events []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(get("/v1/subjects/msg-2")), &d); err != nil || len(d.Events) != 2 {
		t.Fatalf("GET /v1/subjects/msg-2: %v %+v", err, d)
	}
	if ev := get("/ui/events/" + d.Events[0].ID); !strings.Contains(ev, `href="/ui/subjects/msg-2?source=sent"`) ||
		!strings.Contains(ev, "arrived out of order") {
		t.Errorf("the page of the DELIVERED received after READ does not link its subject or say it came out of order:\n%s", ev)
	}
}
