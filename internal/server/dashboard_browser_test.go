package server_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hooklatch/hooklatch/signature"
)

// chromium is Debian's package; .ci/run installs it.
const chromium = "/usr/bin/chromium"

// browser starts a headless Chromium with a fresh profile and returns a
// context that drives one tab of it.
func browser(t *testing.T) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("the browser test is not short")
	}
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("HOOKLATCH_REQUIRE_SERVICES") == "1" {
			t.Fatalf("%s is missing (apt-get install -y chromium): %v", chromium, err)
		}
		t.Skipf("%s is missing (apt-get install -y chromium)", chromium)
	}
	alloc, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	t.Cleanup(cancel)
	ctx, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(cancelTab)
	// The first action starts the browser, which lives as long as the
	// context it ran on: not one with a deadline.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}
	return ctx
}

// stepTimeout bounds one step of the browser test, so that a step that
// waits for what never comes fails saying which, and what the page shows.
const stepTimeout = 20 * time.Second

// The dashboard in a real browser: it asks for the token once; an event
// sent to the receiver appears in the live tail; its page shows its
// timeline; the retry button re-delivers a dead delivery; a body holding
// a script shows it as text and runs nothing.
func TestDashboardInABrowser(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	const token = "dashboard-token-5678"
	a := startAPI(t, token)
	a.failing.Store(true)
	admin := a.admin
	post := func(secret signature.Secret, body string) string {
		_, id := a.send(t, secret, []byte(body))
		return id
	}

	// Asked for the token once, then in by the cookie.
	do(t, ctx, "log in",
		chromedp.Navigate(admin+"/ui/"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS("#login")),
		chromedp.WaitVisible(chromedp.CSS("#tail")),
		chromedp.WaitVisible(`//span[@id="live-state" and text()="live"]`),
	)
	if title := value(t, ctx, chromedp.Title()); title != "Overview · hooklatch" {
		t.Fatalf("after logging in: %q", title)
	}
	// A mark on this page: a reload would wipe it.
	received := value(t, ctx, chromedp.Evaluate[string](`window.sameOverview = true; document.querySelector("#chart-counts polyline.received").getAttribute("points")`))
	if events, dead := value(t, ctx, chromedp.Text(chromedp.CSS("#events-total"))), value(t, ctx, chromedp.Text(chromedp.CSS("#dead-count"))); events != "0" || dead != "0" {
		t.Fatalf("a fresh overview shows %s events, %s dead", events, dead)
	}

	const script = `<script>document.title='injected'</script><img src=x onerror="document.title='injected'">`
	body := fmt.Sprintf(`{"field":"message","sub_type":"message.received","timestamp":"2026-01-02T10:00:00Z",`+
		`"payload":{"message_id":"msg-browser","from":"+14155550123","text":%q}}`, script)
	id := post(a.secret, body)
	if id == "" {
		t.Fatal("the receiver did not accept the event")
	}
	do(t, ctx, "the live tail shows the event and its attempt",
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#tail tr.received[data-event=%q]`, id))),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#tail tr.permanent[data-event=%q]`, id))),
	)
	do(t, ctx, "the overview's tiles and chart follow, without a reload",
		chromedp.WaitVisible(`//b[@id="events-total" and text()="1"]`),
		chromedp.WaitVisible(`//div[contains(@class, "alarm")]//b[@id="dead-count" and text()="1"]`),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelector("#chart-counts polyline.received").getAttribute("points") !== %q`, received),
			chromedp.WithPollingInterval(100*time.Millisecond)),
	)
	if same := value(t, ctx, chromedp.Evaluate[bool](`window.sameOverview === true`)); !same {
		t.Fatal("the overview was reloaded to show the new numbers")
	}

	do(t, ctx, "the detail page", chromedp.Navigate(admin+"/ui/events/"+id), chromedp.WaitVisible(chromedp.CSS(".timeline li.attempt")))
	timeline := value(t, ctx, chromedp.Text(chromedp.CSS(".timeline")))
	if !strings.Contains(timeline, "#1") || !strings.Contains(timeline, "permanent") || !strings.Contains(timeline, "400 Bad Request") {
		t.Fatalf("timeline: %q", timeline)
	}
	shown := value(t, ctx, chromedp.Text(chromedp.CSS("#body")))
	scripts := value(t, ctx, chromedp.Evaluate[int](`document.scripts.length`))
	title := value(t, ctx, chromedp.Title())
	state := value(t, ctx, chromedp.Text(chromedp.CSS("#event-state")))
	// The body as sent (JSON escapes the quotes), every character shown.
	if !strings.Contains(shown, `<script>document.title='injected'</script><img src=x onerror=\"`) || scripts != 1 || strings.Contains(title, "injected") || state != "dead" {
		t.Fatalf("body shown %q, %d scripts, title %q, state %q", shown, scripts, title, state)
	}

	a.failing.Store(false)
	do(t, ctx, "retry", chromedp.Click(chromedp.CSS("button.retry")), chromedp.WaitVisible(chromedp.CSS("#notice")))
	if notice := value(t, ctx, chromedp.Text(chromedp.CSS("#notice"))); notice != "1 delivery requeued for a retry." {
		t.Fatalf("notice after retry: %q", notice)
	}
	for state != "succeeded" {
		if ctx.Err() != nil {
			t.Fatalf("the retried delivery is still %s", state)
		}
		time.Sleep(50 * time.Millisecond)
		do(t, ctx, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#event-state")))
		state = value(t, ctx, chromedp.Text(chromedp.CSS("#event-state")))
	}
	if n := a.delivered.Load(); n != 1 {
		t.Fatalf("delivered %d times, want 1", n)
	}
	if timeline := value(t, ctx, chromedp.Text(chromedp.CSS(".timeline"))); !strings.Contains(timeline, "#2") || !strings.Contains(timeline, "succeeded") {
		t.Fatalf("timeline after the retry: %q", timeline)
	}

	if dir := os.Getenv("HOOKLATCH_SCREENSHOTS"); dir != "" {
		screenshots(t, ctx, dir, a, id)
	}
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, pageState(ctx))
	}
}

func value[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("%v\n%s", err, pageState(ctx))
	}
	return v
}

// pageState says where the tab is and what it shows, for a failure.
func pageState(ctx context.Context) string {
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	state, err := chromedp.Run(sctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
	if err != nil {
		return "(the page cannot be read: " + err.Error() + ")"
	}
	return state
}

// screenshots fills the store with some traffic and saves the main pages
// as PNGs in dir (HOOKLATCH_SCREENSHOTS=$PWD/docs go test -run Browser).
func screenshots(t *testing.T, ctx context.Context, dir string, a *apiServer, id string) {
	post := func(secret signature.Secret, body string) { a.send(t, secret, []byte(body)) }
	types := []string{"message.sent", "message.delivered", "message.read", "message.failed"}
	for i := range 24 {
		a.failing.Store(i%7 == 3)
		typ := types[i%len(types)]
		post(a.secret, fmt.Sprintf(`{"field":"message","sub_type":%q,"timestamp":"2026-01-02T10:00:00Z","payload":{"message_id":"msg-%04d","message_status":%q}}`,
			typ, i, strings.ToUpper(strings.TrimPrefix(typ, "message."))))
	}
	wrong, _ := signature.ParseSecrets("whsec_d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==")
	post(wrong[0], `{"field":"message","sub_type":"message.delivered","payload":{"message_id":"msg-forged"}}`)
	time.Sleep(2 * time.Second) // let a sample or two of the stats count it
	shots := []struct{ name, path, ready string }{
		{"dashboard-overview.png", "/ui/", "#chart-counts"},
		{"dashboard-events.png", "/ui/events", "table.events"},
		{"dashboard-event.png", "/ui/events/" + id, ".timeline"},
		{"dashboard-dead.png", "/ui/dead", "table.events"},
		{"dashboard-events-filtered.png", "/ui/events?type=message.read", "#bulk-actions"},
		{"dashboard-bulk-confirm.png", "/ui/actions/replay?type=message.read", "#bulk-confirm"},
		{"dashboard-rejections.png", "/ui/rejections", "table"},
	}
	for _, s := range shots {
		do(t, ctx, "page "+s.name, chromedp.Navigate(a.admin+s.path), chromedp.WaitVisible(chromedp.CSS(s.ready)))
		if s.name == "dashboard-overview.png" { // with the live tail filled
			post(a.secret, `{"field":"message","sub_type":"message.delivered","timestamp":"2026-01-02T10:00:00Z","payload":{"message_id":"msg-live","message_status":"DELIVERED"}}`)
			do(t, ctx, "tail", chromedp.WaitVisible(chromedp.CSS(`#tail tr.succeeded`)), chromedp.Sleep(300*time.Millisecond))
		}
		png := value(t, ctx, chromedp.FullScreenshot(100))
		if !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Fatalf("%s is not a PNG", s.name)
		}
		if err := os.WriteFile(filepath.Join(dir, s.name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
