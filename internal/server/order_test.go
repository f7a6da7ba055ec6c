package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/server"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/store"
)

// orderApp records what an ordered destination receives: each subject's
// statuses in the order they arrived, and any two deliveries of one
// subject that overlapped. It holds every request until open is closed.
type orderApp struct {
	open chan struct{}

	mu       sync.Mutex
	active   map[string]bool
	got      map[string][]string
	overlaps []string
	// fail answers the QUEUED of these subjects with this status code.
	fail map[string]int
}

func (a *orderApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	<-a.open
	var env struct {
		Payload struct {
			MessageID string `json:"message_id"`
			Status    string `json:"message_status"`
		} `json:"payload"`
	}
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &env); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	subject, status := env.Payload.MessageID, env.Payload.Status
	a.mu.Lock()
	if a.active[subject] {
		a.overlaps = append(a.overlaps, subject+"/"+status)
	}
	a.active[subject] = true
	code := a.fail[subject]
	if code == 0 || status != "QUEUED" {
		code = http.StatusOK
		a.got[subject] = append(a.got[subject], status)
	}
	a.mu.Unlock()
	time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond) // long enough to overlap, were two let through
	a.mu.Lock()
	a.active[subject] = false // the attempt ends before hooklatch records it
	a.mu.Unlock()
	w.WriteHeader(code)
}

func (a *orderApp) setFail(subject string, code int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fail[subject] = code
}

func (a *orderApp) received(subject string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.got[subject])
}

// With order: subject and 64 concurrent senders (every event sent twice,
// the statuses of each message shuffled), no two deliveries of a message
// overlap and each message's statuses arrive in lifecycle order: its
// first, SCHEDULED, is held by the app until every other status has been
// stored, so all its events were stored before the second was claimed. A
// message whose QUEUED keeps failing delays no other message, and once it
// succeeds its later statuses follow in order; one whose QUEUED is refused
// for good (dead) releases its later statuses. On SQLite and PostgreSQL.
func TestOrderedDestinationDeliversEachSubjectInOrder(t *testing.T) {
	t.Parallel()
	for name, location := range storeLocations {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testOrderedDelivery(t, location(t))
		})
	}
}

func testOrderedDelivery(t *testing.T, location string) {
	const messages = 150
	lifecycle := []string{"SCHEDULED", "QUEUED", "SENT", "DELIVERED", "READ"}
	app := &orderApp{open: make(chan struct{}), active: map[string]bool{}, got: map[string][]string{},
		fail: map[string]int{"m-retry": http.StatusServiceUnavailable, "m-dead": http.StatusBadRequest}}
	srvApp := httptest.NewServer(app)
	defer srvApp.Close()
	// No attempt times out while the app holds it (a retry would deliver
	// SCHEDULED twice).
	dest, err := httpdest.New(httpdest.Config{URL: srvApp.URL, Timeout: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	srv := startOn(t, location, server.Config{Routes: []dispatch.Route{{Name: "app", Destination: dest, Order: store.OrderSubject,
		Policy: dispatch.Policy{MaxAttempts: 1000, Concurrency: 64, Timeout: 10 * time.Minute, Retry: constantRetry(5 * time.Millisecond)}}}})

	subjects := []string{"m-retry", "m-dead"}
	for i := range messages {
		subjects = append(subjects, fmt.Sprint("m-", i))
	}
	secret := testSecrets(t)[0]
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	send := func(bodies [][]byte) {
		var wg sync.WaitGroup
		for w := range 64 {
			wg.Go(func() {
				for i := w; i < len(bodies); i += 64 {
					req, err := http.NewRequest(http.MethodPost, srv.URL(), bytes.NewReader(bodies[i]))
					if err != nil {
						t.Error(err)
						return
					}
					req.Header = signature.Sign(signature.V1, secret, bodies[i], signature.SignOptions{})
					resp, err := client.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						t.Errorf("send: %s", resp.Status)
					}
				}
			})
		}
		wg.Wait()
	}
	body := func(subject, status string) []byte {
		return fmt.Appendf(nil, `{"field":"message","sub_type":"message.%s","timestamp":"2026-01-02T10:00:00Z","payload":{"message_id":%q,"message_status":%q}}`,
			status, subject, status)
	}
	var first, rest [][]byte
	for _, s := range subjects {
		first = append(first, body(s, "SCHEDULED"))
		for _, st := range lifecycle[1:] {
			rest = append(rest, body(s, st), body(s, st)) // each twice: the second is a duplicate
		}
	}
	send(first)
	rand.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	send(rest)
	close(app.open)

	done := func(s string) bool {
		if s == "m-dead" {
			return len(app.received(s)) >= len(lifecycle)-1
		}
		return len(app.received(s)) >= len(lifecycle)
	}
	waitFor(t, "every message but the failing one delivered", func() bool {
		for _, s := range subjects {
			if s != "m-retry" && !done(s) {
				return false
			}
		}
		return true
	})
	if got := app.received("m-retry"); !slices.Equal(got, lifecycle[:1]) {
		t.Errorf("m-retry, failing at QUEUED: received %v, want only SCHEDULED", got)
	}
	// The failing message is a held subject, in the API and on the
	// dashboard.
	a := &apiServer{Server: srv, admin: "http://" + srv.AdminAddr()}
	waitFor(t, "the held subject counted", func() bool {
		var stats struct {
			Totals store.Stats `json:"totals"`
		}
		a.call(t, "GET", "/v1/stats", nil, &stats)
		return stats.Totals.HeldSubjects["app"] == 1
	})
	if code, page := getPage(t, a.admin+"/ui/"); code != http.StatusOK || !strings.Contains(page, "held subjects (app)") {
		t.Errorf("GET /ui/: %d, want the held subjects of app:\n%.2000s", code, page)
	}
	app.setFail("m-retry", 0)
	waitFor(t, "the failing message delivered once it succeeds", func() bool { return done("m-retry") })

	app.mu.Lock()
	defer app.mu.Unlock()
	if len(app.overlaps) > 0 {
		t.Errorf("deliveries of one subject overlapped: %v", app.overlaps)
	}
	for _, s := range subjects {
		want := lifecycle
		if s == "m-dead" {
			want = slices.Delete(slices.Clone(lifecycle), 1, 2) // QUEUED dead, the rest released
		}
		if got := app.got[s]; !slices.Equal(got, want) {
			t.Errorf("%s received %v, want %v", s, got, want)
		}
	}
}

// getPage GETs url and returns its status and body.
func getPage(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
