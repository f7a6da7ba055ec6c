package server_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/internal/server"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/postgres/pgtest"
)

// A serve that cannot reach PostgreSQL when it starts starts anyway: it
// answers webhooks 503 with Retry-After and /readyz says the store cannot
// take writes while it keeps trying, and once the database can be reached
// it migrates it, records its routes, accepts and delivers, without a
// restart.
func TestPostgresUnreachableAtStartup(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCuttable(t, u.Host)
	proxy.setCut(true) // every connection is dropped at once
	u.Host = proxy.ln.Addr().String()
	srv := startOn(t, u.String(), server.Config{}) // delivers to the log
	secret := testSecrets(t)[0]
	client := &http.Client{Timeout: 30 * time.Second}
	ready := "http://" + srv.AdminAddr() + "/readyz"

	for range 3 {
		status, retryAfter, _, err := postEvent(client, srv, secret, "early")
		if err != nil || status != http.StatusServiceUnavailable || retryAfter == "" {
			t.Fatalf("webhook before the database was reached = %d (Retry-After %q), %v; want 503 with Retry-After", status, retryAfter, err)
		}
	}
	if code, body := get(t, ready); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before the database was reached = %d %s, want 503", code, body)
	}

	proxy.setCut(false)
	waitRecovered(t, client, srv, secret, "early", "the database is reachable")
	ctx := context.Background()
	waitUntil(t, "the event to be delivered", func() bool {
		st, err := srv.Store().Stats(ctx)
		return err == nil && st.Events == 1 && st.Deliveries[store.DeliverySucceeded] == 1
	})
	routes, recorded, err := srv.Store().Routes(ctx)
	if err != nil || !recorded || len(routes) != 1 || routes[0].Name != "log" {
		t.Errorf("routes recorded = %v %v (%v), want the log destination", routes, recorded, err)
	}
}

// What waiting cannot mend still stops serve at once: a database that
// does not exist.
func TestPostgresMissingDatabaseStopsServe(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(pgtest.ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/hooklatch_no_such_database"
	_, err = server.New(context.Background(), server.Config{
		Addr: "127.0.0.1:0", AdminAddr: "off", Store: u.String(),
		Secrets: testSecrets(t), Logger: slog.New(slog.DiscardHandler),
	})
	if err == nil || !strings.Contains(err.Error(), "hooklatch_no_such_database") {
		t.Fatalf("server on a missing database: err = %v, want it refused, naming the database", err)
	}
}
