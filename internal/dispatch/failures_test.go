package dispatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/logtest"
	"github.com/hooklatch/hooklatch/store"
)

// An app that answers 500 for a while and then recovers is logged in a
// few lines: a warning at the first failed attempt, with the error, a
// summary every 10s of the dispatcher's clock while attempts fail, and an
// info line at the first success, counting every failed attempt.
func TestFailingDestinationIsLoggedWhenItStartsAndEnds(t *testing.T) {
	t.Parallel()
	const events, failing = 5, 20 // four failed attempts each: at 0, 2s, 6s and 14s
	var calls atomic.Int32
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= failing {
			http.Error(w, "database down", http.StatusInternalServerError)
		}
	}))
	defer app.Close()
	dest, err := httpdest.New(httpdest.Config{URL: app.URL})
	if err != nil {
		t.Fatal(err)
	}
	var logs logtest.Buffer
	// Without the breaker: it would stop the failures at ten (breaker_test.go).
	h := setup(t, []dispatch.Route{{Name: "app", Destination: dest, Policy: dispatch.Policy{Retry: exact, BreakerFailures: -1}}},
		func(c *dispatch.Config) { c.Logger = slog.New(slog.NewJSONHandler(&logs, nil)) })
	var ids []string
	for i := range events {
		ids = append(ids, h.append(t, fmt.Sprint("k", i), "message.delivered").ID)
	}
	h.drive(t, "every delivery to succeed", func() bool {
		for _, id := range ids {
			if !h.statusIs(t, id, store.DeliverySucceeded)() {
				return false
			}
		}
		return true
	})
	h.stop()

	type line struct {
		Level         string `json:"level"`
		Msg           string `json:"msg"`
		Destination   string `json:"destination"`
		Err           string `json:"err"`
		Failures      int64  `json:"failures"`
		FailuresTotal int64  `json:"failures_total"`
	}
	var started, summaries, ended []line
	for s := range strings.Lines(logs.String()) {
		var l line
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatalf("log line %q: %v", s, err)
		}
		switch {
		case strings.Contains(l.Msg, "failed; until one succeeds"):
			started = append(started, l)
		case strings.Contains(l.Msg, "still fail"):
			summaries = append(summaries, l)
		case strings.Contains(l.Msg, "recovered"):
			ended = append(ended, l)
		default:
			t.Errorf("unexpected line %s", s)
		}
	}
	if len(started) != 1 || started[0].Level != "WARN" || started[0].Destination != "app" || !strings.Contains(started[0].Err, "500") {
		t.Fatalf("lines at the start = %+v, want one warning naming the app and its 500\n%s", started, logs.String())
	}
	// At most one per round of retries, as rounds are 2s to 8s apart
	// (and drive may stretch them to a few more).
	if len(summaries) > 3 {
		t.Errorf("%d summaries over four rounds of failures, want at most 3\n%s", len(summaries), logs.String())
	}
	counted := int64(1)
	for _, l := range summaries {
		counted += l.Failures
		if l.Level != "WARN" || l.FailuresTotal != counted || !strings.Contains(l.Err, "500") {
			t.Errorf("summary %+v, want a warning with the last error, counting %d in all", l, counted)
		}
	}
	if len(ended) != 1 || ended[0].Level != "INFO" || ended[0].FailuresTotal != failing {
		t.Errorf("lines at the end = %+v, want one info line counting %d failed attempts\n%s", ended, failing, logs.String())
	}
}

// refusingClaims is a real store whose first claims fail, as during an
// outage of the database.
type refusingClaims struct {
	store.Store
	refuse atomic.Int32
}

func (s *refusingClaims) Claim(ctx context.Context, p store.ClaimParams) ([]store.Claim, error) {
	if s.refuse.Add(-1) >= 0 {
		return nil, errors.New("database unreachable")
	}
	return s.Store.Claim(ctx, p)
}

// While the store refuses claims the dispatcher logs the outage, not each
// refused claim: a warning, summaries, and one line when it ends.
func TestStoreOutageIsLoggedOnceByTheDispatcher(t *testing.T) {
	t.Parallel()
	const refused = 60
	app := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer app.Close()
	dest, err := httpdest.New(httpdest.Config{URL: app.URL})
	if err != nil {
		t.Fatal(err)
	}
	var logs logtest.Buffer
	var st *refusingClaims
	h := setup(t, []dispatch.Route{{Name: "app", Destination: dest}}, func(c *dispatch.Config) {
		st = &refusingClaims{Store: c.Store}
		st.refuse.Store(refused)
		c.Store = st
		c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	})
	ev := h.append(t, "k", "message.delivered")
	h.drive(t, "the delivery to succeed once the store takes claims", h.statusIs(t, ev.ID, store.DeliverySucceeded))
	// The outage ends at a claim taken a second after the last refused
	// one: the idle polls after the delivery make it.
	h.drive(t, "the outage to end", func() bool { return strings.Contains(logs.String(), "takes claims and records again") })
	h.stop()
	if st.refuse.Load() >= 0 {
		t.Fatalf("only %d claims were refused", refused-st.refuse.Load())
	}
	var started, ended int
	lines := 0
	for s := range strings.Lines(logs.String()) {
		lines++
		switch {
		case strings.Contains(s, "the store refused a claim"):
			started++
		case strings.Contains(s, "the store takes claims and records again"):
			ended++
		}
	}
	if started != 1 || ended != 1 || lines > 2+refused/10 {
		t.Errorf("%d log lines for %d refused claims (%d starting, %d ending), want one start, one end and few summaries\n%s",
			lines, refused, started, ended, logs.String())
	}
}
