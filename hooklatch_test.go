package hooklatch_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch"
	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/sqlite"
)

const secret = "whsec_c2VudC1maXh0dXJlLXNpZ25pbmcta2V5LTAxMjM0NTY="

// signedRequest is a webhook request for body, signed as Sent signs it.
func signedRequest(t *testing.T, url string, body []byte) *http.Request {
	t.Helper()
	s, err := signature.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	for k, v := range signature.Sign(signature.V1, s, body, signature.SignOptions{}) {
		req.Header[k] = v
	}
	return req
}

func post(t *testing.T, url string, body []byte) {
	t.Helper()
	sendRequest(t, signedRequest(t, url, body))
}

// sendRequest sends a webhook request and wants 200.
func sendRequest(t *testing.T, req *http.Request) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook answered %d", resp.StatusCode)
	}
}

// Typed handlers get their payloads after the webhook was acknowledged; a
// Permanent error leaves the delivery dead.
func TestRelayRunsTypedHandlers(t *testing.T) {
	t.Parallel()
	var (
		mu       sync.Mutex
		statuses []string
	)
	relay, err := hooklatch.New(hooklatch.Config{
		Secrets:   []string{secret},
		StorePath: filepath.Join(t.TempDir(), "h.db"),
		Logger:    slog.New(slog.DiscardHandler),
		Handlers: []hooklatch.Route{
			{Name: "messages", Types: []string{"message.*"}, Handler: hooklatch.OnMessage(
				func(ctx context.Context, ev *hooklatch.Event, m *event.MessageStatus) error {
					mu.Lock()
					statuses = append(statuses, m.MessageID+" "+m.MessageStatus)
					mu.Unlock()
					return nil
				})},
			{Name: "templates", Handler: hooklatch.OnTemplate(
				func(ctx context.Context, ev *hooklatch.Event, tpl *event.Template) error {
					return hooklatch.Permanent(errors.New("template " + tpl.TemplateName + " is not ours"))
				})},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(relay.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { relay.Run(ctx); close(done) }()
	defer func() { cancel(); <-done; srv.Close(); relay.Close() }()

	msg, _ := event.Sample("message.delivered", event.SampleOptions{})
	msg, _ = event.Set(msg, "payload.message_id", "m-1")
	tpl, _ := event.Sample("template.rejected", event.SampleOptions{})
	post(t, srv.URL, msg)
	post(t, srv.URL, tpl)

	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := relay.Store().Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		// messages: 1 succeeded; templates: the template dead (a typed
		// handler's route takes only the types it decodes: no delivery of
		// the message to it).
		if st.Deliveries[store.DeliverySucceeded] == 1 && st.Deliveries[store.DeliveryDead] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries = %v", st.Deliveries)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(statuses) != 1 || statuses[0] != "m-1 DELIVERED" {
		t.Errorf("message handler saw %v", statuses)
	}
}

func TestNewNeedsSecretsAndHandlers(t *testing.T) {
	t.Parallel()
	h := hooklatch.HandlerFunc(func(context.Context, *hooklatch.Event) error { return nil })
	if _, err := hooklatch.New(hooklatch.Config{Handlers: []hooklatch.Route{{Name: "a", Handler: h}}}); err == nil {
		t.Error("New without secrets succeeded")
	}
	if _, err := hooklatch.New(hooklatch.Config{Secrets: []string{secret}}); err == nil {
		t.Error("New without handlers succeeded")
	}
	if _, err := hooklatch.New(hooklatch.Config{Secrets: []string{"whsec_!!"}, Handlers: []hooklatch.Route{{Name: "a", Handler: h}}}); err == nil {
		t.Error("New with a malformed secret succeeded")
	}
	if _, err := hooklatch.New(hooklatch.Config{Secrets: []string{secret}, Handlers: []hooklatch.Route{{Name: "a", Handler: h, Rate: "fast"}}}); err == nil || !strings.Contains(err.Error(), `handler "a": rate "fast"`) {
		t.Errorf("New with rate fast: %v", err)
	}
}

// A relay owns its store as serve does: a second one on the same file is
// refused, saying who holds it, until the first is closed.
func TestRelayOwnsItsStore(t *testing.T) {
	t.Parallel()
	cfg := hooklatch.Config{Secrets: []string{secret}, StorePath: filepath.Join(t.TempDir(), "h.db"), Logger: slog.New(slog.DiscardHandler),
		Handlers: []hooklatch.Route{{Name: "noop", Handler: hooklatch.HandlerFunc(func(context.Context, *hooklatch.Event) error { return nil })}}}
	first, err := hooklatch.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hooklatch.New(cfg); !errors.As(err, new(*sqlite.InUseError)) {
		t.Fatalf("second relay on one store: err = %v, want an in-use error", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := hooklatch.New(cfg)
	if err != nil {
		t.Fatalf("relay after the first closed: %v", err)
	}
	again.Close()
}

// The relay's handler cuts a body that trickles slower than MinBodyRate,
// as serve does, when it runs behind the app's own http.Server.
func TestRelayCutsATrickledBody(t *testing.T) {
	t.Parallel()
	relay, err := hooklatch.New(hooklatch.Config{
		Secrets: []string{secret}, Store: filepath.Join(t.TempDir(), "h.db"), Logger: slog.New(slog.DiscardHandler),
		MinBodyRate: 1 << 20,
		Handlers: []hooklatch.Route{{Name: "app", Handler: hooklatch.HandlerFunc(
			func(context.Context, *hooklatch.Event) error { return nil })}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(relay.Handler())
	defer func() { srv.Close(); relay.Close() }()

	// 65,000 bytes at 20 KiB/s: whole within the default's 2s + 65,000 /
	// 16 KiB/s, but not within 2s + 65,000 / 1 MiB/s.
	pr, pw := io.Pipe()
	go func() {
		chunk := bytes.Repeat([]byte("x"), 2<<10)
		for sent := 0; sent < 65000; sent += len(chunk) {
			if _, err := pw.Write(chunk[:min(len(chunk), 65000-sent)]); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		pw.Close()
	}()
	defer pw.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL, pr)
	req.ContentLength = 65000
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("a body sent at 20 KiB/s with MinBodyRate 1 MiB/s: %d after %v, want 408", resp.StatusCode, time.Since(start))
	}
	t.Logf("cut after %v", time.Since(start).Round(time.Millisecond))
}
