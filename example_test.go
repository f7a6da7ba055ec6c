package hooklatch_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hooklatch/hooklatch"
	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/store"
)

// sendAsSent posts body to url signed as Sent signs it, and returns the
// status of the answer.
func sendAsSent(url string, body []byte) int {
	s, _ := signature.ParseSecret(secret)
	return postWith(url, body, signature.Sign(signature.V1, s, body, signature.SignOptions{}))
}

// postWith posts body to url with the headers h, and returns the status
// of the answer.
func postWith(url string, body []byte, h http.Header) int {
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// serve mounts relay's Handler on a server and runs the relay, as an
// application's main does (see ExampleOnMessage); stop undoes both and
// closes the relay.
func serve(relay *hooklatch.Relay) (url string, stop func()) {
	srv := httptest.NewServer(relay.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- relay.Run(ctx) }()
	return srv.URL, func() { cancel(); <-done; srv.Close(); relay.Close() }
}

// sampleStatus is a message.delivered webhook for message id.
func sampleStatus(id string) []byte {
	body, _ := event.Sample("message.delivered", event.SampleOptions{})
	body, _ = event.Set(body, "payload.message_id", id)
	return body
}

// A typed handler on the types of the package doc: OnMessage's route
// takes every message status, and not message.received, whose payload is
// an inbound message (OnInbound decodes those).
func ExampleOnMessage() {
	dir, _ := os.MkdirTemp("", "hooklatch-example")
	defer os.RemoveAll(dir)
	handled := make(chan string)
	relay, err := hooklatch.New(hooklatch.Config{
		Secrets: []string{secret}, // os.Getenv("SENT_WEBHOOK_SECRET")
		Store:   filepath.Join(dir, "hooklatch.db"),
		Logger:  slog.New(slog.DiscardHandler),
		Handlers: []hooklatch.Route{{
			Name:  "orders",
			Types: []string{"message.*"},
			Handler: hooklatch.OnMessage(func(ctx context.Context, ev *hooklatch.Event, m *event.MessageStatus) error {
				handled <- fmt.Sprintf("%s: message %s is %s", ev.Type, m.MessageID, m.MessageStatus)
				return nil
			}),
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer relay.Close()
	srv := httptest.NewServer(relay.Handler()) // http.Handle("/webhooks/sent", relay.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- relay.Run(ctx) }()

	inbound, _ := event.Sample("message.received", event.SampleOptions{})
	fmt.Println("message.received answered", sendAsSent(srv.URL, inbound))
	fmt.Println("message.delivered answered", sendAsSent(srv.URL, sampleStatus("m-1")))
	fmt.Println(<-handled)
	cancel()
	<-done
	// Output:
	// message.received answered 200
	// message.delivered answered 200
	// message.delivered: message m-1 is DELIVERED
}

// TransactionalMessages runs the handler in a transaction of the
// application's own database, which also records the event as processed:
// its effects happen once, though a delivery may be attempted again.
func ExampleTransactionalMessages() {
	dir, _ := os.MkdirTemp("", "hooklatch-example")
	defer os.RemoveAll(dir)
	db, _ := sql.Open("sqlite", filepath.Join(dir, "app.db")+"?_pragma=busy_timeout(5000)")
	defer db.Close()
	db.Exec(`CREATE TABLE message_status (message_id TEXT PRIMARY KEY, status TEXT)`)

	relay, err := hooklatch.New(hooklatch.Config{
		Secrets: []string{secret},
		Store:   filepath.Join(dir, "hooklatch.db"),
		Logger:  slog.New(slog.DiscardHandler),
		Handlers: []hooklatch.Route{{
			Name:  "statuses",
			Types: []string{"message.*"},
			Handler: hooklatch.TransactionalMessages(db, "statuses",
				func(ctx context.Context, tx *sql.Tx, ev *hooklatch.Event, m *event.MessageStatus) error {
					_, err := tx.ExecContext(ctx, `INSERT INTO message_status VALUES (?, ?)
						ON CONFLICT (message_id) DO UPDATE SET status = excluded.status`, m.MessageID, m.MessageStatus)
					return err
				}),
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	url, stop := serve(relay)
	defer stop()

	sendAsSent(url, sampleStatus("m-7"))
	for processed := 0; processed == 0; time.Sleep(10 * time.Millisecond) {
		db.QueryRow(`SELECT COUNT(*) FROM hooklatch_processed`).Scan(&processed)
	}
	var status string
	db.QueryRow(`SELECT status FROM message_status WHERE message_id = 'm-7'`).Scan(&status)
	fmt.Println("m-7:", status)
	// Output:
	// m-7: DELIVERED
}

// An embedded relay serves the admin API, the dashboard (/ui/) and the
// metrics (/metrics) on an address of its own while Run runs, as
// `hooklatch serve` does on its admin listener. (Config.Admin and
// Relay.AdminHandler mount them on a server of the application's instead.)
func ExampleConfig_adminAddr() {
	dir, _ := os.MkdirTemp("", "hooklatch-example")
	defer os.RemoveAll(dir)
	relay, err := hooklatch.New(hooklatch.Config{
		Secrets:   []string{secret},
		Store:     filepath.Join(dir, "hooklatch.db"),
		Logger:    slog.New(slog.DiscardHandler),
		AdminAddr: "127.0.0.1:0", // "127.0.0.1:3001"; elsewhere, set AdminToken too
		Handlers: []hooklatch.Route{{Name: "app", Handler: hooklatch.HandlerFunc(
			func(context.Context, *hooklatch.Event) error { return nil })}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	url, stop := serve(relay)
	defer stop()

	sendAsSent(url, sampleStatus("m-1"))
	resp, err := http.Get("http://" + relay.AdminAddr() + "/v1/stats")
	if err != nil {
		fmt.Println(err)
		return
	}
	var stats struct {
		Totals struct {
			Events int64 `json:"events"`
		} `json:"totals"`
	}
	json.NewDecoder(resp.Body).Decode(&stats)
	resp.Body.Close()
	fmt.Println("GET /v1/stats:", resp.Status, "events", stats.Totals.Events)
	// Output:
	// GET /v1/stats: 200 OK events 1
}

// A handler says what happens next by the error it returns: Permanent
// sends the delivery to dead at once, without the retries a temporary
// error gets; `hooklatch events retry` or the dashboard tries it again
// once the cause is fixed.
func ExamplePermanent() {
	dir, _ := os.MkdirTemp("", "hooklatch-example")
	defer os.RemoveAll(dir)
	relay, err := hooklatch.New(hooklatch.Config{
		Secrets: []string{secret},
		Store:   filepath.Join(dir, "hooklatch.db"),
		Logger:  slog.New(slog.DiscardHandler),
		Handlers: []hooklatch.Route{{
			Name: "orders",
			Handler: hooklatch.OnMessage(func(ctx context.Context, ev *hooklatch.Event, m *event.MessageStatus) error {
				return hooklatch.Permanent(fmt.Errorf("no order for message %s", m.MessageID))
			}),
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	url, stop := serve(relay)
	defer stop()

	fmt.Println("answered", sendAsSent(url, sampleStatus("m-404")))
	ctx := context.Background()
	var delivery store.Delivery
	var attempts []store.Attempt
	for len(attempts) == 0 {
		time.Sleep(10 * time.Millisecond)
		if ds, _ := relay.Store().ListDeliveries(ctx, store.DeliveryFilter{}); len(ds) == 1 {
			delivery = ds[0]
			attempts, _ = relay.Store().ListAttempts(ctx, delivery.ID)
		}
	}
	// The attempt and the delivery's new status are stored together: read
	// the status again, as the one read before the attempt may predate it.
	if ds, _ := relay.Store().ListDeliveries(ctx, store.DeliveryFilter{}); len(ds) == 1 {
		delivery = ds[0]
	}
	fmt.Printf("delivery %s after %d attempt: %s\n", delivery.Status, len(attempts), attempts[0].Error)
	// Output:
	// answered 200
	// delivery dead after 1 attempt: permanent: no order for message m-404
}

// With Config.Admin the application mounts the admin API, dashboard and
// metrics on a server of its own (here at the root of a test server; keep
// it off the public listener, or set AdminToken).
func ExampleRelay_AdminHandler() {
	dir, _ := os.MkdirTemp("", "hooklatch-example")
	defer os.RemoveAll(dir)
	relay, err := hooklatch.New(hooklatch.Config{
		Secrets: []string{secret},
		Store:   filepath.Join(dir, "hooklatch.db"),
		Logger:  slog.New(slog.DiscardHandler),
		Admin:   true,
		Handlers: []hooklatch.Route{{Name: "app", Handler: hooklatch.HandlerFunc(
			func(context.Context, *hooklatch.Event) error { return nil })}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	url, stop := serve(relay)
	defer stop()
	admin := httptest.NewServer(relay.AdminHandler()) // http.ListenAndServe("127.0.0.1:3001", relay.AdminHandler())
	defer admin.Close()

	sendAsSent(url, sampleStatus("m-1"))
	for _, path := range []string{"/healthz", "/ui/"} {
		resp, err := http.Get(admin.URL + path)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println("GET", path+":", resp.Status)
	}
	// Output:
	// GET /healthz: 200 OK
	// GET /ui/: 200 OK
}

// An app that keeps each message's status drops a stale update with one
// if: Sent may retry a message's SENT after its READ has arrived, and
// applying it would move the message back. Here SENT arrives second; the
// handler keeps READ.
func ExampleEvent_Stale() {
	dir, _ := os.MkdirTemp("", "hooklatch-example")
	defer os.RemoveAll(dir)
	var (
		mu     sync.Mutex
		status = map[string]string{} // the app's own table: message id → status
		lines  []string
	)
	relay, err := hooklatch.New(hooklatch.Config{
		Secrets: []string{secret},
		Store:   filepath.Join(dir, "hooklatch.db"),
		Logger:  slog.New(slog.DiscardHandler),
		Handlers: []hooklatch.Route{{
			Name: "statuses",
			Handler: hooklatch.OnMessage(func(ctx context.Context, ev *hooklatch.Event, m *event.MessageStatus) error {
				mu.Lock()
				defer mu.Unlock()
				if ev.Stale() {
					lines = append(lines, fmt.Sprintf("dropped %s: message %s is already %s", m.MessageStatus, m.MessageID, ev.Latest()))
					return nil
				}
				status[m.MessageID] = m.MessageStatus
				lines = append(lines, fmt.Sprintf("applied %s", m.MessageStatus))
				return nil
			}),
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	url, stop := serve(relay)
	defer stop()

	for _, typ := range []string{"message.read", "message.sent"} { // READ, then a late SENT
		body, _ := event.Sample(typ, event.SampleOptions{})
		body, _ = event.Set(body, "payload.message_id", "m-1")
		fmt.Println(typ, "answered", sendAsSent(url, body))
	}
	for done := false; !done; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		done = len(lines) == 2
		mu.Unlock()
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lines)
	fmt.Println(strings.Join(lines, "\n"))
	fmt.Println("message m-1 is", status["m-1"])
	// Output:
	// message.read answered 200
	// message.sent answered 200
	// applied READ
	// dropped SENT: message m-1 is already READ
	// message m-1 is READ
}
