package hooklatch_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch"
	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/postgres"
	"github.com/hooklatch/hooklatch/store/postgres/pgtest"
	"github.com/hooklatch/hooklatch/store/sqlite"
)

// Config.Store takes a PostgreSQL URL: the relay stores there and runs its
// handlers from there.
func TestRelayOnPostgres(t *testing.T) {
	t.Parallel()
	handled := make(chan string, 1)
	relay, err := hooklatch.New(hooklatch.Config{
		Secrets: []string{secret},
		Store:   pgtest.URL(t),
		Logger:  slog.New(slog.DiscardHandler),
		Handlers: []hooklatch.Route{{Name: "messages", Handler: hooklatch.OnMessage(
			func(ctx context.Context, ev *hooklatch.Event, m *event.MessageStatus) error {
				handled <- m.MessageID
				return nil
			})}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := relay.Store().(*postgres.Store); !ok {
		t.Fatalf("relay store is a %T, want the PostgreSQL store", relay.Store())
	}
	srv := httptest.NewServer(relay.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { relay.Run(ctx); close(done) }()
	defer func() { cancel(); <-done; srv.Close(); relay.Close() }()

	msg, _ := event.Sample("message.delivered", event.SampleOptions{})
	msg, _ = event.Set(msg, "payload.message_id", "m-pg")
	post(t, srv.URL, msg)
	select {
	case id := <-handled:
		if id != "m-pg" {
			t.Errorf("handled %s, want m-pg", id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the handler never ran")
	}
}

// Config.Backend takes a store the application opened, SQLite or
// PostgreSQL: the relay stores there and runs its handlers from there, and
// its Close leaves the store open for the application to close.
func TestRelayOnAnOpenedStore(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		open func(t *testing.T) (store.Store, error)
	}{
		{"sqlite", func(t *testing.T) (store.Store, error) {
			return sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "app.db"), sqlite.Options{})
		}},
		{"postgres", func(t *testing.T) (store.Store, error) {
			return postgres.Open(context.Background(), pgtest.URL(t), postgres.Options{})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			st, err := c.open(t)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			handled := make(chan string, 1)
			cfg := hooklatch.Config{
				Secrets: []string{secret},
				Backend: st,
				Logger:  slog.New(slog.DiscardHandler),
				Handlers: []hooklatch.Route{{Name: "messages", Handler: hooklatch.OnMessage(
					func(ctx context.Context, ev *hooklatch.Event, m *event.MessageStatus) error {
						handled <- ev.ID
						return nil
					})}},
			}
			both := cfg
			both.Store = filepath.Join(t.TempDir(), "other.db")
			if _, err := hooklatch.New(both); err == nil || !strings.Contains(err.Error(), "Config.Store and Config.Backend") {
				t.Errorf("Store and Backend both set: err = %v, want one naming both", err)
			}
			relay, err := hooklatch.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if relay.Store() != st {
				t.Fatalf("relay store is %T %p, want the one passed in", relay.Store(), relay.Store())
			}
			srv := httptest.NewServer(relay.Handler())
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { relay.Run(ctx); close(done) }()

			msg, _ := event.Sample("message.delivered", event.SampleOptions{})
			post(t, srv.URL, msg)
			var id string
			select {
			case id = <-handled:
			case <-time.After(10 * time.Second):
				t.Fatal("the handler never ran")
			}
			cancel()
			<-done
			srv.Close()
			if err := relay.Close(); err != nil {
				t.Fatal(err)
			}
			// The store is still the application's, and open.
			if ev, err := st.GetEvent(context.Background(), id); err != nil || !bytes.Equal(ev.Body, msg) {
				t.Errorf("event %s after the relay closed: %v", id, err)
			}
			if err := st.Ready(context.Background()); err != nil {
				t.Errorf("store after the relay closed: %v, want it still open", err)
			}
		})
	}
}
