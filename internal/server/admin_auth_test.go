package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/internal/clock"
	"github.com/hooklatch/hooklatch/internal/logtest"
	"github.com/hooklatch/hooklatch/internal/server"
)

// authToken is long enough for the admin listener.
const authToken = "a-long-enough-admin-token-for-tests"

// startAuth starts a server with authToken, a manual clock and its log
// kept.
func startAuth(t *testing.T) (*server.Server, *clock.Manual, *logtest.Buffer) {
	t.Helper()
	clk := clock.NewManual(time.Now())
	logs := &logtest.Buffer{}
	srv, err := server.New(context.Background(), server.Config{
		Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", Store: filepath.Join(t.TempDir(), "h.db"),
		Secrets: testSecrets(t), AdminToken: authToken, Clock: clk,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown() })
	return srv, clk, logs
}

// clientFrom is a client whose requests come from ip (a loopback
// address), and follow no redirect.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{
		Transport:     &http.Transport{DialContext: d.DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// ask makes a request and returns the answer, its body read.
func ask(t *testing.T, c *http.Client, method, u, form string, headers ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// A token that anyone could guess is refused at start, with the way to
// make a good one.
func TestAdminTokenTooShortIsRefused(t *testing.T) {
	t.Parallel()
	for _, token := range []string{"x", "fifteen-chars-x"} {
		srv, err := server.New(context.Background(), server.Config{
			Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", Store: filepath.Join(t.TempDir(), "h.db"),
			Secrets: testSecrets(t), AdminToken: token, Logger: slog.New(slog.DiscardHandler),
		})
		if err == nil {
			srv.Shutdown()
		}
		if !errors.Is(err, server.ErrConfig) || !strings.Contains(err.Error(), "hooklatch token") {
			t.Errorf("token %q: %v, want a configuration error naming 'hooklatch token'", token, err)
		}
	}
}

// Failed attempts are limited per client address, for the API's Bearer
// token and the login form alike: a guesser gets 429 with Retry-After
// and one warning, a client elsewhere is not slowed, and the limit lifts
// after the wait it announced.
func TestAdminFailedAuthIsLimitedPerAddress(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		guess func(*http.Client, string, string) *http.Response // (client, admin URL, token)
	}{
		{"bearer", func(c *http.Client, admin, token string) *http.Response {
			return ask(t, c, "GET", admin+"/v1/events", "", "Authorization", "Bearer "+token)
		}},
		{"login form", func(c *http.Client, admin, token string) *http.Response {
			return ask(t, c, "POST", admin+"/ui/login", url.Values{"token": {token}}.Encode(), "Origin", admin)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv, clk, logs := startAuth(t)
			admin := "http://" + srv.AdminAddr()
			guesser, other := clientFrom("127.0.0.1"), clientFrom("127.0.0.2")
			limited, retryAfter := 0, 0
			for i := range 30 {
				resp := c.guess(guesser, admin, "wrong-guess-"+strconv.Itoa(i))
				switch resp.StatusCode {
				case http.StatusUnauthorized:
				case http.StatusTooManyRequests:
					limited++
					if retryAfter, _ = strconv.Atoi(resp.Header.Get("Retry-After")); retryAfter <= 0 {
						t.Fatalf("429 with Retry-After %q", resp.Header.Get("Retry-After"))
					}
				default:
					t.Fatalf("guess %d: %d", i, resp.StatusCode)
				}
			}
			if limited == 0 {
				t.Fatalf("30 wrong guesses in no time from one address: none refused with 429")
			}
			if resp := c.guess(other, admin, authToken); resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusUnauthorized {
				t.Errorf("the right token from another address: %d", resp.StatusCode)
			}
			if resp := c.guess(guesser, admin, authToken); resp.StatusCode != http.StatusTooManyRequests {
				t.Errorf("the right token from the limited address, within its wait: %d, want 429 (an answer would tell the guess)", resp.StatusCode)
			}
			clk.Advance(time.Duration(retryAfter) * time.Second)
			if resp := c.guess(guesser, admin, authToken); resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusUnauthorized {
				t.Errorf("the right token from the guesser after Retry-After: %d", resp.StatusCode)
			}
			var warnings []string
			for line := range strings.Lines(logs.String()) {
				if strings.Contains(line, "level=WARN") && strings.Contains(line, "127.0.0.1") {
					warnings = append(warnings, line)
				}
			}
			if len(warnings) != 1 || !strings.Contains(warnings[0], "failures=") {
				t.Errorf("want one warning naming the address and its failures, got %d:\n%s", len(warnings), logs.String())
			}
		})
	}
}

// A dashboard session lasts its time (12 hours by default) and ends at
// log-out, whoever holds a copy of its cookie.
func TestDashboardSessionExpiresAndLogoutRevokes(t *testing.T) {
	t.Parallel()
	srv, clk, _ := startAuth(t)
	admin := "http://" + srv.AdminAddr()
	c := clientFrom("127.0.0.1")
	login := func() string {
		t.Helper()
		resp := ask(t, c, "POST", admin+"/ui/login", "token="+authToken, "Origin", admin)
		if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
			t.Fatalf("login: %d, cookies %v", resp.StatusCode, resp.Cookies())
		}
		ck := resp.Cookies()[0]
		if ck.MaxAge <= 0 || ck.MaxAge > int((12*time.Hour).Seconds()) {
			t.Errorf("session cookie Max-Age %d, want the session's time (12h)", ck.MaxAge)
		}
		return ck.Name + "=" + ck.Value
	}
	in := func(session string) bool {
		t.Helper()
		return ask(t, c, "GET", admin+"/ui/", "", "Cookie", session).StatusCode == http.StatusOK
	}

	session := login()
	if !in(session) {
		t.Fatal("a fresh session is refused")
	}
	clk.Advance(12*time.Hour - time.Minute)
	if !in(session) {
		t.Fatal("a session is refused before its 12 hours")
	}
	clk.Advance(2 * time.Minute)
	if in(session) {
		t.Error("a session still works after 12 hours")
	}

	session = login()
	if resp := ask(t, c, "POST", admin+"/ui/logout", "", "Cookie", session, "Origin", admin); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if in(session) {
		t.Error("a session still works after logging out")
	}
	if other := login(); !in(other) {
		t.Error("a new session after logging out is refused")
	}
}

// Without a token the admin listener is on loopback: every endpoint but
// /healthz refuses a Host that is not a loopback name (DNS rebinding), as
// the API and dashboard do.
func TestAdminWithoutTokenAnswersLoopbackHostsOnly(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	admin := "http://" + srv.AdminAddr()
	c := clientFrom("127.0.0.1")
	for _, path := range []string{"/metrics", "/readyz", "/v1/events", "/ui/"} {
		if resp := ask(t, c, "GET", admin+path, "", "Host", "evil.example"); resp.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("GET %s with Host evil.example: %d, want 421", path, resp.StatusCode)
		}
		if resp := ask(t, c, "GET", admin+path, "", "Host", "localhost"); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s with Host localhost: %d, want 200", path, resp.StatusCode)
		}
	}
	if resp := ask(t, c, "GET", admin+"/healthz", "", "Host", "evil.example"); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz with Host evil.example: %d, want 200", resp.StatusCode)
	}
}
