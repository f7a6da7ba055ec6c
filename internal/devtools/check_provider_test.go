package devtools_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/internal/devtools"
	"github.com/hooklatch/hooklatch/source"
)

// provBug is one mistake of a provider's handler.
type provBug int

const (
	provNoBug       provBug = iota
	provNeverVerify         // accepts any request
	provNoTimestamp         // verifies the signature, never the timestamp's age
	provNoHandshake         // answers the handshake without its challenge
	provNoDuplicate         // 409 to an event it has seen
)

// hexHMAC is the hex HMAC-SHA256 of content keyed with key.
func hexHMAC(key, content string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(content))
	return hex.EncodeToString(m.Sum(nil))
}

// within says a Unix-seconds timestamp is at most five minutes old.
func within(ts string) bool {
	unix, err := strconv.ParseInt(ts, 10, 64)
	return err == nil && time.Since(time.Unix(unix, 0)) <= 5*time.Minute
}

// handWritten are handlers written from each provider's documentation, by
// hand, as an app's developer would, with one bug at most: a valid request
// is stored once (by the id the provider gives it) and answered 200.
var handWritten = map[string]func(bug provBug, secret string, h http.Header, body []byte) (ok bool, id string, answer []byte){
	// Stripe: Stripe-Signature t=…,v1=…, HMAC-SHA256 of "t.body" keyed
	// with the whsec_ text, 300 s tolerance; the event id is the body's.
	"stripe": func(bug provBug, secret string, h http.Header, body []byte) (bool, string, []byte) {
		var ts string
		var sigs []string
		for item := range strings.SplitSeq(h.Get("Stripe-Signature"), ",") {
			k, v, _ := strings.Cut(item, "=")
			switch k {
			case "t":
				ts = v
			case "v1":
				sigs = append(sigs, v)
			}
		}
		var e struct{ ID string }
		json.Unmarshal(body, &e)
		ok := slices.ContainsFunc(sigs, func(s string) bool { return hmac.Equal([]byte(s), []byte(hexHMAC(secret, ts+"."+string(body)))) })
		return bug == provNeverVerify || ok && (bug == provNoTimestamp || within(ts)), e.ID, nil
	},
	// GitHub: X-Hub-Signature-256 sha256=<hex HMAC-SHA256 of the body>;
	// X-GitHub-Delivery names the delivery.
	"github": func(bug provBug, secret string, h http.Header, body []byte) (bool, string, []byte) {
		sig := h.Get("X-Hub-Signature-256")
		ok := sig != "" && hmac.Equal([]byte(sig), []byte("sha256="+hexHMAC(secret, string(body))))
		return bug == provNeverVerify || ok, h.Get("X-GitHub-Delivery"), nil
	},
	// Slack: X-Slack-Signature v0=<hex HMAC-SHA256 of "v0:ts:body">, the
	// timestamp at most 5 minutes old; url_verification answered with its
	// challenge; event_id names the event.
	"slack": func(bug provBug, secret string, h http.Header, body []byte) (bool, string, []byte) {
		ts := h.Get("X-Slack-Request-Timestamp")
		ok := hmac.Equal([]byte(h.Get("X-Slack-Signature")), []byte("v0="+hexHMAC(secret, "v0:"+ts+":"+string(body))))
		ok = bug == provNeverVerify || ok && (bug == provNoTimestamp || within(ts))
		var e struct {
			Type, Challenge string
			EventID         string `json:"event_id"`
		}
		json.Unmarshal(body, &e)
		if ok && e.Type == "url_verification" {
			if bug == provNoHandshake {
				return true, "", []byte("ok")
			}
			return true, "", []byte(e.Challenge)
		}
		return ok, e.EventID, nil
	},
}

// provHandler serves one of the handWritten handlers.
func provHandler(t *testing.T, provider string, bug provBug, secret string) string {
	t.Helper()
	var mu sync.Mutex
	seen := map[string]bool{}
	verify := handWritten[provider]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ok, id, answer := verify(bug, secret, r.Header, body)
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mu.Lock()
		dup := seen[id] && id != ""
		seen[id] = true
		mu.Unlock()
		if dup && bug == provNoDuplicate {
			w.WriteHeader(http.StatusConflict)
			return
		}
		w.Write(answer)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/webhooks"
}

func runProviderCheck(t *testing.T, provider, url string, settings source.Settings) devtools.Report {
	t.Helper()
	c := &devtools.Check{URL: url, Provider: provider, Source: settings, Burst: 5}
	report, err := c.Run(context.Background())
	if err != nil {
		t.Fatalf("%s: %v", provider, err)
	}
	return report
}

// verdicts maps each case to its verdict.
func verdicts(r devtools.Report) map[string]devtools.Verdict {
	out := map[string]devtools.Verdict{}
	for _, res := range r.Results {
		out[res.Case] = res.Verdict
	}
	return out
}

// TestCheckProviderHandWritten: check --provider passes handlers written
// by hand from Stripe's, GitHub's and Slack's documentation, and fails
// each on the case its bug breaks, and on that case only.
func TestCheckProviderHandWritten(t *testing.T) {
	t.Parallel()
	const secret = "whsec_provider_check_secret"
	for _, tc := range []struct {
		provider string
		bug      provBug
		fails    []string
		skips    []string
	}{
		{"stripe", provNoBug, nil, []string{devtools.CaseHandshake}},
		{"stripe", provNeverVerify, []string{devtools.CaseRejectsBadSignature, devtools.CaseRejectsMissing, devtools.CaseRejectsTampered,
			devtools.CaseRejectsStale, devtools.CaseRejectsReserialised}, []string{devtools.CaseHandshake}},
		{"stripe", provNoTimestamp, []string{devtools.CaseRejectsStale}, []string{devtools.CaseHandshake}},
		{"stripe", provNoDuplicate, []string{devtools.CaseDuplicate}, []string{devtools.CaseHandshake}},
		{"github", provNoBug, nil, []string{devtools.CaseHandshake, devtools.CaseRejectsStale}},
		{"github", provNeverVerify, []string{devtools.CaseRejectsBadSignature, devtools.CaseRejectsMissing, devtools.CaseRejectsTampered,
			devtools.CaseRejectsReserialised}, []string{devtools.CaseHandshake, devtools.CaseRejectsStale}},
		{"slack", provNoBug, nil, nil},
		{"slack", provNoHandshake, []string{devtools.CaseHandshake}, nil},
		{"slack", provNoTimestamp, []string{devtools.CaseRejectsStale}, nil},
	} {
		t.Run(tc.provider+"/"+strconv.Itoa(int(tc.bug)), func(t *testing.T) {
			t.Parallel()
			url := provHandler(t, tc.provider, tc.bug, secret)
			report := runProviderCheck(t, tc.provider, url, source.Settings{Secrets: []string{secret}})
			var fails, skips []string
			for _, res := range report.Results {
				switch res.Verdict {
				case devtools.VerdictFail:
					fails = append(fails, res.Case)
				case devtools.VerdictSkip:
					skips = append(skips, res.Case)
				}
			}
			if !slices.Equal(fails, tc.fails) || !slices.Equal(skips, tc.skips) {
				t.Errorf("failed %v, skipped %v; want failed %v, skipped %v\n%v", fails, skips, tc.fails, tc.skips, report.Results)
			}
			if got := report.Results[0].Case; got != "accepts-"+tc.provider {
				t.Errorf("first case %s", got)
			}
		})
	}
}

// TestCheckProviderEveryProvider: for every registered provider, a handler
// that verifies with that provider's rules (package source, as serve does)
// and answers its handshake passes check --provider; one that never
// verifies fails the signature cases.
func TestCheckProviderEveryProvider(t *testing.T) {
	t.Parallel()
	for _, provider := range source.Providers() {
		t.Run(provider, func(t *testing.T) {
			t.Parallel()
			settings := source.Settings{Secrets: []string{"whsec_every_provider"}, VerifyToken: "meta-token",
				HMAC: source.HMACSettings{Header: "X-Acme-Signature", Prefix: "sha512=", Algorithm: "sha512", Encoding: "base64",
					Template: "{timestamp}.{body}", TimestampHeader: "X-Acme-Timestamp"}}
			for _, verifies := range []bool{true, false} {
				url := sourceHandler(t, provider, settings, verifies)
				report := runProviderCheck(t, provider, url, settings)
				v := verdicts(report)
				switch {
				case verifies && !report.OK():
					t.Errorf("a handler that verifies: %v", report.Results)
				case !verifies && (v[devtools.CaseRejectsBadSignature] != devtools.VerdictFail || v[devtools.CaseRejectsTampered] != devtools.VerdictFail):
					t.Errorf("a handler that never verifies: %v", report.Results)
				}
				_, handshakes := map[string]bool{"slack": true, "meta": true}[provider]
				if (v[devtools.CaseHandshake] == devtools.VerdictSkip) == handshakes {
					t.Errorf("handshake %s", v[devtools.CaseHandshake])
				}
				stamped := provider == "stripe" || provider == "slack" || provider == "standard-webhooks" || provider == "hmac"
				if (v[devtools.CaseRejectsStale] == devtools.VerdictSkip) == stamped {
					t.Errorf("rejects-stale-timestamp %s", v[devtools.CaseRejectsStale])
				}
			}
		})
	}
}

// sourceHandler serves a handler that verifies with package source, or
// (verifies false) one that checks nothing but answers handshakes.
func sourceHandler(t *testing.T, provider string, settings source.Settings, verifies bool) string {
	t.Helper()
	settings.Name, settings.Provider = provider, provider
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s := settings
		s.PublicURL = srv.URL + r.URL.RequestURI()
		s.Secrets = slices.Clone(settings.Secrets)
		src, err := source.New(s)
		if err != nil {
			t.Error(err)
			return
		}
		if r.Method == http.MethodGet || !verifies {
			if hs, ok := src.(source.Handshaker); ok {
				if a, ok := hs.Handshake(r, body); ok {
					w.WriteHeader(a.Status)
					w.Write(a.Body)
					return
				}
			}
		}
		if !verifies {
			return
		}
		if _, err := src.Verify(r, body); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if hs, ok := src.(source.Handshaker); ok {
			if a, ok := hs.Handshake(r, body); ok {
				w.WriteHeader(a.Status)
				w.Write(a.Body)
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/webhooks/" + provider
}
