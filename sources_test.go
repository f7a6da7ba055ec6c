package hooklatch_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch"
	"github.com/hooklatch/hooklatch/source"
	"github.com/hooklatch/hooklatch/store"
)

// A relay configured with Sources alone receives their webhooks at their
// paths and none of Sent's; a route's Sources and Filter choose its
// events as the config file's destinations do, and its handler is told
// the source.
func TestRelaySourcesAndFilter(t *testing.T) {
	t.Parallel()
	const stripeSecret = "whsec_relay-sources-test"
	handled := make(chan string, 10)
	relay, err := hooklatch.New(hooklatch.Config{
		Sources: []hooklatch.Source{{Name: "payments", Provider: "stripe", Secrets: []string{stripeSecret}}},
		Store:   filepath.Join(t.TempDir(), "h.db"),
		Logger:  slog.New(slog.DiscardHandler),
		Handlers: []hooklatch.Route{{
			Name: "invoices", Sources: []string{"payments"}, Filter: `type startsWith "invoice."`,
			Handler: hooklatch.HandlerFunc(func(ctx context.Context, ev *hooklatch.Event) error {
				handled <- ev.Source + " " + ev.Type
				return nil
			}),
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(relay.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- relay.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; srv.Close(); relay.Close() })

	stripe, err := source.New(source.Settings{Name: "payments", Provider: "stripe", Secrets: []string{stripeSecret}})
	if err != nil {
		t.Fatal(err)
	}
	send := func(path string, body []byte) int {
		t.Helper()
		h, err := stripe.(source.Signer).Sign(srv.URL+path, body, time.Now(), "")
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(body))
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send("/webhooks/payments", []byte(`{"id":"evt_1","type":"customer.created"}`)); code != http.StatusOK {
		t.Fatalf("customer.created answered %d", code)
	}
	if code := send("/webhooks/payments", []byte(`{"id":"evt_2","type":"invoice.paid"}`)); code != http.StatusOK {
		t.Fatalf("invoice.paid answered %d", code)
	}
	if code := send("/webhooks/sent", []byte(`{"id":"evt_3","type":"invoice.paid"}`)); code != http.StatusNotFound {
		t.Errorf("Sent's path without Sent's secrets answered %d, want 404", code)
	}
	if got := <-handled; got != "payments invoice.paid" {
		t.Errorf("handled %q, want payments invoice.paid", got)
	}
	evs, err := relay.Store().ListEvents(ctx, store.EventFilter{})
	if err != nil || len(evs) != 2 {
		t.Fatalf("stored %d events, %v; want 2", len(evs), err)
	}
	for _, ev := range evs {
		ds, err := relay.Store().ListDeliveries(ctx, store.DeliveryFilter{EventID: ev.ID})
		if want := map[string]int{"invoice.paid": 1, "customer.created": 0}[ev.Type]; err != nil || len(ds) != want {
			t.Errorf("%s (source %s): %d deliveries, %v; want %d", ev.Type, ev.Source, len(ds), err, want)
		}
	}
}

// New refuses sources and routes it cannot honour, saying which.
func TestRelaySourcesRefused(t *testing.T) {
	t.Parallel()
	noop := hooklatch.HandlerFunc(func(context.Context, *hooklatch.Event) error { return nil })
	stripe := hooklatch.Source{Name: "payments", Provider: "stripe", Secrets: []string{"whsec_x"}}
	for _, c := range []struct {
		name string
		cfg  hooklatch.Config
		want string
	}{
		{"unknown source", hooklatch.Config{Secrets: []string{secret}, Handlers: []hooklatch.Route{{Name: "a", Sources: []string{"payments"}, Handler: noop}}},
			`"payments" is not a source the relay receives (sent)`},
		{"sent without secrets", hooklatch.Config{Sources: []hooklatch.Source{stripe}, Handlers: []hooklatch.Route{{Name: "a", Sources: []string{"sent"}, Handler: noop}}},
			`"sent" is not a source the relay receives (payments)`},
		{"filter", hooklatch.Config{Secrets: []string{secret}, Handlers: []hooklatch.Route{{Name: "a", Filter: `status ==`, Handler: noop}}},
			`handler "a": Filter:`},
		{"provider", hooklatch.Config{Sources: []hooklatch.Source{{Name: "x", Provider: "nope", Secrets: []string{"s"}}}, Handlers: []hooklatch.Route{{Name: "a", Handler: noop}}},
			`source "x":`},
		{"sent as a source", hooklatch.Config{Sources: []hooklatch.Source{{Name: "sent", Provider: "stripe", Secrets: []string{"s"}}}, Handlers: []hooklatch.Route{{Name: "a", Handler: noop}}},
			`Config.Secrets' source`},
		{"same path", hooklatch.Config{Sources: []hooklatch.Source{stripe, {Name: "other", Provider: "github", Path: "/webhooks/payments", Secrets: []string{"s"}}}, Handlers: []hooklatch.Route{{Name: "a", Handler: noop}}},
			`has that name or path`},
	} {
		c.cfg.Store = filepath.Join(t.TempDir(), "h.db")
		relay, err := hooklatch.New(c.cfg)
		if err == nil {
			relay.Close()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: New = %v; want an error with %q", c.name, err, c.want)
		}
	}
}
