package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// The overview lists the destinations with a button each: Pause holds the
// destination (the API then reads it paused), Resume lets it deliver. It
// says whose their concurrency is.
func TestDashboardPausesAndResumesADestination(t *testing.T) {
	t.Parallel()
	a := startAPI(t, "")
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path string) *http.Response {
		t.Helper()
		return ask(t, noRedirect, method, a.admin+path, "", "Origin", a.admin, "Sec-Fetch-Site", "same-origin")
	}
	overview := func() string {
		t.Helper()
		resp, err := http.Get(a.admin + "/ui/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if page := overview(); !strings.Contains(page, `action="/ui/destinations/app/pause"`) {
		t.Fatalf("the overview has no pause button for app:\n%s", page)
	}
	// Its concurrency is the default: each serving process's own.
	if page := overview(); !strings.Contains(page, "<td>16 per instance</td>") {
		t.Errorf("the overview does not say app's concurrency is the default, per instance:\n%s", page)
	}
	resp := do("POST", "/ui/destinations/app/pause")
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/ui/?") || !strings.Contains(loc, "done=pause") {
		t.Fatalf("pause: %d to %q", resp.StatusCode, loc)
	}
	var listed struct {
		Destinations []struct {
			Name, State string
		}
	}
	if code := a.call(t, "GET", "/v1/destinations", nil, &listed); code != http.StatusOK || len(listed.Destinations) != 1 || listed.Destinations[0].State != "paused" {
		t.Fatalf("after the pause button: %d %+v", code, listed)
	}
	if page := overview(); !strings.Contains(page, `action="/ui/destinations/app/resume"`) {
		t.Fatalf("a paused destination has no resume button:\n%s", page)
	}
	do("POST", "/ui/destinations/app/resume")
	if code := a.call(t, "GET", "/v1/destinations", nil, &listed); code != http.StatusOK || listed.Destinations[0].State != "delivering" {
		t.Fatalf("after the resume button: %d %+v", code, listed)
	}
	if resp := do("POST", "/ui/destinations/nowhere/pause"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("pausing a destination serve lacks: %d, want 400", resp.StatusCode)
	}
}
