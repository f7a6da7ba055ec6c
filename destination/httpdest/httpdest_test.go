package httpdest_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/signature"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	destinationtest.Run(t, destinationtest.Harness{
		New: func(t *testing.T, b destinationtest.Behaviour) (destination.Destination, destinationtest.Observer) {
			rec := new(destinationtest.Recorder)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, err := io.ReadAll(r.Body)
				if err != nil {
					return // the client gave up
				}
				rec.Record(destinationtest.Received{EventID: r.Header.Get(httpdest.HeaderEventID), Body: body})
				switch b {
				case destinationtest.FailTemporary:
					http.Error(w, "busy", http.StatusServiceUnavailable)
				case destinationtest.FailPermanent:
					http.Error(w, "no such account", http.StatusUnprocessableEntity)
				case destinationtest.Hang:
					hang(t, r)
				}
			}))
			t.Cleanup(srv.Close)
			return newDest(t, httpdest.Config{URL: srv.URL}), rec
		},
	})
}

// Legacy signing, and signing each event as it arrived: an app written for
// either of Sent's schemes verifies what it is forwarded.
func TestDeliverSignatureSchemes(t *testing.T) {
	t.Parallel()
	secret := newSecret(t)
	verifiers := map[signature.Scheme]*signature.Verifier{}
	for _, scheme := range []signature.Scheme{signature.V1, signature.Legacy} {
		v, err := signature.NewVerifier(signature.Config{Secrets: []signature.Secret{secret}, Schemes: []signature.Scheme{scheme}})
		if err != nil {
			t.Fatal(err)
		}
		verifiers[scheme] = v
	}
	got := make(chan http.Header, 1)
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ = io.ReadAll(r.Body)
		got <- r.Header
	}))
	t.Cleanup(srv.Close)

	for _, tc := range []struct {
		config, arrived, want signature.Scheme
	}{
		{signature.Legacy, "v1", signature.Legacy},
		{httpdest.SchemeAsReceived, "legacy", signature.Legacy},
		{httpdest.SchemeAsReceived, "v1", signature.V1},
		{"", "legacy", signature.V1}, // the default
	} {
		dest := newDest(t, httpdest.Config{URL: srv.URL, Secret: secret, Scheme: tc.config})
		dl := destinationtest.NewDelivery(1)
		dl.Event.Scheme = string(tc.arrived)
		if err := destination.Classify(dest.Deliver(t.Context(), dl)).Err; err != nil {
			t.Fatal(err)
		}
		h := <-got
		if _, err := verifiers[tc.want].Verify(h, body); err != nil {
			t.Errorf("scheme %q, event arrived %s: does not verify as %s: %v (signature %q)", tc.config, tc.arrived, tc.want, err, h.Get(signature.HeaderSignature))
		}
		other := signature.V1
		if tc.want == signature.V1 {
			other = signature.Legacy
		}
		if _, err := verifiers[other].Verify(h, body); err == nil {
			t.Errorf("scheme %q, event arrived %s: verifies as %s too", tc.config, tc.arrived, other)
		}
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     httpdest.Config
		wantErr string // "" for valid
	}{
		{"http", httpdest.Config{URL: "http://127.0.0.1:8080/hooks"}, ""},
		{"https with user info", httpdest.Config{URL: "https://u:p@example.com/hooks"}, ""},
		{"authorization header", httpdest.Config{URL: "http://h/", Headers: map[string]string{"authorization": "Bearer x"}}, ""},
		{"missing URL", httpdest.Config{}, "Config.URL: required"},
		{"relative URL", httpdest.Config{URL: "/hooks"}, "want an http or https URL"},
		{"other scheme", httpdest.Config{URL: "ftp://example.com/"}, "want an http or https URL"},
		{"no host", httpdest.Config{URL: "http:///hooks"}, "has no host"},
		{"unparseable", httpdest.Config{URL: "http://[::1"}, "Config.URL"},
		{"negative timeout", httpdest.Config{URL: "http://h/", Timeout: -time.Second}, "Timeout: negative"},
		{"negative snippet", httpdest.Config{URL: "http://h/", MaxResponseBytes: -1}, "MaxResponseBytes: negative"},
		{"bad header name", httpdest.Config{URL: "http://h/", Headers: map[string]string{"X Y": "1"}}, "not a valid header name"},
		{"header with newline", httpdest.Config{URL: "http://h/", Headers: map[string]string{"X-Y": "a\r\nX-Z: b"}}, "line break"},
		{"own signature header", httpdest.Config{URL: "http://h/", Headers: map[string]string{"x-webhook-signature": "v1,x"}}, "set by hooklatch"},
		{"hooklatch header", httpdest.Config{URL: "http://h/", Headers: map[string]string{"Hooklatch-Attempt": "9"}}, "set by hooklatch"},
		{"content type", httpdest.Config{URL: "http://h/", Headers: map[string]string{"Content-Type": "text/plain"}}, "set by hooklatch or the transport"},
		{"legacy scheme", httpdest.Config{URL: "http://h/", Scheme: signature.Legacy}, ""},
		{"as received", httpdest.Config{URL: "http://h/", Scheme: httpdest.SchemeAsReceived}, ""},
		{"unknown scheme", httpdest.Config{URL: "http://h/", Scheme: "v2"}, "Config.Scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := httpdest.New(tt.cfg)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("New: err = %v, want one containing %q", err, tt.wantErr)
			case err != nil && strings.Contains(err.Error(), ":p@"):
				t.Fatalf("the error shows the URL's password: %v", err)
			}
			// A front end names the setting from the field.
			if ce, ok := errors.AsType[*destination.ConfigError](err); err != nil && (!ok || strings.Contains(ce.Err.Error(), "Config")) {
				t.Errorf("New: err = %v, want a *destination.ConfigError whose words name no Go field", err)
			}
		})
	}
}

func TestDeliverRequest(t *testing.T) {
	t.Parallel()
	noContentType := destinationtest.NewDelivery(2)
	delete(noContentType.Event.Headers, "content-type")

	tests := []struct {
		name            string
		dl              *destination.Delivery
		wantContentType string
	}{
		{"stored content type", destinationtest.NewDelivery(1), "application/json; charset=utf-8"},
		{"no stored content type", noContentType, "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := make(chan *http.Request, 1)
			bodies := make(chan []byte, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				got <- r
				bodies <- body
				w.WriteHeader(http.StatusNoContent)
			}))
			t.Cleanup(srv.Close)
			dest := newDest(t, httpdest.Config{URL: srv.URL + "/hooks?tenant=a", Headers: map[string]string{"authorization": "Bearer t0ken", "User-Agent": "mine"}})

			dl := tt.dl
			dl.Attempt = 3
			if o := destination.Classify(dest.Deliver(t.Context(), dl)); o.Class != destination.Succeeded || o.Result.StatusCode != 204 {
				t.Fatalf("outcome %s %d (%v), want succeeded 204", o.Class, o.Result.StatusCode, o.Err)
			}
			r, body := <-got, <-bodies
			if r.Method != http.MethodPost || r.URL.RequestURI() != "/hooks?tenant=a" {
				t.Errorf("request %s %s, want POST /hooks?tenant=a", r.Method, r.URL.RequestURI())
			}
			if string(body) != string(dl.Event.Body) {
				t.Errorf("body changed:\n got %q\nwant %q", body, dl.Event.Body)
			}
			want := map[string]string{
				"Content-Type":              tt.wantContentType,
				"Authorization":             "Bearer t0ken",
				"User-Agent":                "mine",
				"X-Sent-Webhook-Id":         "d4f5a6b7-c8d9-4e0f-a1b2-c3d4e5f6a7b8",
				"X-Sent-Webhook-Timestamp":  "1761905442",
				"X-Sent-Webhook-Signature":  "v1,BdGvszniYLgk93FxFTxyqtUSCWEzQsZfFuUO2EYZWpE=",
				"X-Sent-Webhook-Event-Id":   dl.Event.DedupeKey,
				"X-Sent-Webhook-Event-Type": "message.delivered",
				"Hooklatch-Event-Id":        dl.Event.ID,
				"Hooklatch-Delivery-Id":     fmt.Sprint(dl.ID),
				"Hooklatch-Attempt":         "3",
				"Hooklatch-Event-Type":      "message.delivered",
				// Unsigned: none of hooklatch's signature headers, and Sent's
				// stored ones only under their X-Sent- names.
				"X-Webhook-Id": "", "X-Webhook-Timestamp": "", "X-Webhook-Signature": "",
				"Webhook-Id": "", "Webhook-Timestamp": "", "Webhook-Signature": "",
			}
			for name, v := range want {
				if g := r.Header.Get(name); g != v {
					t.Errorf("%s: %q, want %q", name, g, v)
				}
			}
		})
	}
}

func TestDeliverSignature(t *testing.T) {
	t.Parallel()
	secret := newSecret(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	verifier, err := signature.NewVerifier(signature.Config{
		Secrets: []signature.Secret{secret},
		Schemes: []signature.Scheme{signature.V1},
		NowFunc: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}

	srv, got := recordingApp(t)
	dest := newDest(t, httpdest.Config{URL: srv.URL, Secret: secret, NowFunc: func() time.Time { return now }})

	dl := destinationtest.NewDelivery(1)
	for attempt := 1; attempt <= 2; attempt++ {
		dl.Attempt = attempt
		if err := destination.Classify(dest.Deliver(t.Context(), dl)).Err; err != nil {
			t.Fatalf("attempt %d: %v", attempt, err)
		}
		rc := <-got

		res, err := verifier.Verify(rc.header, rc.body)
		if err != nil {
			t.Fatalf("attempt %d: the forwarded event does not verify: %v", attempt, err)
		}
		if res.WebhookID != dl.Event.ID {
			t.Errorf("attempt %d: X-Webhook-Id = %q, want the event ID %q on every attempt", attempt, res.WebhookID, dl.Event.ID)
		}
		if !res.Timestamp.Equal(now) {
			t.Errorf("attempt %d: X-Webhook-Timestamp = %s, want %s", attempt, res.Timestamp, now)
		}

		// The Standard Webhooks names carry the same, verifiable values.
		std := http.Header{}
		std.Set(signature.HeaderID, rc.header.Get(httpdest.HeaderStandardID))
		std.Set(signature.HeaderTimestamp, rc.header.Get(httpdest.HeaderStandardTimestamp))
		std.Set(signature.HeaderSignature, rc.header.Get(httpdest.HeaderStandardSignature))
		if _, err := verifier.Verify(std, rc.body); err != nil {
			t.Errorf("attempt %d: the Webhook-* headers do not verify: %v", attempt, err)
		}

		// Sent's own signature is forwarded, renamed.
		if g := rc.header.Get("X-Sent-Webhook-Signature"); g != dl.Event.Headers["x-webhook-signature"] {
			t.Errorf("attempt %d: X-Sent-Webhook-Signature = %q, want Sent's stored %q", attempt, g, dl.Event.Headers["x-webhook-signature"])
		}
	}
}

func TestDeliverStatusTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code    int
		want    destination.Class
		wantErr string // a part of the error; "" when none
	}{
		{200, destination.Succeeded, ""},
		{201, destination.Succeeded, ""},
		{204, destination.Succeeded, ""},
		{301, destination.PermanentFailure, "answered 301 Moved Permanently (to /elsewhere): redirects are not followed"},
		{302, destination.PermanentFailure, "redirects are not followed"},
		{307, destination.PermanentFailure, "redirects are not followed"},
		{308, destination.PermanentFailure, "redirects are not followed"},
		{400, destination.PermanentFailure, "answered 400 Bad Request: nope"},
		{401, destination.PermanentFailure, "answered 401 Unauthorized"},
		{404, destination.PermanentFailure, "answered 404 Not Found"},
		{410, destination.PermanentFailure, "answered 410 Gone"},
		{422, destination.PermanentFailure, "answered 422 Unprocessable Entity"},
		{408, destination.Temporary, "answered 408 Request Timeout"},
		{429, destination.Temporary, "answered 429 Too Many Requests: nope"},
		{500, destination.Temporary, "answered 500 Internal Server Error: nope"},
		{502, destination.Temporary, "answered 502 Bad Gateway"},
		{503, destination.Temporary, "answered 503 Service Unavailable"},
		{504, destination.Temporary, "answered 504 Gateway Timeout"},
		{599, destination.Temporary, "answered 599"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.code), func(t *testing.T) {
			t.Parallel()
			var elsewhere atomic.Int32
			mux := http.NewServeMux()
			mux.HandleFunc("/elsewhere", func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) })
			mux.HandleFunc("/hooks", func(w http.ResponseWriter, r *http.Request) {
				if tt.code >= 300 && tt.code < 400 {
					http.Redirect(w, r, "/elsewhere", tt.code)
					return
				}
				w.WriteHeader(tt.code)
				io.WriteString(w, "nope\n")
			})
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)

			// A caller's client that follows redirects must not change that.
			dest := newDest(t, httpdest.Config{URL: srv.URL + "/hooks", Client: &http.Client{}})
			o := destination.Classify(dest.Deliver(t.Context(), destinationtest.NewDelivery(1)))
			if o.Class != tt.want {
				t.Errorf("classified %s (%v), want %s", o.Class, o.Err, tt.want)
			}
			if o.Result.StatusCode != tt.code {
				t.Errorf("Result.StatusCode = %d, want %d", o.Result.StatusCode, tt.code)
			}
			if o.Delay != 0 {
				t.Errorf("Delay = %s without Retry-After", o.Delay)
			}
			switch {
			case tt.wantErr == "" && o.Err != nil:
				t.Errorf("err = %v, want none", o.Err)
			case tt.wantErr != "" && (o.Err == nil || !strings.Contains(o.Err.Error(), tt.wantErr)):
				t.Errorf("err = %v, want one containing %q", o.Err, tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(o.Err.Error(), "POST "+srv.URL+"/hooks answered"):
				t.Errorf("err = %v, want it to name the request", o.Err)
			}
			if n := elsewhere.Load(); n != 0 {
				t.Errorf("the redirect was followed %d times", n)
			}
		})
	}
}

func TestDeliverRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		code       int
		retryAfter string
		wantDelay  time.Duration
	}{
		{"429 seconds", 429, "120", 2 * time.Minute},
		{"503 seconds", 503, "7", 7 * time.Second},
		{"503 seconds with space", 503, " 30 ", 30 * time.Second},
		{"429 HTTP date", 429, now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"503 HTTP date", 503, now.Add(time.Hour).Format(http.TimeFormat), time.Hour},
		{"503 RFC 850 date", 503, now.Add(time.Minute).Format(time.RFC850), time.Minute},
		{"date in the past", 503, now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"zero", 429, "0", 0},
		{"negative", 429, "-5", 0},
		{"garbage", 503, "soon", 0},
		{"capped", 429, "99999999999999999999", 24 * time.Hour},
		{"ignored on 500", 500, "30", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", tt.retryAfter)
				w.WriteHeader(tt.code)
			}))
			t.Cleanup(srv.Close)
			dest := newDest(t, httpdest.Config{URL: srv.URL, NowFunc: func() time.Time { return now }})
			o := destination.Classify(dest.Deliver(t.Context(), destinationtest.NewDelivery(1)))
			if o.Class != destination.Temporary || o.Delay != tt.wantDelay {
				t.Fatalf("outcome %s after %s (%v), want temporary after %s", o.Class, o.Delay, o.Err, tt.wantDelay)
			}
		})
	}
}

func TestDeliverNoAnswer(t *testing.T) {
	t.Parallel()
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hang(t, r) }))
	t.Cleanup(hanging.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/hooks"
	ln.Close()

	tests := []struct {
		name    string
		cfg     httpdest.Config
		wantErr string
	}{
		{"timeout", httpdest.Config{URL: hanging.URL, Timeout: 50 * time.Millisecond}, "POST " + hanging.URL + ": no answer within 50ms"},
		{"connection refused", httpdest.Config{URL: closed}, "POST " + closed + ": dial tcp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := destination.Classify(newDest(t, tt.cfg).Deliver(t.Context(), destinationtest.NewDelivery(1)))
			if o.Class != destination.Temporary {
				t.Errorf("classified %s, want temporary", o.Class)
			}
			if o.Err == nil || !strings.Contains(o.Err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want one containing %q", o.Err, tt.wantErr)
			}
			if tt.name == "timeout" && !errors.Is(o.Err, context.DeadlineExceeded) {
				t.Errorf("err = %v, want a context.DeadlineExceeded", o.Err)
			}
		})
	}
}

func TestDeliverReusesConnections(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		code int
		body string
	}{
		{"empty 200", 200, ""},
		{"200 longer than the snippet", 200, strings.Repeat("x", 10<<10)},
		{"500 longer than the snippet", 500, strings.Repeat("e", 10<<10)},
		{"400", 400, "bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.code)
				io.WriteString(w, tt.body)
			}))
			var conns atomic.Int32
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			}
			srv.Start()
			t.Cleanup(srv.Close)

			dest := newDest(t, httpdest.Config{URL: srv.URL})
			for i := range 50 {
				dest.Deliver(t.Context(), destinationtest.NewDelivery(i))
			}
			if n := conns.Load(); n > 2 {
				t.Errorf("50 sequential deliveries opened %d connections, want at most 2", n)
			}
		})
	}
}

func TestDeliverBoundsTheSnippet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		max  int
		body string
		want string
	}{
		{"default 1024", 0, strings.Repeat("a", 5000), strings.Repeat("a", 1024)},
		{"shorter than the bound", 100, "ok", "ok"},
		{"cut at the bound", 10, "0123456789abcdef", "0123456789"},
		{"a character cut in two is dropped", 5, "ééé", "éé"},
		{"invalid bytes", 10, "a\xffb", "a?b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, tt.body)
			}))
			t.Cleanup(srv.Close)
			dest := newDest(t, httpdest.Config{URL: srv.URL, MaxResponseBytes: tt.max})
			o := destination.Classify(dest.Deliver(t.Context(), destinationtest.NewDelivery(1)))
			if o.Result.Response != tt.want {
				t.Errorf("Response = %q, want %q", o.Result.Response, tt.want)
			}
			if !utf8.ValidString(o.Result.Response) {
				t.Errorf("Response is not valid UTF-8")
			}
		})
	}
}

func TestDeliverConcurrentlyShared(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
	t.Cleanup(srv.Close)
	dest := newDest(t, httpdest.Config{URL: srv.URL, Secret: newSecret(t)})
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			if err := destination.Classify(dest.Deliver(t.Context(), destinationtest.NewDelivery(i))).Err; err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n.Load() != 64 {
		t.Fatalf("%d requests arrived, want 64", n.Load())
	}
}

// hang answers nothing until the client goes away or the test ends. The
// server notices a client leaving only once the body is read.
func hang(t *testing.T, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-t.Context().Done():
	}
}

func newDest(t testing.TB, cfg httpdest.Config) *httpdest.Destination {
	t.Helper()
	d, err := httpdest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func newSecret(t testing.TB) signature.Secret {
	t.Helper()
	s, err := signature.ParseSecret(signature.SecretPrefix + base64.StdEncoding.EncodeToString([]byte(rand.Text())))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDeliverBasicAuthFromURL(t *testing.T) {
	t.Parallel()
	got := make(chan *http.Request, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r }))
	t.Cleanup(srv.Close)
	u := strings.Replace(srv.URL, "http://", "http://hook:s3cret@", 1)
	dest := newDest(t, httpdest.Config{URL: u})
	if err := destination.Classify(dest.Deliver(t.Context(), destinationtest.NewDelivery(1))).Err; err != nil {
		t.Fatal(err)
	}
	if user, pass, ok := (<-got).BasicAuth(); !ok || user != "hook" || pass != "s3cret" {
		t.Fatalf("basic auth %q %q %v, want hook s3cret", user, pass, ok)
	}

	// Errors name the URL without the password.
	srv.Close()
	err := destination.Classify(dest.Deliver(t.Context(), destinationtest.NewDelivery(2))).Err
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "hook:xxxxx@") {
		t.Fatalf("err = %v, want the URL with its password redacted", err)
	}
}

// Each request says whether its event was stale when it was claimed and
// its subject's latest status; an event with no subject is not stale and
// has no subject status header at all.
func TestDeliverStaleHeaders(t *testing.T) {
	t.Parallel()
	noSubject := destinationtest.NewDelivery(3)
	noSubject.Event.SubjectKind, noSubject.Event.Subject, noSubject.SubjectStatus = "", "", ""
	stale := destinationtest.NewDelivery(1)
	stale.Stale, stale.SubjectStatus = true, "READ"
	fresh := destinationtest.NewDelivery(2)
	fresh.SubjectStatus = "DELIVERED"
	tests := []struct {
		name       string
		dl         *destination.Delivery
		wantStale  string
		wantStatus []string // the header's values; nil when absent
	}{
		{"stale", stale, "true", []string{"READ"}},
		{"latest", fresh, "false", []string{"DELIVERED"}},
		{"no subject", noSubject, "false", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := make(chan http.Header, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				got <- r.Header
			}))
			t.Cleanup(srv.Close)
			dest := newDest(t, httpdest.Config{URL: srv.URL})
			if o := destination.Classify(dest.Deliver(t.Context(), tt.dl)); o.Class != destination.Succeeded {
				t.Fatalf("outcome %s (%v), want succeeded", o.Class, o.Err)
			}
			h := <-got
			if g := h.Values("Hooklatch-Stale"); len(g) != 1 || g[0] != tt.wantStale {
				t.Errorf("Hooklatch-Stale: %q, want [%q]", g, tt.wantStale)
			}
			if g := h.Values("Hooklatch-Subject-Status"); fmt.Sprint(g) != fmt.Sprint(tt.wantStatus) {
				t.Errorf("Hooklatch-Subject-Status: %q, want %q", g, tt.wantStatus)
			}
		})
	}
}

// Each request names the source its event came in on, Sent's and a
// configured source's alike.
func TestDeliverNamesTheSource(t *testing.T) {
	t.Parallel()
	for _, source := range []string{"sent", "payments"} {
		got := make(chan http.Header, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			got <- r.Header
		}))
		dest := newDest(t, httpdest.Config{URL: srv.URL})
		dl := destinationtest.NewDelivery(1)
		dl.Event.Source = source
		o := destination.Classify(dest.Deliver(t.Context(), dl))
		srv.Close()
		if o.Class != destination.Succeeded {
			t.Fatalf("outcome %s (%v), want succeeded", o.Class, o.Err)
		}
		if g := (<-got).Values(httpdest.HeaderSource); len(g) != 1 || g[0] != source {
			t.Errorf("Hooklatch-Source: %q, want [%q]", g, source)
		}
	}
}
