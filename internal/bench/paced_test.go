package bench

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/signature"
)

// Paced is open loop: a target that answers slowly gets every request all
// the same, each due exactly 1/rate after the one before, and the latency
// of each counts from when it was due.
func TestPacedKeepsItsScheduleAgainstASlowTarget(t *testing.T) {
	const (
		rate  = 200.0
		sleep = 300 * time.Millisecond
	)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(sleep)
	}))
	defer target.Close()
	var (
		mu  sync.Mutex
		ids = map[string]bool{}
		due []time.Time
	)
	l := Load{URL: target.URL, Body: []byte(`{"id":"00000000-0000-0000-0000-000000000000"}`), Vary: "00000000-0000-0000-0000-000000000000",
		Scheme: signature.V1, Secret: signature.NewSecret(), Duration: time.Second,
		Sent: func(id string, at time.Time) {
			mu.Lock()
			defer mu.Unlock()
			ids[id] = true
			due = append(due, at)
		}}
	res, err := Paced(context.Background(), l, rate)
	if err != nil {
		t.Fatal(err)
	}
	const want = int(rate) // rate × 1s
	if res.OK() != int64(want) || len(ids) != want {
		t.Fatalf("%d answered 2xx, %d distinct events sent, errors %v; want %d of each", res.OK(), len(ids), res.Errors, want)
	}
	for i := 1; i < len(due); i++ {
		if got, want := due[i].Sub(due[0]), time.Duration(float64(i)*float64(time.Second)/rate); got != want {
			t.Fatalf("request %d due %s after the first, want %s", i, got, want)
		}
	}
	// Every answer takes at least the handler's sleep, however the machine
	// runs: a floor, not a timing.
	if res.P50 < sleep {
		t.Errorf("p50 %s is under the target's %s sleep", res.P50, sleep)
	}
}
