package devtools_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/internal/devtools"
	"github.com/hooklatch/hooklatch/internal/server"
	"github.com/hooklatch/hooklatch/signature"
)

const checkSecret = "whsec_c2VudC1maXh0dXJlLXNpZ25pbmcta2V5LTAxMjM0NTY="

// checkBurst keeps the burst case small, so that the tests stay fast.
const checkBurst = 20

// bug is one classic mistake of a webhook handler.
type bug int

const (
	noBug              bug = iota
	neverVerifies          // accepts any request
	optionalSignature      // verifies only when a signature header is present
	ignoresTimestamp       // no replay window
	verifiesCompact        // verifies json.Compact of the body, not the raw bytes
	rejectsUnknownType     // 500 to an event type it does not know
	slowAck                // works before answering
	notIdempotent          // 500 to an event id it has seen
	smallBodyLimit         // 413 above 64 KiB
	guideLegacyOnly        // verifies only legacy sha256= signatures, as the handlers of Sent's guide
)

// bugHandler is a webhook handler written as a developer would: it
// verifies the raw body with the signature package, answers 401 to a bad
// signature and 2xx to everything else, duplicates included, except for
// its one bug.
type bugHandler struct {
	bug      bug
	slow     time.Duration // with slowAck
	verifier *signature.Verifier

	mu      sync.Mutex
	seen    map[string]bool // dedupe keys of accepted events
	seenIDs map[string]bool // X-Webhook-Event-Id values, for notIdempotent

	largest    atomic.Int64 // the largest body accepted
	duplicates atomic.Int64 // duplicates acknowledged
}

func newBugHandler(t *testing.T, b bug, slow time.Duration) *bugHandler {
	t.Helper()
	secrets, err := signature.ParseSecrets(checkSecret)
	if err != nil {
		t.Fatal(err)
	}
	cfg := signature.Config{Secrets: secrets}
	if b == ignoresTimestamp {
		cfg.Tolerance = -1
	}
	v, err := signature.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &bugHandler{bug: b, slow: slow, verifier: v, seen: map[string]bool{}, seenIDs: map[string]bool{}}
}

func (h *bugHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	limit := int64(1 << 20)
	if h.bug == smallBodyLimit {
		limit = 64 << 10
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}

	verify, signed := true, body
	switch h.bug {
	case neverVerifies:
		verify = false
	case optionalSignature:
		verify = r.Header.Get(signature.HeaderSignature) != ""
	case guideLegacyOnly:
		if !strings.HasPrefix(r.Header.Get(signature.HeaderSignature), "sha256=") {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
	case verifiesCompact:
		var b bytes.Buffer
		if json.Compact(&b, body) == nil {
			signed = b.Bytes()
		}
	}
	if verify {
		if _, err := h.verifier.Verify(r.Header, signed); err != nil {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
	}

	env, err := event.Parse(body)
	if h.bug == rejectsUnknownType && (err != nil || !env.Known()) {
		http.Error(w, "unknown event type", http.StatusInternalServerError)
		return
	}
	if err != nil {
		env = nil
	}
	if h.bug == slowAck {
		time.Sleep(h.slow)
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	if id := r.Header.Get(signature.HeaderEventID); id != "" {
		if h.bug == notIdempotent && h.seenIDs[id] {
			http.Error(w, "already processed", http.StatusInternalServerError)
			return
		}
		h.seenIDs[id] = true
	}
	key := event.DedupeKey(r.Header, body, env)
	if h.seen[key] {
		h.duplicates.Add(1)
		w.Write([]byte(`{"status":"duplicate"}`))
		return
	}
	h.seen[key] = true
	if n := int64(len(body)); n > h.largest.Load() {
		h.largest.Store(n)
	}
	w.Write([]byte(`{"status":"accepted"}`))
}

func checkSecrets(t *testing.T) signature.Secret {
	t.Helper()
	s, err := signature.ParseSecret(checkSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// startServer runs the real `hooklatch serve` on a fresh SQLite store and
// returns its webhook URL.
func startServer(t *testing.T, schemes ...signature.Scheme) string {
	t.Helper()
	secrets, err := signature.ParseSecrets(checkSecret)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(context.Background(), server.Config{
		Addr: "127.0.0.1:0", AdminAddr: "off", Store: filepath.Join(t.TempDir(), "h.db"),
		Secrets: secrets, Schemes: schemes, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown() })
	return "http://" + srv.Addr() + "/webhooks/sent"
}

func runCheck(t *testing.T, c devtools.Check) devtools.Report {
	t.Helper()
	rep, err := c.Run(t.Context())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	var b strings.Builder
	for _, res := range rep.Results {
		devtools.WriteResult(&b, res)
	}
	t.Logf("check %s:\n%s%s", c.URL, b.String(), rep.Summary())
	return rep
}

func caseNames(rep devtools.Report) []string {
	var out []string
	for _, res := range rep.Results {
		out = append(out, res.Case)
	}
	return out
}

// The real receiver, on a real store, passes every case in both schemes.
func TestCheckPassesHooklatchServe(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	rep := runCheck(t, devtools.Check{URL: url, Secret: checkSecrets(t), Burst: checkBurst})

	if got, want := caseNames(rep), devtools.CaseNames(); !slices.Equal(got, want) {
		t.Errorf("cases run:\n got %v\nwant %v", got, want)
	}
	for _, res := range rep.Results {
		switch {
		case res.Verdict == devtools.VerdictPass:
		case res.Verdict == devtools.VerdictWarn && (strings.HasPrefix(res.Case, "accepts-") || res.Case == devtools.CaseBurst):
			// Only slowness warns here, and this machine's speed is not
			// what the test is about.
			t.Logf("%s warned: %s", res.Case, res.Reason)
		default:
			t.Errorf("%s: %s %s", res.Case, res.Verdict, res.Reason)
		}
	}
	if !rep.OK() {
		t.Errorf("failed: %v", rep.Failed())
	}
}

// With only the legacy scheme every case signs with it, and the stale
// timestamp case, which needs v1, is skipped.
func TestCheckLegacyOnly(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	rep := runCheck(t, devtools.Check{URL: url, Secret: checkSecrets(t), Schemes: []signature.Scheme{signature.Legacy}, Burst: checkBurst})
	if !rep.OK() {
		t.Errorf("against serve: failed %v", rep.Failed())
	}
	if got := caseNames(rep); slices.Contains(got, devtools.CaseAcceptsV1) || len(got) != len(devtools.CaseNames())-1 {
		t.Errorf("cases run: %v", got)
	}
	if rep.Count(devtools.VerdictSkip) != 1 || rep.Results[4].Case != devtools.CaseRejectsStale || rep.Results[4].Verdict != devtools.VerdictSkip {
		t.Errorf("want only %s skipped: %+v", devtools.CaseRejectsStale, rep.Results)
	}

	h := newBugHandler(t, neverVerifies, 0)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	rep = runCheck(t, devtools.Check{URL: srv.URL, Secret: checkSecrets(t), Schemes: []signature.Scheme{signature.Legacy}, Burst: checkBurst})
	want := []string{devtools.CaseRejectsBadSignature, devtools.CaseRejectsMissing, devtools.CaseRejectsTampered, devtools.CaseRejectsReserialised}
	if got := rep.Failed(); !slices.Equal(got, want) {
		t.Errorf("legacy, a handler that never verifies: failed\n got %v\nwant %v", got, want)
	}
}

// A handler written from Sent's guide verifies legacy sha256= signatures
// only: check says so once, on accepts-v1, in plain words, and grades the
// rest on legacy signatures instead of failing every case signed v1.
func TestCheckGradesALegacyOnlyHandler(t *testing.T) {
	t.Parallel()
	h := newBugHandler(t, guideLegacyOnly, 0)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	rep := runCheck(t, devtools.Check{URL: srv.URL, Secret: checkSecrets(t), Burst: checkBurst})
	if got := rep.Failed(); !slices.Equal(got, []string{devtools.CaseAcceptsV1}) {
		t.Errorf("failed %v, want only %s", got, devtools.CaseAcceptsV1)
	}
	said := 0
	for _, res := range rep.Results {
		if strings.Contains(res.Advice, "will refuse real deliveries") {
			said++
		}
		switch {
		case res.Case == devtools.CaseAcceptsV1 && (res.Advice != devtools.AdviceLegacyOnly || !strings.Contains(res.Reason, "legacy signatures only")):
			t.Errorf("%s: %s; advice %q", res.Case, res.Reason, res.Advice)
		case res.Case == devtools.CaseRejectsStale && res.Verdict != devtools.VerdictSkip:
			t.Errorf("%s: %s %s, want skipped: legacy signs no timestamp", res.Case, res.Verdict, res.Reason)
		case res.Case != devtools.CaseAcceptsV1 && res.Case != devtools.CaseRejectsStale && res.Verdict != devtools.VerdictPass:
			t.Errorf("%s: %s %s, want a pass on legacy signatures", res.Case, res.Verdict, res.Reason)
		}
	}
	if said != 1 {
		t.Errorf("said %d times that the handler will refuse real deliveries, want once", said)
	}
}

// Each handler carries one classic bug and fails exactly the cases that
// catch it.
func TestCheckFailsExactlyTheMatchingCases(t *testing.T) {
	t.Parallel()
	const deadline = 100 * time.Millisecond // for the slow handler only, which sleeps twice as long
	tests := []struct {
		name     string
		bug      bug
		deadline time.Duration
		failed   []string
	}{
		{"correct", noBug, 0, nil},
		{"never verifies", neverVerifies, 0, []string{
			devtools.CaseRejectsBadSignature, devtools.CaseRejectsMissing, devtools.CaseRejectsTampered,
			devtools.CaseRejectsStale, devtools.CaseRejectsReserialised}},
		{"verifies only a signature that is there", optionalSignature, 0, []string{devtools.CaseRejectsMissing}},
		{"ignores the timestamp's age", ignoresTimestamp, 0, []string{devtools.CaseRejectsStale}},
		{"verifies re-serialised JSON", verifiesCompact, 0, []string{devtools.CaseRejectsReserialised}},
		{"500 to an unknown type", rejectsUnknownType, 0, []string{devtools.CaseUnknownType}},
		{"slow ack", slowAck, deadline, []string{devtools.CaseAcceptsV1, devtools.CaseAcceptsLegacy, devtools.CaseBurst}},
		{"not idempotent", notIdempotent, 0, []string{devtools.CaseDuplicate}},
		{"64 KiB body limit", smallBodyLimit, 0, []string{devtools.CaseLargeBody}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newBugHandler(t, tt.bug, 2*deadline)
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)

			rep := runCheck(t, devtools.Check{URL: srv.URL, Secret: checkSecrets(t), Burst: checkBurst, Deadline: tt.deadline})
			if got := rep.Failed(); !slices.Equal(got, tt.failed) {
				t.Errorf("failed cases\n got %v\nwant %v", got, tt.failed)
			}
			if len(rep.Results) != len(devtools.CaseNames()) {
				t.Errorf("%d results, want %d", len(rep.Results), len(devtools.CaseNames()))
			}
			for _, res := range rep.Results {
				if res.Verdict == devtools.VerdictFail && res.Advice == "" {
					t.Errorf("%s failed without advice", res.Case)
				}
				if res.Verdict == devtools.VerdictSkip {
					t.Errorf("%s skipped", res.Case)
				}
			}
			if tt.bug == verifiesCompact {
				res := rep.Results[slices.Index(caseNames(rep), devtools.CaseRejectsReserialised)]
				if !strings.Contains(res.Reason, "form: compact (JSON.stringify, json.Compact);") ||
					strings.Contains(res.Reason, "Python") || strings.Contains(res.Reason, "sorted keys") {
					t.Errorf("the reason does not name the one form accepted: %s", res.Reason)
				}
			}
			if tt.bug == noBug {
				if got := h.largest.Load(); got != devtools.LargeBodyBytes {
					t.Errorf("largest body %d bytes, want %d", got, devtools.LargeBodyBytes)
				}
				if got := h.duplicates.Load(); got != 1 {
					t.Errorf("%d duplicates acknowledged, want 1 (the duplicate case's retry)", got)
				}
			}
		})
	}
}

// The advice for each failure names the fix, so a reader can act on it.
func TestCheckAdvice(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(newBugHandler(t, notIdempotent, 0))
	t.Cleanup(srv.Close)
	rep := runCheck(t, devtools.Check{URL: srv.URL, Secret: checkSecrets(t), Only: []string{devtools.CaseDuplicate}})
	if len(rep.Results) != 1 {
		t.Fatalf("--only ran %v", caseNames(rep))
	}
	res := rep.Results[0]
	if res.Verdict != devtools.VerdictFail || !strings.HasPrefix(res.Reason, "500 Internal Server Error to a retry") ||
		res.Advice != "Sent would retry it, and ten consecutive failures disable the endpoint; acknowledge duplicates with 2xx" {
		t.Errorf("duplicate: %+v", res)
	}
}

// A handler that takes only v1 fails accepts-legacy, with a pointer to
// --scheme v1.
func TestCheckPointsAtTheSchemeFlag(t *testing.T) {
	t.Parallel()
	url := startServer(t, signature.V1)
	rep := runCheck(t, devtools.Check{URL: url, Secret: checkSecrets(t), Only: []string{devtools.CaseAcceptsV1, devtools.CaseAcceptsLegacy}})
	if got := rep.Failed(); len(got) != 1 || got[0] != devtools.CaseAcceptsLegacy {
		t.Fatalf("failed %v, want accepts-legacy alone", got)
	}
	if res := rep.Results[1]; !strings.Contains(res.Advice, "--scheme v1") {
		t.Errorf("advice %q does not point at --scheme v1", res.Advice)
	}
}

// Nothing listening is a runtime error, not a page of failures.
func TestCheckUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	var seen []devtools.Result
	c := devtools.Check{URL: "http://" + addr + "/hook", Secret: checkSecrets(t), OnResult: func(r devtools.Result) { seen = append(seen, r) }}
	rep, err := c.Run(t.Context())
	if !errors.Is(err, devtools.ErrUnreachable) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("err = %v, want ErrUnreachable: connection refused", err)
	}
	if len(rep.Results) != 0 || len(seen) != 0 {
		t.Errorf("results before the error: %+v", rep.Results)
	}
}

func TestCheckConfigErrors(t *testing.T) {
	t.Parallel()
	secret := checkSecrets(t)
	for _, c := range []devtools.Check{
		{Secret: secret},
		{URL: "http://127.0.0.1:1/"},
		{URL: "http://127.0.0.1:1/", Secret: secret, Only: []string{"accepts"}},
		{URL: "http://127.0.0.1:1/", Secret: secret, Schemes: []signature.Scheme{"v2"}},
	} {
		if _, err := c.Run(t.Context()); !errors.Is(err, devtools.ErrCheckConfig) {
			t.Errorf("%+v: err = %v, want ErrCheckConfig", c, err)
		}
	}
}

// The JUnit report parses as XML: one suite, a test case per result, FAIL
// as a failure, SKIP as skipped, WARN as a pass with output.
func TestWriteJUnit(t *testing.T) {
	t.Parallel()
	rep := devtools.Report{
		URL:     "http://localhost:8080/hook",
		Started: time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC),
		Took:    1500 * time.Millisecond,
		Results: []devtools.Result{
			{Case: "accepts-v1", Verdict: devtools.VerdictWarn, Reason: "200 OK after 1.2 s", Advice: "acknowledge sooner", Took: 1200 * time.Millisecond},
			{Case: "rejects-bad-signature", Verdict: devtools.VerdictFail, Reason: `accepted a request "signed" <badly>`, Advice: "verify & answer 401"},
			{Case: "rejects-stale-timestamp", Verdict: devtools.VerdictSkip, Reason: "the legacy scheme signs no timestamp"},
			{Case: "duplicate", Verdict: devtools.VerdictPass, Reason: "200 OK, then 200 OK"},
		},
	}
	var b bytes.Buffer
	if err := devtools.WriteJUnit(&b, rep); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		XMLName xml.Name `xml:"testsuites"`
		Suites  []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Skipped  int    `xml:"skipped,attr"`
			Cases    []struct {
				Name    string `xml:"name,attr"`
				Time    string `xml:"time,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
				Skipped *struct {
					Message string `xml:"message,attr"`
				} `xml:"skipped"`
				SystemOut string `xml:"system-out"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if len(doc.Suites) != 1 {
		t.Fatalf("%d suites\n%s", len(doc.Suites), b.String())
	}
	s := doc.Suites[0]
	if s.Name != "hooklatch check" || s.Tests != 4 || s.Failures != 1 || s.Skipped != 1 || len(s.Cases) != 4 {
		t.Errorf("suite %q: %d tests, %d failures, %d skipped, %d cases\n%s", s.Name, s.Tests, s.Failures, s.Skipped, len(s.Cases), b.String())
	}
	warn, fail, skip, pass := s.Cases[0], s.Cases[1], s.Cases[2], s.Cases[3]
	if warn.Failure != nil || warn.Skipped != nil || !strings.Contains(warn.SystemOut, "WARN: 200 OK after 1.2 s") || warn.Time != "1.200" {
		t.Errorf("warn: %+v", warn)
	}
	if fail.Failure == nil || fail.Failure.Message != `accepted a request "signed" <badly>` || fail.Failure.Text != "verify & answer 401" {
		t.Errorf("fail: %+v", fail)
	}
	if skip.Skipped == nil || skip.Skipped.Message != "the legacy scheme signs no timestamp" || skip.Failure != nil {
		t.Errorf("skip: %+v", skip)
	}
	if pass.Failure != nil || pass.Skipped != nil || pass.Name != "duplicate" {
		t.Errorf("pass: %+v", pass)
	}
}
