package hooklatch_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch"
	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/sqlite"
)

// markedClaims is a SQLite store whose claims say what a store keeping
// subjects' latest states says: here, any SENT is stale behind a READ.
type markedClaims struct{ *sqlite.Store }

func (s markedClaims) Claim(ctx context.Context, p store.ClaimParams) ([]store.Claim, error) {
	claims, err := s.Store.Claim(ctx, p)
	for i := range claims {
		claims[i].Stale, claims[i].SubjectStatus = claims[i].Event.Status == "SENT", "READ"
	}
	return claims, err
}

// Every kind of handler sees, through ev.Stale and ev.Latest, what the
// claim of its delivery said.
func TestHandlersSeeStaleness(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "h.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var (
		mu  sync.Mutex
		got = map[string]string{} // route and what it was about: stale and latest
	)
	note := func(route string, ev *hooklatch.Event, what string) {
		mu.Lock()
		defer mu.Unlock()
		got[route+" "+what] = map[bool]string{true: "stale", false: "latest"}[ev.Stale()] + " " + ev.Latest()
	}
	relay, err := hooklatch.New(hooklatch.Config{
		Secrets: []string{secret},
		Backend: markedClaims{st},
		Logger:  slog.New(slog.DiscardHandler),
		Handlers: []hooklatch.Route{
			{Name: "plain", Handler: hooklatch.HandlerFunc(func(ctx context.Context, ev *hooklatch.Event) error {
				note("plain", ev, ev.Type)
				return nil
			})},
			{Name: "typed", Handler: hooklatch.OnMessage(func(ctx context.Context, ev *hooklatch.Event, m *event.MessageStatus) error {
				note("typed", ev, ev.Type+" "+m.MessageStatus)
				return nil
			})},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	url, stop := serve(relay)
	defer stop()

	for _, typ := range []string{"message.read", "message.sent"} {
		body, _ := event.Sample(typ, event.SampleOptions{})
		body, _ = event.Set(body, "payload.message_id", "m-1")
		post(t, url, body)
	}
	want := map[string]string{
		"plain message.read": "latest READ", "plain message.sent": "stale READ",
		"typed message.read READ": "latest READ", "typed message.sent SENT": "stale READ",
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: handler saw %q, want %q", k, got[k], w)
		}
	}
}
