package hooklatch_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch"
	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/store/postgres"
	"github.com/hooklatch/hooklatch/store/postgres/pgtest"
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
