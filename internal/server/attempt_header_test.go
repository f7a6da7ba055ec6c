package server_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/server"
)

// The Hooklatch-Attempt header numbers an attempt as `events show` lists
// it: a delivery dead after two attempts and retried gets "3", not "1",
// on SQLite and on PostgreSQL.
func TestAttemptHeaderMatchesTheListedAttempt(t *testing.T) {
	t.Parallel()
	for name, location := range storeLocations {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var (
				up      atomic.Bool
				mu      sync.Mutex
				headers []string
			)
			app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				headers = append(headers, r.Header.Get(httpdest.HeaderAttempt))
				mu.Unlock()
				if !up.Load() {
					http.Error(w, "down", http.StatusInternalServerError)
				}
			}))
			defer app.Close()
			dest, err := httpdest.New(httpdest.Config{URL: app.URL})
			if err != nil {
				t.Fatal(err)
			}
			srv := startOn(t, location(t), server.Config{Routes: []dispatch.Route{{Name: "app", Destination: dest,
				Policy: dispatch.Policy{MaxAttempts: 2, Retry: constantRetry(10 * time.Millisecond)}}}})
			a := &apiServer{Server: srv, admin: "http://" + srv.AdminAddr()}

			id := post(t, srv, messageBody("message.delivered", "m-attempts"))
			waitFor(t, "the delivery to die after two attempts", func() bool { return a.event(t, id).Delivery == "dead" })
			up.Store(true)
			var res touched
			if a.call(t, "POST", "/v1/events/"+id+"/retry", nil, &res); res.Touched != 1 {
				t.Fatalf("retry: %+v", res)
			}
			waitFor(t, "the retried delivery to succeed", func() bool { return a.event(t, id).Delivery == "succeeded" })

			var listed []string
			for _, at := range a.event(t, id).Deliveries[0].Attempts {
				listed = append(listed, strconv.Itoa(at.Attempt))
			}
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(headers, listed) || !slices.Equal(listed, []string{"1", "2", "3"}) {
				t.Errorf("the app saw %s %v, events show lists attempts %v; want 1, 2, 3 in both",
					httpdest.HeaderAttempt, headers, listed)
			}
		})
	}
}
