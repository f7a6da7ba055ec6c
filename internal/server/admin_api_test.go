package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/server"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// apiServer is a running serve with one destination, "app", that fails
// permanently while failing is set, and the means to talk to it.
type apiServer struct {
	*server.Server
	admin     string
	token     string
	failing   atomic.Bool
	delivered atomic.Int64
	secret    signature.Secret
}

func startAPI(t *testing.T, token string) *apiServer {
	t.Helper()
	a := &apiServer{token: token, secret: testSecrets(t)[0]}
	a.Server = start(t, server.Config{AdminToken: token, Routes: []dispatch.Route{{
		Name: "app",
		Destination: destination.Func(func(context.Context, *destination.Delivery) error {
			if a.failing.Load() {
				return destination.Permanent(errors.New("400 Bad Request"))
			}
			a.delivered.Add(1)
			return nil
		}),
	}}})
	a.admin = "http://" + a.AdminAddr()
	return a
}

// messageBody is a well-formed message event about message msg.
func messageBody(typ, msg string) []byte {
	return fmt.Appendf(nil, `{"field":"message","sub_type":%q,"timestamp":"2026-01-02T10:00:00Z","payload":{"message_id":%q,"message_status":%q}}`,
		typ, msg, strings.ToUpper(strings.TrimPrefix(typ, "message.")))
}

// send posts body to the webhook listener, signed with secret, and
// returns the event id answered.
func (a *apiServer) send(t *testing.T, secret signature.Secret, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+a.Addr()+"/webhooks/sent", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = signature.Sign(signature.V1, secret, body, signature.SignOptions{})
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Hooklatch-Event-Id")
}

// call makes an admin API request with the token (when the server has
// one) and decodes the JSON answer into out, unless out is nil.
func (a *apiServer) call(t *testing.T, method, path string, body any, out any, headers ...string) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.admin+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return resp.StatusCode
}

type apiEvent struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Subject    string `json:"subject"`
	Attention  string `json:"attention"`
	Delivery   string `json:"delivery"`
	BodyText   string `json:"body_text"`
	Deliveries []struct {
		ID       int64  `json:"id"`
		Status   string `json:"status"`
		Attempts []struct {
			Attempt    int    `json:"attempt"`
			Outcome    string `json:"outcome"`
			Error      string `json:"error"`
			StatusCode int    `json:"status_code"`
		} `json:"attempts"`
	} `json:"deliveries"`
	Envelope *struct {
		Type    string `json:"type"`
		Subject string `json:"subject"`
	} `json:"envelope"`
}

type apiPage struct {
	Events []apiEvent `json:"events"`
	Next   string     `json:"next"`
}

// waitFor polls cond until it holds; the test's own deadline bounds it.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if dl, ok := t.Deadline(); ok && time.Until(dl) < time.Second {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (a *apiServer) event(t *testing.T, id string) apiEvent {
	t.Helper()
	var ev apiEvent
	if code := a.call(t, "GET", "/v1/events/"+id, nil, &ev); code != http.StatusOK {
		t.Fatalf("GET event %s: %d", id, code)
	}
	return ev
}

func TestAdminAPIFiltersAndPages(t *testing.T) {
	t.Parallel()
	a := startAPI(t, "")
	var ids []string
	for i := range 5 {
		_, id := a.send(t, a.secret, messageBody("message.delivered", fmt.Sprintf("msg-%d", i)))
		ids = append(ids, id)
	}
	_, readID := a.send(t, a.secret, messageBody("message.read", "msg-r"))
	_, oddID := a.send(t, a.secret, []byte(`{"field":"message","sub_type":"message.teleported","payload":{"message_id":"msg-x"}}`))

	var p apiPage
	if a.call(t, "GET", "/v1/events?type=message.read", nil, &p); len(p.Events) != 1 || p.Events[0].ID != readID {
		t.Fatalf("type filter: %+v", p.Events)
	}
	if a.call(t, "GET", "/v1/events?subject=msg-3", nil, &p); len(p.Events) != 1 || p.Events[0].ID != ids[3] {
		t.Fatalf("subject filter: %+v", p.Events)
	}
	// Every event here came in on Sent's endpoint: none on another source.
	if a.call(t, "GET", "/v1/events?source=sent", nil, &p); len(p.Events) != 7 {
		t.Fatalf("source=sent: %d events, want the 7", len(p.Events))
	}
	if a.call(t, "GET", "/v1/events?source=payments", nil, &p); len(p.Events) != 0 {
		t.Fatalf("source=payments: %+v, want none", p.Events)
	}
	if a.call(t, "GET", "/v1/events?attention=only", nil, &p); len(p.Events) != 1 || p.Events[0].ID != oddID {
		t.Fatalf("attention filter: %+v", p.Events)
	}
	if a.call(t, "GET", "/v1/events?since=2100-01-01T00:00:00Z", nil, &p); len(p.Events) != 0 {
		t.Fatalf("since in the future: %+v", p.Events)
	}
	// Pages of two, newest first, each event once, then the end.
	var seen []string
	cursor := ""
	for range 10 {
		var pg apiPage
		if code := a.call(t, "GET", "/v1/events?type=message.*&limit=2&cursor="+cursor, nil, &pg); code != http.StatusOK {
			t.Fatalf("page: %d", code)
		}
		for _, ev := range pg.Events {
			seen = append(seen, ev.ID)
		}
		if cursor = pg.Next; cursor == "" {
			break
		}
	}
	want := []string{oddID, readID, ids[4], ids[3], ids[2], ids[1], ids[0]}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("pages gave %v, want %v", seen, want)
	}
	for _, bad := range []string{"delivery=lost", "attention=maybe", "since=yesterday", "limit=0", "cursor=x", "since=2999-01-01T00:00:00Z"} {
		if code := a.call(t, "GET", "/v1/events?"+bad, nil, nil); code != http.StatusBadRequest {
			t.Errorf("GET /v1/events?%s = %d, want 400", bad, code)
		}
	}
	ev := a.event(t, ids[2][len(ids[2])-8:]) // a short id, as listen prints it
	if ev.ID != ids[2] || ev.Envelope == nil || ev.Envelope.Subject != "msg-2" || !strings.Contains(ev.BodyText, `"msg-2"`) {
		t.Fatalf("detail: %+v", ev)
	}
	if code := a.call(t, "GET", "/v1/events/nothing-like-it", nil, nil); code != http.StatusNotFound {
		t.Fatalf("unknown event: %d, want 404", code)
	}
}

type touched struct {
	Action  string `json:"action"`
	Touched int    `json:"touched"`
}

func TestAdminAPIActions(t *testing.T) {
	t.Parallel()
	a := startAPI(t, "")
	a.failing.Store(true)
	var ids []string
	for i := range 3 {
		_, id := a.send(t, a.secret, messageBody("message.delivered", fmt.Sprintf("msg-%d", i)))
		ids = append(ids, id)
	}
	waitFor(t, "three dead deliveries", func() bool {
		var p apiPage
		a.call(t, "GET", "/v1/events?delivery=dead", nil, &p)
		return len(p.Events) == 3
	})
	dead := a.event(t, ids[0])
	if n := len(dead.Deliveries); n != 1 || len(dead.Deliveries[0].Attempts) != 1 || dead.Deliveries[0].Attempts[0].Error == "" {
		t.Fatalf("dead event's timeline: %+v", dead.Deliveries)
	}
	a.failing.Store(false)

	// A dry run counts the events a filter's action would touch, and
	// touches none.
	var dry struct {
		DryRun bool `json:"dry_run"`
		Events int  `json:"events"`
		More   bool `json:"more"`
	}
	for _, action := range []string{"retry", "replay", "discard"} {
		code := a.call(t, "POST", "/v1/actions/"+action, map[string]any{"filter": map[string]string{"since": "1h", "type": "message.*"}, "dry_run": true}, &dry)
		if code != http.StatusOK || !dry.DryRun || dry.Events != 3 || dry.More {
			t.Fatalf("%s dry run: %d %+v, want 3 events", action, code, dry)
		}
	}
	if got := a.event(t, ids[1]).Delivery; got != "dead" {
		t.Fatalf("after the dry runs an event's delivery is %s, want it dead still", got)
	}

	// One delivery by id.
	var res touched
	if a.call(t, "POST", fmt.Sprintf("/v1/deliveries/%d/retry", dead.Deliveries[0].ID), nil, &res); res.Touched != 1 {
		t.Fatalf("retry one delivery: %+v", res)
	}
	waitFor(t, "the retried delivery to succeed", func() bool { return a.event(t, ids[0]).Delivery == "succeeded" })
	if at := a.event(t, ids[0]).Deliveries[0].Attempts; len(at) != 2 || at[1].Outcome != "succeeded" {
		t.Fatalf("timeline after the retry: %+v", at)
	}
	// Discard one event's; then every dead one is the one left.
	if a.call(t, "POST", "/v1/events/"+ids[1]+"/discard", nil, &res); res.Touched != 1 {
		t.Fatalf("discard: %+v", res)
	}
	if a.call(t, "POST", "/v1/actions/retry", map[string]any{"filter": map[string]string{"subject": "msg-2"}}, &res); res.Touched != 1 {
		t.Fatalf("retry by filter: %+v", res)
	}
	waitFor(t, "the third to succeed", func() bool { return a.event(t, ids[2]).Delivery == "succeeded" })
	before := a.delivered.Load()
	// Replay the range that holds all three: two succeeded are requeued,
	// the discarded one too (replay delivers again whatever happened).
	if a.call(t, "POST", "/v1/actions/replay", map[string]any{"filter": map[string]string{"since": "1h", "type": "message.*"}}, &res); res.Touched != 3 {
		t.Fatalf("replay of a range: %+v", res)
	}
	waitFor(t, "three more deliveries", func() bool { return a.delivered.Load() == before+3 })

	for _, c := range []struct {
		path string
		body any
		want int
	}{
		{"/v1/actions/replay", map[string]any{"filter": map[string]string{}}, http.StatusBadRequest},
		{"/v1/actions/replay", map[string]any{}, http.StatusBadRequest},
		{"/v1/actions/retry", map[string]any{"filter": map[string]string{"delivery": "lost"}}, http.StatusBadRequest},
		{"/v1/actions/retry", map[string]any{"unknown": 1}, http.StatusBadRequest},
		{"/v1/actions/retry", map[string]any{"dead": true, "dry_run": true}, http.StatusBadRequest},
		{"/v1/actions/explode", map[string]any{"dead": true}, http.StatusNotFound},
		{"/v1/events/none-such/retry", nil, http.StatusNotFound},
	} {
		if code := a.call(t, "POST", c.path, c.body, nil); code != c.want {
			t.Errorf("POST %s %v = %d, want %d", c.path, c.body, code, c.want)
		}
	}
}

// With a token, the API wants it; whatever the token, a browser's
// state-changing request from another origin is refused before it acts.
func TestAdminAPIRefusesWithoutTokenAndAcrossOrigins(t *testing.T) {
	t.Parallel()
	a := startAPI(t, "api-token-12345678")
	a.failing.Store(true)
	_, id := a.send(t, a.secret, messageBody("message.delivered", "msg-1"))
	waitFor(t, "a dead delivery", func() bool { return a.event(t, id).Delivery == "dead" })

	anon := &apiServer{admin: a.admin}
	for _, path := range []string{"/v1/events", "/v1/events/" + id, "/v1/stats", "/v1/stream", "/v1/rejections", "/v1/openapi.json"} {
		if code := anon.call(t, "GET", path, nil, nil); code != http.StatusUnauthorized {
			t.Errorf("GET %s without the token = %d, want 401", path, code)
		}
	}
	if code := anon.call(t, "POST", "/v1/actions/retry", map[string]bool{"dead": true}, nil); code != http.StatusUnauthorized {
		t.Errorf("POST without the token = %d, want 401", code)
	}
	for _, h := range [][]string{
		{"Origin", "http://evil.example"},
		{"Origin", "null"},
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
	} {
		if code := a.call(t, "POST", "/v1/actions/retry", map[string]bool{"dead": true}, nil, h...); code != http.StatusForbidden {
			t.Errorf("POST with %s: %s = %d, want 403", h[0], h[1], code)
		}
	}
	if ev := a.event(t, id); ev.Delivery != "dead" {
		t.Fatalf("a refused request acted: the delivery is %s", ev.Delivery)
	}
	var res touched
	if a.call(t, "POST", "/v1/actions/retry", map[string]bool{"dead": true}, &res, "Origin", a.admin, "Sec-Fetch-Site", "same-origin"); res.Touched != 1 {
		t.Fatalf("a same-origin retry: %+v", res)
	}
}

// Without a token the listener is on loopback; a page elsewhere reaching
// it through a name that resolves there (DNS rebinding) is refused.
func TestAdminAPIWithoutTokenAnswersLoopbackNamesOnly(t *testing.T) {
	t.Parallel()
	a := startAPI(t, "")
	req, _ := http.NewRequest("GET", a.admin+"/v1/events", nil)
	req.Host = "evil.example:3001"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("Host evil.example: %d, want 421", resp.StatusCode)
	}
	if code := a.call(t, "GET", "/v1/events", nil, nil, "Host", "localhost"); code != http.StatusOK {
		t.Fatalf("Host localhost: %d", code)
	}
}

func TestAdminAPIStatsCountPerMinute(t *testing.T) {
	t.Parallel()
	a := startAPI(t, "")
	a.failing.Store(true)
	body := messageBody("message.delivered", "msg-s")
	a.send(t, a.secret, body)
	a.send(t, a.secret, body) // a duplicate
	wrong, _ := signature.ParseSecrets("whsec_" + "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==")
	a.send(t, wrong[0], messageBody("message.delivered", "msg-forged"))
	type report struct {
		Minutes []struct {
			Received, Duplicates, Rejected, Delivered, Failed, Dead int64
			AckP50                                                  float64 `json:"ack_p50_ms"`
		}
		Queue struct {
			Dead int64 `json:"dead"`
		}
		Horizon float64 `json:"sender_retry_horizon_seconds"`
	}
	var r report
	waitFor(t, "the stats to count it all", func() bool {
		a.call(t, "GET", "/v1/stats", nil, &r)
		var got [6]int64
		for _, m := range r.Minutes {
			got[0] += m.Received
			got[1] += m.Duplicates
			got[2] += m.Rejected
			got[3] += m.Dead
		}
		return got == [6]int64{1, 1, 1, 1, 0, 0} && r.Queue.Dead == 1
	})
	last := r.Minutes[len(r.Minutes)-1]
	if r.Horizon != 127 || (last.Received > 0 && last.AckP50 <= 0) {
		t.Fatalf("stats: %+v", r)
	}
}

func TestAdminAPIStreamsEventsAndAttempts(t *testing.T) {
	t.Parallel()
	a := startAPI(t, "")
	req, _ := http.NewRequest("GET", a.admin+"/v1/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	lines := bufio.NewScanner(resp.Body)
	lines.Scan() // the greeting: the subscription is in place
	_, id := a.send(t, a.secret, messageBody("message.delivered", "msg-live"))
	var sawEvent, sawAttempt bool
	for (!sawEvent || !sawAttempt) && lines.Scan() {
		line := lines.Text()
		if !strings.HasPrefix(line, "event: ") {
			continue
		}
		name := strings.TrimPrefix(line, "event: ")
		lines.Scan()
		data := strings.TrimPrefix(lines.Text(), "data: ")
		var v map[string]any
		if err := json.Unmarshal([]byte(data), &v); err != nil {
			t.Fatalf("%s: %v", data, err)
		}
		switch {
		case name == "event" && v["id"] == id:
			sawEvent = v["subject"] == "msg-live"
		case name == "attempt" && v["event_id"] == id:
			sawAttempt = v["outcome"] == "succeeded" && v["destination"] == "app"
		}
	}
	if !sawEvent || !sawAttempt {
		t.Fatalf("stream ended: event %v, attempt %v (%v)", sawEvent, sawAttempt, lines.Err())
	}
}

// A rejection signed with a secret the server did not have is released
// once a server holding it serves the store, through the API.
func TestAdminAPIReleasesRejections(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "h.db")
	newSecret, _ := signature.ParseSecrets("whsec_" + "bmV3LXJvdGF0ZWQtc2lnbmluZy1zZWNyZXQ=")
	serve := func(secrets []signature.Secret) *apiServer {
		a := &apiServer{}
		srv, err := server.New(context.Background(), server.Config{Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", Store: path,
			Secrets: secrets, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		a.Server, a.admin = srv, "http://"+srv.AdminAddr()
		return a
	}
	old := serve(testSecrets(t))
	if code, _ := old.send(t, newSecret[0], messageBody("message.delivered", "msg-rotated")); code != http.StatusUnauthorized {
		t.Fatalf("signed with an unknown secret: %d", code)
	}
	type rejections struct {
		Rejections []struct {
			ID        int64  `json:"id"`
			Reason    string `json:"reason"`
			Diagnosis string `json:"diagnosis"`
		} `json:"rejections"`
	}
	var rs rejections
	waitFor(t, "the rejection to be kept", func() bool {
		old.call(t, "GET", "/v1/rejections", nil, &rs)
		return len(rs.Rejections) == 1
	})
	if rs.Rejections[0].Reason != "no_match" || rs.Rejections[0].Diagnosis == "" {
		t.Fatalf("rejection: %+v", rs.Rejections[0])
	}
	id := rs.Rejections[0].ID
	type report struct {
		Outcomes []struct {
			Result  string `json:"result"`
			EventID string `json:"event_id"`
		} `json:"outcomes"`
		Released int `json:"released"`
	}
	var rep report
	if old.call(t, "POST", fmt.Sprintf("/v1/rejections/%d/release", id), nil, &rep); rep.Released != 0 || rep.Outcomes[0].Result != "still_failing" {
		t.Fatalf("release with the old secret: %+v", rep)
	}
	if err := old.Shutdown(); err != nil {
		t.Fatal(err)
	}
	rotated := serve(append(testSecrets(t), newSecret...))
	t.Cleanup(func() { rotated.Shutdown() })
	if rotated.call(t, "POST", "/v1/rejections/release", map[string]bool{"all": true}, &rep); rep.Released != 1 || rep.Outcomes[0].Result != "released" {
		t.Fatalf("release with the rotated secret: %+v", rep)
	}
	if ev := rotated.event(t, rep.Outcomes[0].EventID); ev.Subject != "msg-rotated" {
		t.Fatalf("released event: %+v", ev)
	}
}

func TestMetricsExposeQueueStoreAndOutage(t *testing.T) {
	t.Parallel()
	a := startAPI(t, "")
	a.failing.Store(true)
	_, id := a.send(t, a.secret, messageBody("message.delivered", "msg-m"))
	waitFor(t, "a dead delivery", func() bool { return a.event(t, id).Delivery == "dead" })
	a.failing.Store(false)
	_, ok := a.send(t, a.secret, messageBody("message.delivered", "msg-ok"))
	waitFor(t, "a delivered one", func() bool { return a.event(t, ok).Delivery == "succeeded" })
	// The dispatcher observes an attempt once the store has recorded it:
	// the delivery reads succeeded a moment before its latency is counted.
	waitFor(t, "the delivered one's latency", func() bool {
		_, text := get(t, a.admin+"/metrics")
		return strings.Contains(text, `hooklatch_delivery_latency_seconds_count{destination="app"} 1`+"\n")
	})
	a.call(t, "GET", "/v1/stats", nil, nil) // refreshes the sampled gauges
	_, text := get(t, a.admin+"/metrics")
	for _, want := range []string{
		"hooklatch_dead_letters 1\n",
		"hooklatch_queue_depth 0\n",
		"hooklatch_receiver_unavailable_seconds 0\n",
		"hooklatch_sender_retry_horizon_seconds 127\n",
		`hooklatch_delivery_latency_seconds_count{destination="app"} 1` + "\n",
		`hooklatch_delivery_attempts_total{destination="app",outcome="permanent"} 1` + "\n",
		`hooklatch_webhook_requests_total{outcome="accepted",source="sent"} 2` + "\n",
		"hooklatch_webhook_ack_seconds_count 2\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, `hooklatch_store_file_bytes{file="db"} `) && !strings.HasSuffix(line, " 0") {
			return
		}
	}
	t.Errorf("/metrics has no database size:\n%s", text)
}

// The dashboard asks for the token once and keeps a session in a cookie
// scripts cannot read and other sites' requests do not carry; its bulk
// retry is a POST the origin check guards like the API's.
func TestDashboardSessionAndBulkRetry(t *testing.T) {
	t.Parallel()
	a := startAPI(t, "ui-token-42-long-enough")
	a.failing.Store(true)
	for i := range 2 {
		_, id := a.send(t, a.secret, messageBody("message.delivered", fmt.Sprintf("msg-%d", i)))
		waitFor(t, "a dead delivery", func() bool { return a.event(t, id).Delivery == "dead" })
	}
	a.failing.Store(false)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path, form string, headers ...string) *http.Response {
		t.Helper()
		return ask(t, noRedirect, method, a.admin+path, form, headers...)
	}
	if resp := do("GET", "/ui/dead", ""); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/login" {
		t.Fatalf("without a session: %d to %q, want the login page", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := do("POST", "/ui/login", "token=guess"); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Fatalf("a wrong token: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	resp := do("POST", "/ui/login", "token=ui-token-42-long-enough", "Origin", a.admin)
	cookies := resp.Cookies()
	if len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode || strings.Contains(cookies[0].Value, "ui-token-42-long-enough") {
		t.Fatalf("session cookie %+v", cookies)
	}
	session := cookies[0].Name + "=" + cookies[0].Value
	page := do("GET", "/ui/dead", "", "Cookie", session)
	if csp := page.Header.Get("Content-Security-Policy"); page.StatusCode != http.StatusOK || !strings.Contains(csp, "script-src 'self'") {
		t.Fatalf("dead letters with the session: %d, CSP %q", page.StatusCode, csp)
	}
	if resp := do("POST", "/ui/dead/retry", "all=1", "Cookie", session, "Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a cross-site bulk retry: %d, want 403", resp.StatusCode)
	}
	before := a.delivered.Load()
	resp = do("POST", "/ui/dead/retry", "all=1", "Cookie", session, "Origin", a.admin, "Sec-Fetch-Site", "same-origin")
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/ui/dead?done=retry&n=2" {
		t.Fatalf("bulk retry: %d to %q", resp.StatusCode, loc)
	}
	waitFor(t, "both re-delivered", func() bool { return a.delivered.Load() == before+2 })
}

// Backfill gives the events a filter selects, that the destination wants
// as the receiver routes, a delivery to it if they have none yet, once;
// a destination the serve lacks, or a request that does not say which
// events, is the caller's mistake (400).
func TestAdminAPIBackfill(t *testing.T) {
	t.Parallel()
	var delivered atomic.Int64
	srv := start(t, server.Config{Routes: []dispatch.Route{
		{Name: "reads", Types: []string{"message.read"}, Destination: destination.Func(func(context.Context, *destination.Delivery) error {
			delivered.Add(1)
			return nil
		})},
		{Name: "audit", Destination: destination.Func(func(context.Context, *destination.Delivery) error { return nil })},
	}})
	a := &apiServer{Server: srv, admin: "http://" + srv.AdminAddr(), secret: testSecrets(t)[0]}
	for i := range 2 {
		a.send(t, a.secret, messageBody("message.delivered", fmt.Sprintf("msg-%d", i)))
	}
	a.send(t, a.secret, messageBody("message.read", "msg-r"))
	waitFor(t, "the read event delivered", func() bool { return delivered.Load() == 1 })
	// Two read events stored before reads was configured: no delivery.
	for i := range 2 {
		ev := storetest.NewEvent("sent", fmt.Sprintf("before-%d", i))
		ev.Type = "message.read"
		if _, err := srv.Store().Append(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}

	var res touched
	body := map[string]any{"destination": "reads", "filter": map[string]string{"type": "message.delivered"}}
	if code := a.call(t, "POST", "/v1/actions/backfill", body, &res); code != http.StatusOK || res.Touched != 0 || res.Action != "backfill" {
		t.Fatalf("backfill of a type reads does not take: %d %+v, want none created", code, res)
	}
	body = map[string]any{"destination": "reads", "filter": map[string]string{"type": "message.read"}}
	if code := a.call(t, "POST", "/v1/actions/backfill", body, &res); code != http.StatusOK || res.Touched != 2 || res.Action != "backfill" {
		t.Fatalf("backfill: %d %+v, want 2 deliveries created", code, res)
	}
	waitFor(t, "the backfilled events delivered", func() bool { return delivered.Load() == 3 })
	if code := a.call(t, "POST", "/v1/actions/backfill", map[string]any{"destination": "reads", "all": true}, &res); code != http.StatusOK || res.Touched != 0 {
		t.Fatalf("a second backfill of every event: %d %+v, want none created", code, res)
	}
	for _, b := range []map[string]any{
		{"destination": "elsewhere", "all": true},
		{"all": true},
		{"destination": "reads"},
		{"destination": "reads", "filter": map[string]string{}},
		{"destination": "reads", "all": true, "filter": map[string]string{"since": "1h"}},
		{"destination": "reads", "filter": map[string]string{"since": "yesterday"}},
	} {
		if code := a.call(t, "POST", "/v1/actions/backfill", b, nil); code != http.StatusBadRequest {
			t.Errorf("POST /v1/actions/backfill %v = %d, want 400", b, code)
		}
	}
}
