package hooklatch_test

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch"
	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/store"
)

// running is a relay on a fresh SQLite store, served and run until the
// test ends.
func running(t *testing.T, routes ...hooklatch.Route) (*hooklatch.Relay, string) {
	t.Helper()
	relay, err := hooklatch.New(hooklatch.Config{
		Secrets: []string{secret}, Store: filepath.Join(t.TempDir(), "h.db"), Logger: slog.New(slog.DiscardHandler),
		Handlers: routes,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(relay.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { relay.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; srv.Close(); relay.Close() })
	return relay, srv.URL
}

// recorder is a handler that passes on each event it runs.
func recorder() (hooklatch.Handler, chan *hooklatch.Event) {
	seen := make(chan *hooklatch.Event, 16)
	return hooklatch.HandlerFunc(func(_ context.Context, ev *hooklatch.Event) error { seen <- ev; return nil }), seen
}

func next(t *testing.T, seen chan *hooklatch.Event) *hooklatch.Event {
	t.Helper()
	select {
	case ev := <-seen:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("the handler never ran")
		return nil
	}
}

// destinations names the routes an event was given to.
func destinations(t *testing.T, st store.Store, eventID string) []string {
	t.Helper()
	ds, err := st.ListDeliveries(context.Background(), store.DeliveryFilter{EventID: eventID})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range ds {
		names = append(names, d.Destination)
	}
	slices.Sort(names)
	return names
}

// The package doc's route, Types "message.*", with a typed handler for
// message statuses takes every status and not message.received, whose
// payload is another: no delivery of it is made to that route, so no
// handler fails decoding it, in a transaction or out of one.
func TestTypedRoutesTakeOnlyWhatTheyDecode(t *testing.T) {
	t.Parallel()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "app.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE statuses (message_id TEXT, status TEXT)`); err != nil {
		t.Fatal(err)
	}
	all, seen := recorder()
	relay, url := running(t,
		hooklatch.Route{Name: "orders", Types: []string{"message.*"}, Handler: hooklatch.OnMessage(
			func(context.Context, *hooklatch.Event, *event.MessageStatus) error { return nil })},
		hooklatch.Route{Name: "ledger", Types: []string{"message.*"}, Handler: hooklatch.TransactionalMessages(db, "ledger",
			func(ctx context.Context, tx *sql.Tx, ev *hooklatch.Event, m *event.MessageStatus) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO statuses VALUES (?, ?)`, m.MessageID, m.MessageStatus)
				return err
			})},
		hooklatch.Route{Name: "inbound", Handler: hooklatch.OnInbound(
			func(context.Context, *hooklatch.Event, *event.InboundMessage) error { return nil })},
		hooklatch.Route{Name: "all", Handler: all},
	)
	inbound, _ := event.Sample("message.received", event.SampleOptions{})
	status, _ := event.Sample("message.delivered", event.SampleOptions{})
	status, _ = event.Set(status, "payload.message_id", "m-1")
	post(t, url, inbound)
	post(t, url, status)
	got := map[string]string{}
	for range 2 {
		ev := next(t, seen)
		got[ev.Type] = ev.ID
	}
	if d := destinations(t, relay.Store(), got["message.received"]); !slices.Equal(d, []string{"all", "inbound"}) {
		t.Errorf("message.received went to %v, want [all inbound]", d)
	}
	if d := destinations(t, relay.Store(), got["message.delivered"]); !slices.Equal(d, []string{"all", "ledger", "orders"}) {
		t.Errorf("message.delivered went to %v, want [all ledger orders]", d)
	}
	routes, _, err := relay.Store().Routes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		if r.Name == "orders" && (slices.Contains(r.Types, "message.received") || !slices.Contains(r.Types, "message.failed")) {
			t.Errorf("orders takes %v, want every message status and not message.received", r.Types)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM statuses WHERE message_id = 'm-1' AND status = 'DELIVERED'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the transactional handler never recorded the status")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A typed handler on a route whose Types it cannot decode is refused by
// New, saying what it decodes.
func TestTypedRouteRefusesTypesItCannotDecode(t *testing.T) {
	t.Parallel()
	_, err := hooklatch.New(hooklatch.Config{
		Secrets: []string{secret}, Store: filepath.Join(t.TempDir(), "h.db"), Logger: slog.New(slog.DiscardHandler),
		Handlers: []hooklatch.Route{{Name: "orders", Types: []string{"message.received"}, Handler: hooklatch.OnMessage(
			func(context.Context, *hooklatch.Event, *event.MessageStatus) error { return nil })}},
	})
	if err == nil || !strings.Contains(err.Error(), `handler "orders" decodes message statuses`) {
		t.Fatalf("New = %v, want an error saying what the handler decodes", err)
	}
}

// A correctly signed body that is not JSON is stored and acknowledged; a
// route without Types gets it with no Type and a nil Envelope, its body as
// sent; a typed handler's route does not get it at all.
func TestSignedBodyThatIsNotJSON(t *testing.T) {
	t.Parallel()
	all, seen := recorder()
	relay, url := running(t,
		hooklatch.Route{Name: "all", Handler: all},
		hooklatch.Route{Name: "orders", Handler: hooklatch.OnMessage(
			func(context.Context, *hooklatch.Event, *event.MessageStatus) error { return nil })},
	)
	body := []byte("not json at all")
	post(t, url, body)
	ev := next(t, seen)
	if ev.Type != "" || ev.Envelope != nil || string(ev.Body) != string(body) {
		t.Errorf("handler saw Type %q, Envelope %v, Body %q; want no type, no envelope, the body as sent", ev.Type, ev.Envelope, ev.Body)
	}
	if d := destinations(t, relay.Store(), ev.ID); !slices.Equal(d, []string{"all"}) {
		t.Errorf("the body went to %v, want [all]", d)
	}
}
