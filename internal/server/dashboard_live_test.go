package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/server"
	"github.com/hooklatch/hooklatch/store/postgres/pgtest"
)

// minuteTotals adds up what GET /v1/stats says the kept minutes received
// and delivered.
func minuteTotals(t *testing.T, a *apiServer) (received, delivered int64) {
	t.Helper()
	var r struct {
		Minutes []struct{ Received, Delivered int64 }
	}
	if code := a.call(t, "GET", "/v1/stats", nil, &r); code != http.StatusOK {
		t.Fatalf("GET /v1/stats: %d", code)
	}
	for _, m := range r.Minutes {
		received += m.Received
		delivered += m.Delivered
	}
	return received, delivered
}

// The per-minute history survives a restart on the same store: what the
// first server counted is still served by the second.
func TestDashboardHistorySurvivesRestart(t *testing.T) {
	t.Parallel()
	testHistorySurvivesRestart(t, filepath.Join(t.TempDir(), "h.db"))
}

func TestPostgresDashboardHistorySurvivesRestart(t *testing.T) {
	t.Parallel()
	testHistorySurvivesRestart(t, pgtest.URL(t))
}

func testHistorySurvivesRestart(t *testing.T, location string) {
	startHere := func() *apiServer {
		a := &apiServer{secret: testSecrets(t)[0]}
		a.Server = startOn(t, location, server.Config{Routes: []dispatch.Route{{
			Name:        "app",
			Destination: destination.Func(func(context.Context, *destination.Delivery) error { return nil }),
		}}})
		a.admin = "http://" + a.AdminAddr()
		return a
	}
	a := startHere()
	for i := range 3 {
		if code, _ := a.send(t, a.secret, messageBody("message.delivered", fmt.Sprintf("msg-h%d", i))); code != http.StatusOK {
			t.Fatalf("webhook %d: %d", i, code)
		}
	}
	waitFor(t, "the first server's minutes to count three received and delivered", func() bool {
		r, d := minuteTotals(t, a)
		return r == 3 && d == 3
	})
	if err := a.Shutdown(); err != nil {
		t.Fatal(err)
	}

	b := startHere()
	var received, delivered int64
	waitFor(t, "the restarted server to serve the minutes counted before it started", func() bool {
		received, delivered = minuteTotals(t, b)
		return received >= 3
	})
	if received != 3 || delivered != 3 {
		t.Fatalf("after the restart the minutes count %d received and %d delivered, want 3 and 3", received, delivered)
	}
}

// Both charts have a title, a labelled axis each way with its unit, ticks
// and a legend, on the overview and in the fragment the page's script
// fetches again.
func TestDashboardChartsHaveTitlesAxesAndUnits(t *testing.T) {
	t.Parallel()
	a := startAPI(t, "")
	a.send(t, a.secret, messageBody("message.delivered", "msg-chart"))
	waitFor(t, "the minutes to count the webhook", func() bool {
		r, d := minuteTotals(t, a)
		return r == 1 && d == 1
	})
	want := map[string]struct {
		title, yUnit string
		legend       []string
	}{
		"chart-counts":  {"Webhooks received and delivery attempts, per minute", "webhooks or attempts a minute", []string{"received: 1", "delivered: 1", "failed: 0"}},
		"chart-latency": {"Acknowledgement latency, per minute (answers to Sent)", "milliseconds (ms)", []string{"ack p50: ", "ack p99: "}},
	}
	svgs := regexp.MustCompile(`(?s)<svg class="chart" id="([^"]+)".*?</svg>`)
	texts := regexp.MustCompile(`<text class="([^"]+)"[^>]*>([^<]*)</text>`)
	clock := regexp.MustCompile(`^\d\d:\d\d$`)
	for _, path := range []string{"/ui/", "/ui/charts"} {
		code, page := get(t, a.admin+path)
		found := svgs.FindAllStringSubmatch(page, -1)
		if code != http.StatusOK || len(found) != 2 {
			t.Fatalf("GET %s: %d, %d charts:\n%s", path, code, len(found), page)
		}
		for _, svg := range found {
			id, w := svg[1], want[svg[1]]
			byClass := map[string][]string{}
			for _, m := range texts.FindAllStringSubmatch(svg[0], -1) {
				byClass[m[1]] = append(byClass[m[1]], m[2])
			}
			if !strings.Contains(svg[0], "<title id=\""+id+"-title\">"+w.title+"</title>") || fmt.Sprint(byClass["chart-title"]) != "["+w.title+"]" {
				t.Errorf("%s %s: title %q, want %q", path, id, byClass["chart-title"], w.title)
			}
			if got := byClass["axis-label"]; len(got) != 2 || got[0] != w.yUnit || got[1] != "time (minutes, local clock)" {
				t.Errorf("%s %s: axis labels %q, want %q and the time's", path, id, got, w.yUnit)
			}
			var yTicks, xTicks []string
			for _, l := range byClass["tick-label"] {
				if clock.MatchString(l) {
					xTicks = append(xTicks, l)
				} else {
					yTicks = append(yTicks, l)
				}
			}
			if len(yTicks) < 2 || yTicks[0] != "0" || len(xTicks) != 6 {
				t.Errorf("%s %s: ticks %q on the values' axis (want 0 and up), %q on the time's (want six, ten minutes apart)", path, id, yTicks, xTicks)
			}
			keys := strings.Join(byClass["key"], " | ")
			for _, k := range w.legend {
				if !strings.Contains(keys, k) {
					t.Errorf("%s %s: legend %q, want %q in it", path, id, keys, k)
				}
			}
		}
	}
}

// The events page's bulk action replays exactly the events its filter
// selects, after a confirmation that counts them; it is refused across
// origins and without a filter.
func TestDashboardBulkReplayByFilter(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		got  = map[string]int{} // deliveries the app received, by event id
		reqs int
	)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		got[r.Header.Get(httpdest.HeaderEventID)]++
		reqs++
		mu.Unlock()
	}))
	t.Cleanup(app.Close)
	received := func(ids []string) []int {
		mu.Lock()
		defer mu.Unlock()
		out := make([]int, len(ids))
		for i, id := range ids {
			out[i] = got[id]
		}
		return out
	}
	dest, err := httpdest.New(httpdest.Config{URL: app.URL})
	if err != nil {
		t.Fatal(err)
	}
	const token = "bulk-token-1234567890"
	a := &apiServer{token: token, secret: testSecrets(t)[0]}
	a.Server = startOn(t, filepath.Join(t.TempDir(), "h.db"), server.Config{AdminToken: token,
		Routes: []dispatch.Route{{Name: "app", Destination: dest}}})
	a.admin = "http://" + a.AdminAddr()

	var reads, others []string
	for i := range 5 {
		typ, to := "message.read", &reads
		if i%2 == 1 {
			typ, to = "message.delivered", &others
		}
		_, id := a.send(t, a.secret, messageBody(typ, fmt.Sprintf("msg-b%d", i)))
		*to = append(*to, id)
	}
	all := append(append([]string(nil), reads...), others...)
	waitFor(t, "each event delivered once", func() bool { return fmt.Sprint(received(all)) == "[1 1 1 1 1]" })

	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	login := ask(t, noRedirect, "POST", a.admin+"/ui/login", "token="+token, "Origin", a.admin)
	if len(login.Cookies()) != 1 {
		t.Fatalf("log in: %d, cookies %v", login.StatusCode, login.Cookies())
	}
	session := login.Cookies()[0].Name + "=" + login.Cookies()[0].Value
	browse := func(method, path, form string, headers ...string) (int, string, string) {
		t.Helper()
		req, err := http.NewRequest(method, a.admin+path, strings.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		if form != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.Header.Set("Cookie", session)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Location"), string(body)
	}

	if code, _, page := browse("GET", "/ui/events", ""); code != http.StatusOK || strings.Contains(page, `id="bulk-replay"`) {
		t.Fatalf("unfiltered events page: %d, offers a bulk replay: %v", code, strings.Contains(page, `id="bulk-replay"`))
	}
	if code, _, page := browse("GET", "/ui/events?type=message.read", ""); code != http.StatusOK || !strings.Contains(page, `id="bulk-replay"`) {
		t.Fatalf("filtered events page: %d, no bulk replay offered:\n%s", code, page)
	}
	code, _, page := browse("GET", "/ui/actions/replay?type=message.read", "")
	if code != http.StatusOK || !strings.Contains(page, `<b id="bulk-count">3</b> events`) || !strings.Contains(page, `<input type="hidden" name="type" value="message.read">`) {
		t.Fatalf("confirmation: %d, want it to count 3 events:\n%s", code, page)
	}
	if code, _, _ := browse("POST", "/ui/actions/replay", "type=message.read", "Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"); code != http.StatusForbidden {
		t.Fatalf("a cross-site bulk replay: %d, want 403", code)
	}
	if code, _, page := browse("POST", "/ui/actions/replay", "", "Origin", a.admin); code != http.StatusBadRequest || !strings.Contains(page, "empty filter") {
		t.Fatalf("a bulk replay without a filter: %d, want 400 saying why:\n%s", code, page)
	}
	code, loc, _ := browse("POST", "/ui/actions/replay", "type=message.read", "Origin", a.admin, "Sec-Fetch-Site", "same-origin")
	if code != http.StatusSeeOther || loc != "/ui/events?done=replay&n=3&type=message.read" {
		t.Fatalf("bulk replay: %d to %q", code, loc)
	}
	if _, _, page := browse("GET", loc, ""); !strings.Contains(page, "3 deliveries requeued for a replay.") {
		t.Fatalf("after the replay, the events page says:\n%s", page)
	}
	waitFor(t, "the filtered events delivered again", func() bool { return fmt.Sprint(received(reads)) == "[2 2 2]" })
	waitFor(t, "the queue to empty", func() bool {
		var r struct{ Queue struct{ Depth int64 } }
		return a.call(t, "GET", "/v1/stats", nil, &r) == http.StatusOK && r.Queue.Depth == 0
	})
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(got[others[0]], got[others[1]]) != "1 1" || reqs != 8 {
		t.Fatalf("the app received %d requests, the events outside the filter %d and %d times; want 8, and once each", reqs, got[others[0]], got[others[1]])
	}
}
