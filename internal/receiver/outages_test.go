package receiver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/sqlite"
)

// failingStore is a real SQLite store whose appends fail while failing is
// set, as a store does through an outage of its database or its disk.
type failingStore struct {
	*sqlite.Store
	failing atomic.Bool
}

var errOutage = errors.New("database is unreachable")

func (s *failingStore) Append(ctx context.Context, ev *store.NewEvent) (store.AppendResult, error) {
	if s.failing.Load() {
		return store.AppendResult{}, errOutage
	}
	return s.Store.Append(ctx, ev)
}

// logLine is a receiver log line, as the JSON handler writes it.
type logLine struct {
	Level         string `json:"level"`
	Msg           string `json:"msg"`
	Err           string `json:"err"`
	Failures      int64  `json:"failures"`
	FailuresTotal int64  `json:"failures_total"`
}

// An outage of the store under load is logged in a few lines, not one per
// refused request: a warning when it starts, with the error, a summary
// every 10s of the receiver's clock while it lasts, and an info line when
// the store takes events again, whose count is every request refused.
func TestStoreOutageIsLoggedInAFewLines(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var clock atomic.Int64 // milliseconds after now
	fs := &failingStore{}
	f := backend{"sqlite", func(t *testing.T, o options) (store.Store, error) {
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hooklatch.db"), o.storeOpts)
		fs.Store = st
		return fs, err
	}}.setup(t, options{
		logger:  slog.New(slog.NewJSONHandler(&logs, nil)),
		nowFunc: func() time.Time { return now.Add(time.Duration(clock.Load()) * time.Millisecond) },
	})

	fs.failing.Store(true)
	const refused = 10_000 // 100s of the receiver's clock, 100 requests a second
	for i := range refused {
		body := fmt.Appendf(nil, `{"field":"message","n":%d}`, i)
		if code, _, _ := f.do(t, f.signed(signature.V1, body)); code != http.StatusServiceUnavailable {
			t.Fatalf("request %d during the outage answered %d, want 503", i, code)
		}
		clock.Add(10)
	}
	fs.failing.Store(false)
	clock.Add(2000)
	if code, a, _ := f.do(t, f.signed(signature.V1, readFixture(t, "f1.json"))); code != http.StatusOK {
		t.Fatalf("request after the outage answered %d %+v, want 200", code, a)
	}
	f.rcv.Close()

	var lines []logLine
	for line := range strings.Lines(logs.String()) {
		var l logLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		lines = append(lines, l)
	}
	// One to start, one per 10s of the 100s, one to end.
	if len(lines) < 3 || len(lines) > 1+100/10+1 {
		t.Fatalf("%d log lines for %d refused requests, want from 3 to %d:\n%s", len(lines), refused, 1+100/10+1, logs.String())
	}
	first, last := lines[0], lines[len(lines)-1]
	if first.Level != "WARN" || first.Err != errOutage.Error() || !strings.Contains(first.Msg, "503") {
		t.Errorf("first line = %+v, want a warning saying 503, with the error", first)
	}
	if last.Level != "INFO" || last.FailuresTotal != refused || !strings.Contains(last.Msg, "takes events again after 1m42s") {
		t.Errorf("last line = %+v, want info that %d requests were refused over the outage", last, refused)
	}
	counted := int64(1) // the first line's
	for _, l := range lines[1 : len(lines)-1] {
		if l.Level != "WARN" || l.Err != errOutage.Error() || !strings.Contains(l.Msg, "still cannot take events") {
			t.Errorf("summary line = %+v", l)
		}
		counted += l.Failures
		if l.FailuresTotal != counted {
			t.Errorf("summary says %d in all, its lines so far count %d", l.FailuresTotal, counted)
		}
	}
	if counted > refused || counted < refused-1000 { // less than 10s since the last summary
		t.Errorf("the lines count %d refusals before the end, of %d: a summary is missing", counted, refused)
	}
}
