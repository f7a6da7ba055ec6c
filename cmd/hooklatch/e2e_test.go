package main_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/sqlite"
)

// binary is the hooklatch binary built once for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hooklatch-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "hooklatch")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building hooklatch:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func newSecret(t *testing.T) (string, signature.Secret) {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	raw := "whsec_" + base64.StdEncoding.EncodeToString(key)
	s, err := signature.ParseSecret(raw)
	if err != nil {
		t.Fatal(err)
	}
	return raw, s
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// freeAddrs returns n loopback addresses free now and distinct from each
// other: each is held until all are chosen, so that the system cannot
// hand one port out twice, as successive freeAddr calls may.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		addrs[i] = ln.Addr().String()
	}
	return addrs
}

// serve starts `hooklatch serve` and waits until it answers /healthz.
func serve(t *testing.T, secret, storePath, addr string, extra ...string) *exec.Cmd {
	t.Helper()
	cmd, logs := startServe(t, secret, storePath, addr, extra...)
	if err := waitHealthy(cmd, addr, "/healthz", 15*time.Second); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("%v\n%s", err, logs.String())
	}
	return cmd
}

// startServe starts `hooklatch serve` without waiting for it; its output
// goes to logs, to be read once it has exited.
func startServe(t *testing.T, secret, storePath, addr string, extra ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	args := append([]string{"serve", "--addr", addr, "--store", storePath, "--admin-addr", "off", "--log-format", "json", "--log-level", "warn"}, extra...)
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "SENT_WEBHOOK_SECRET="+secret)
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A test that stops early (t.Fatal) leaves no serve running; after a
	// serve that already exited, Kill only reports so.
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, logs
}

// waitHealthy polls path on addr until it answers 200, for at most wait.
func waitHealthy(cmd *exec.Cmd, addr, path string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		resp, err := http.Get("http://" + addr + path)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s answered %d", path, resp.StatusCode)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("hooklatch serve (pid %d) did not answer %s within %v: %v", cmd.Process.Pid, path, wait, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type ack struct {
	EventID   string `json:"event_id"`
	Duplicate bool   `json:"duplicate"`
}

// post sends one signed event with the given event id; ok is false when no
// 2xx answer came back (the server may have died mid-request).
func post(client *http.Client, url string, secret signature.Secret, eventID string) (ack, bool) {
	body := fmt.Appendf(nil, `{"field":"message","sub_type":"message.delivered","timestamp":"2025-10-31T10:10:42Z","payload":{"message_id":%q,"message_status":"DELIVERED","channel":"sms"}}`, eventID)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return ack{}, false
	}
	for k, v := range signature.Sign(signature.V1, secret, body, signature.SignOptions{}) {
		req.Header[k] = v
	}
	req.Header.Set(signature.HeaderEventID, eventID)
	resp, err := client.Do(req)
	if err != nil {
		return ack{}, false
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode/100 != 2 {
		return ack{}, false
	}
	var a ack
	if json.Unmarshal(raw, &a) != nil || a.EventID == "" {
		return ack{}, false
	}
	return a, true
}

func randomDuration(lo, hi time.Duration) time.Duration {
	n, _ := rand.Int(rand.Reader, big.NewInt(int64(hi-lo)))
	return lo + time.Duration(n.Int64())
}

// Every event answered 2xx survives SIGKILL at a random moment under
// concurrent load, and is stored exactly once: re-sending it after the
// restart is acknowledged as a duplicate of the same event.
func TestKillNineLosesNoAcknowledgedEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the built binary through repeated crashes")
	}
	storePath := filepath.Join(t.TempDir(), "hooklatch.db")
	testKillNine(t, storePath, func(ctx context.Context) (store.Store, error) { return sqlite.Open(ctx, storePath, sqlite.Options{}) })
}

// testKillNine is TestKillNineLosesNoAcknowledgedEvent on the store at
// storePath, which open opens.
func testKillNine(t *testing.T, storePath string, open func(context.Context) (store.Store, error)) {
	rawSecret, secret := newSecret(t)
	addr := freeAddr(t)
	url := "http://" + addr + "/webhooks/sent"

	const rounds, clients = 12, 16
	acked := map[string]string{} // event id header → stored event id
	var totalAcked, totalUnanswered int
	var seq atomic.Int64

	for round := range rounds {
		cmd := serve(t, rawSecret, storePath, addr)

		// Events acknowledged in earlier rounds, sent again: each must be a
		// duplicate of the event stored the first time.
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
		for key, id := range acked {
			a, ok := post(client, url, secret, key)
			if !ok {
				t.Fatalf("round %d: re-sending %s got no 2xx", round, key)
			}
			if !a.Duplicate || a.EventID != id {
				t.Fatalf("round %d: re-sent %s answered %+v, want duplicate of %s", round, key, a, id)
			}
			break // one per round is enough: the final check covers all
		}

		var (
			mu         sync.Mutex
			roundAcked = map[string]string{}
			unanswered int
			wg         sync.WaitGroup
			stop       = make(chan struct{})
		)
		for range clients {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					key := fmt.Sprintf("evt-%d", seq.Add(1))
					a, ok := post(client, url, secret, key)
					mu.Lock()
					if ok {
						roundAcked[key] = a.EventID
					} else {
						unanswered++
					}
					mu.Unlock()
				}
			})
		}
		time.Sleep(randomDuration(150*time.Millisecond, 600*time.Millisecond))
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		close(stop)
		wg.Wait()
		client.CloseIdleConnections()

		for k, v := range roundAcked {
			acked[k] = v
		}
		totalAcked += len(roundAcked)
		totalUnanswered += unanswered
		t.Logf("round %d: %d acknowledged, %d unanswered when killed", round, len(roundAcked), unanswered)
	}
	if totalAcked < rounds*10 {
		t.Fatalf("only %d events acknowledged over %d rounds: the load did not run", totalAcked, rounds)
	}

	ctx := context.Background()
	st, err := open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	perKey := map[string]int{}
	var after int64
	for {
		evs, err := st.ListEvents(ctx, store.EventFilter{AfterSeq: after, Limit: 5000})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		for _, ev := range evs {
			perKey[ev.Headers["x-webhook-event-id"]]++
			after = ev.Seq
		}
	}
	for key, id := range acked {
		if perKey[key] != 1 {
			t.Errorf("acknowledged event %s is stored %d times", key, perKey[key])
			continue
		}
		if _, err := st.GetEvent(ctx, id); err != nil {
			t.Errorf("acknowledged event %s (id %s): %v", key, id, err)
		}
	}
	t.Logf("%d acknowledged events over %d SIGKILLs, all stored exactly once; %d requests unanswered at the kills (%d events stored in all)",
		totalAcked, rounds, totalUnanswered, len(perKey))
}

// SIGTERM drains: requests in flight are answered, everything answered 2xx
// is stored, and the process exits 0.
func TestSIGTERMDrains(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the built binary")
	}
	rawSecret, secret := newSecret(t)
	storePath := filepath.Join(t.TempDir(), "hooklatch.db")
	addr := freeAddr(t)
	cmd := serve(t, rawSecret, storePath, addr)

	client := &http.Client{Timeout: 5 * time.Second}
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
		seq   atomic.Int64
		stop  = make(chan struct{})
	)
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("term-%d", seq.Add(1))
				if a, ok := post(client, "http://"+addr+"/webhooks/sent", secret, key); ok {
					mu.Lock()
					acked = append(acked, a.EventID)
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("hooklatch serve exited with %v after SIGTERM", err)
	}

	st, err := sqlite.Open(context.Background(), storePath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, id := range acked {
		if _, err := st.GetEvent(context.Background(), id); err != nil {
			t.Fatalf("event %s answered 2xx before shutdown is missing: %v", id, err)
		}
	}
	if len(acked) == 0 {
		t.Fatal("no event was acknowledged before SIGTERM")
	}
}

// app is a real HTTP destination whose answers the test scripts.
type app struct {
	mu       sync.Mutex
	received map[string]int // event id → requests
	answer   func(eventID string, n int) int
	arrived  chan string
}

func newApp(t *testing.T, answer func(eventID string, n int) int) (*app, string) {
	a := &app{received: map[string]int{}, answer: answer, arrived: make(chan string, 100)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("Hooklatch-Event-Id")
		a.mu.Lock()
		a.received[id]++
		n := a.received[id]
		a.mu.Unlock()
		a.arrived <- id
		w.WriteHeader(a.answer(id, n))
	}))
	t.Cleanup(srv.Close)
	return a, srv.URL
}

func (a *app) count(id string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.received[id]
}

func run(t *testing.T, vars []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), vars...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("hooklatch %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func deliveryStatus(t *testing.T, storePath, eventID string) store.DeliveryStatus {
	t.Helper()
	st, err := sqlite.Open(context.Background(), storePath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ds, err := st.ListDeliveries(context.Background(), store.DeliveryFilter{EventID: eventID})
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries of %s: %v %v", eventID, ds, err)
	}
	return ds[0].Status
}

// Forwarding to a real app: 500s are retried until it succeeds, a 400 is
// dead at once, and a dead delivery retried by the operator is delivered.
func TestForwardRetriesAndDeadLetters(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the built binary")
	}
	rawSecret, secret := newSecret(t)
	var accepting atomic.Bool
	var flaky, refused string
	var ids sync.Mutex
	a, appURL := newApp(t, func(id string, n int) int {
		ids.Lock()
		defer ids.Unlock()
		switch {
		case id == flaky && n <= 2:
			return http.StatusInternalServerError
		case id == refused && !accepting.Load():
			return http.StatusBadRequest
		}
		return http.StatusOK
	})
	storePath := filepath.Join(t.TempDir(), "hooklatch.db")
	addr := freeAddr(t)
	cmd := serve(t, rawSecret, storePath, addr, "--forward-to", appURL, "--forward-timeout", "2s")
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()

	client := &http.Client{Timeout: 5 * time.Second}
	url := "http://" + addr + "/webhooks/sent"
	ids.Lock()
	f, ok1 := post(client, url, secret, "flaky-1")
	r, ok2 := post(client, url, secret, "refused-1")
	flaky, refused = f.EventID, r.EventID
	ids.Unlock()
	if !ok1 || !ok2 {
		t.Fatal("events not acknowledged")
	}

	waitFor(t, "the flaky delivery to succeed", func() bool { return deliveryStatus(t, storePath, f.EventID) == "succeeded" })
	if n := a.count(f.EventID); n != 3 {
		t.Errorf("the flaky app saw the event %d times, want 3 (500, 500, 200)", n)
	}
	waitFor(t, "the refused delivery to be dead", func() bool { return deliveryStatus(t, storePath, r.EventID) == "dead" })
	if n := a.count(r.EventID); n != 1 {
		t.Errorf("a 400 was retried: %d requests", n)
	}
	show := run(t, nil, "events", "show", r.EventID, "--store", storePath)
	if !strings.Contains(show, "dead, 1 attempt\n") || !strings.Contains(show, "permanent") || !strings.Contains(show, "400") {
		t.Errorf("events show:\n%s", show)
	}

	accepting.Store(true)
	out := run(t, nil, "events", "retry", "--dead", "--store", storePath)
	if !strings.Contains(out, "1 delivery requeued") {
		t.Errorf("events retry: %s", out)
	}
	waitFor(t, "the retried delivery to succeed", func() bool { return deliveryStatus(t, storePath, r.EventID) == "succeeded" })
}

// SIGKILL while a delivery is in flight: the restarted serve owns the
// store, so it releases the killed one's lease at once and the event is
// delivered again (at least once) without waiting for the lease to end.
func TestKillDuringDeliveryRedelivers(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the built binary")
	}
	rawSecret, secret := newSecret(t)
	hang := make(chan struct{})
	var first atomic.Bool
	a, appURL := newApp(t, func(id string, n int) int {
		if first.CompareAndSwap(false, true) {
			<-hang // the first attempt never gets an answer before the kill
		}
		return http.StatusOK
	})
	defer close(hang)
	storePath := filepath.Join(t.TempDir(), "hooklatch.db")
	addr := freeAddr(t)
	args := []string{"--forward-to", appURL, "--forward-timeout", "30s", "--lease", "10m"}
	cmd := serve(t, rawSecret, storePath, addr, args...)
	ack, ok := post(&http.Client{Timeout: 5 * time.Second}, "http://"+addr+"/webhooks/sent", secret, "kill-during-delivery")
	if !ok {
		t.Fatal("not acknowledged")
	}
	<-a.arrived // the first attempt is in flight
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	cmd = serve(t, rawSecret, storePath, addr, args...)
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	waitFor(t, "redelivery", func() bool { return deliveryStatus(t, storePath, ack.EventID) == "succeeded" })
	if n := a.count(ack.EventID); n != 2 {
		t.Errorf("the app saw the event %d times, want 2", n)
	}
	show := run(t, nil, "events", "show", ack.EventID, "--store", storePath)
	if !strings.Contains(show, "lease_expired") || !strings.Contains(show, "succeeded") {
		t.Errorf("events show:\n%s", show)
	}
}

// A second serve on a store another one is using refuses to start, and
// names the process that holds it.
func TestSecondServeRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the built binary")
	}
	raw, _ := newSecret(t)
	storePath := filepath.Join(t.TempDir(), "hooklatch.db")
	first := serve(t, raw, storePath, freeAddr(t))
	defer func() { first.Process.Signal(syscall.SIGTERM); first.Wait() }()

	addr := freeAddr(t)
	second := exec.Command(binary, "serve", "--addr", addr, "--store", storePath, "--admin-addr", "off")
	second.Env = append(os.Environ(), "SENT_WEBHOOK_SECRET="+raw)
	var out bytes.Buffer
	second.Stdout, second.Stderr = &out, &out
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- second.Wait() }()
	var err error
	waitFor(t, "the second serve to exit or answer", func() bool {
		select {
		case err = <-exited:
			return true
		default:
		}
		if resp, herr := http.Get("http://" + addr + "/healthz"); herr == nil {
			resp.Body.Close()
			second.Process.Kill()
			<-exited
			t.Fatalf("a second serve started on %s beside pid %d", storePath, first.Process.Pid)
		}
		return false
	})
	want := fmt.Sprintf("store %s is in use by another hooklatch (pid %d)", storePath, first.Process.Pid)
	if err == nil || !strings.Contains(out.String(), want) {
		t.Fatalf("second serve: %v, output:\n%s\nwant it to fail saying %q", err, out.String(), want)
	}
}

// The developer tools, as built binaries against a running serve: check
// grades it as a correct handler, and send's chaos lands as it should.
func TestDeveloperToolsAgainstServe(t *testing.T) {
	raw, _ := newSecret(t)
	addr := freeAddr(t)
	storePath := filepath.Join(t.TempDir(), "events.db")
	srv := serve(t, raw, storePath, addr)
	defer func() { srv.Process.Kill(); srv.Wait() }()
	url := "http://" + addr + "/webhooks/sent"
	vars := []string{"SENT_WEBHOOK_SECRET=" + raw}

	junit := filepath.Join(t.TempDir(), "check.xml")
	out := run(t, vars, "check", url, "--junit", junit, "--burst", "20")
	if strings.Contains(out, "FAIL") {
		t.Errorf("check found faults in serve:\n%s", out)
	}
	if report, err := os.ReadFile(junit); err != nil || !bytes.Contains(report, []byte("<testsuite")) {
		t.Errorf("JUnit report: %v\n%s", err, report)
	}

	out = run(t, vars, "send", "--lifecycle", "QUEUED,SENT,DELIVERED,READ", "--shuffle", "--duplicates", "1", "--tamper", "--to", url)
	if !strings.Contains(out, "8 deliveries: 8 delivered; 4 of 4 forged requests rejected with a 4xx") {
		t.Errorf("send:\n%s", out)
	}
}

// SIGKILL in the middle of dispatching a backlog: the restarted serve
// delivers every event, and delivers again only the ones that were in
// flight at the kill (at most the dispatcher's window of 256), not the
// ones whose first attempt was recorded before it.
func TestKillMidWindowRedeliversAtMostTheWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the built binary")
	}
	const (
		events = 2000
		window = 256 // the dispatcher's default bound on attempts in flight
	)
	rawSecret, secret := newSecret(t)
	var (
		mu       sync.Mutex
		received = map[string]int{}
		total    atomic.Int64
	)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("Hooklatch-Event-Id")
		mu.Lock()
		received[id]++
		mu.Unlock()
		total.Add(1)
		time.Sleep(20 * time.Millisecond) // dispatch falls behind: a backlog, a window in flight
	}))
	defer app.Close()
	storePath := filepath.Join(t.TempDir(), "hooklatch.db")
	addr := freeAddr(t)
	url := "http://" + addr + "/webhooks/sent"

	cmd := serve(t, rawSecret, storePath, addr, "--forward-to", app.URL)
	client := &http.Client{Timeout: 10 * time.Second}
	acked := make(chan string, events)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < events; i += 16 {
				a, ok := post(client, url, secret, fmt.Sprintf("window-%d", i))
				if !ok {
					t.Errorf("event %d not acknowledged", i)
					return
				}
				acked <- a.EventID
			}
		})
	}
	wg.Wait()
	close(acked)
	waitFor(t, "dispatch to be under way", func() bool { return total.Load() >= events/3 })
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	before := total.Load()

	cmd = serve(t, rawSecret, storePath, addr, "--forward-to", app.URL)
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	waitFor(t, "every event delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(received) >= events
	})
	var ids []string
	for id := range acked {
		ids = append(ids, id)
	}
	if len(ids) != events {
		t.Fatalf("%d events acknowledged, want %d", len(ids), events)
	}
	mu.Lock()
	again := 0
	for _, n := range received {
		again += n - 1
	}
	mu.Unlock()
	t.Logf("%d deliveries before the kill, %d events delivered twice", before, again)
	if again > window {
		t.Errorf("%d events delivered twice after the kill: more than one window (%d)", again, window)
	}
	waitFor(t, "every delivery recorded as succeeded", func() bool {
		st, err := sqlite.Open(context.Background(), storePath, sqlite.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		s, err := st.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return s.Deliveries[store.DeliverySucceeded] == events
	})
}

// A destination added later receives the events stored before it once
// told where to start: `events backfill` gives them deliveries, and the
// running serve delivers them; events it already has are left alone.
func TestBackfillDeliversEventsStoredBeforeADestination(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the built binary")
	}
	rawSecret, secret := newSecret(t)
	storePath := filepath.Join(t.TempDir(), "hooklatch.db")
	addr := freeAddr(t)
	url := "http://" + addr + "/webhooks/sent"
	client := &http.Client{Timeout: 5 * time.Second}

	cmd := serve(t, rawSecret, storePath, addr) // the log destination only
	for i := range 3 {
		if _, ok := post(client, url, secret, fmt.Sprint("before-", i)); !ok {
			t.Fatal("not acknowledged")
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()

	var (
		mu   sync.Mutex
		seen = map[string]int{}
	)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Header.Get("Hooklatch-Event-Id")]++
		mu.Unlock()
	}))
	defer app.Close()
	seenCount := func() int { mu.Lock(); defer mu.Unlock(); return len(seen) }
	cmd = serve(t, rawSecret, storePath, addr, "--forward-to", app.URL)
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	if _, ok := post(client, url, secret, "after"); !ok {
		t.Fatal("not acknowledged")
	}
	waitFor(t, "the new event forwarded", func() bool { return seenCount() == 1 })
	time.Sleep(200 * time.Millisecond)
	if n := seenCount(); n != 1 {
		t.Fatalf("the app saw %d events before the backfill, want only the new one", n)
	}

	out := run(t, nil, "events", "backfill", "--to", "forward", "--all", "--store", storePath)
	if !strings.Contains(out, "3 deliveries to forward created") {
		t.Fatalf("backfill: %s", out)
	}
	waitFor(t, "the old events forwarded", func() bool { return seenCount() == 4 })
	if out := run(t, nil, "events", "backfill", "--to", "forward", "--all", "--store", storePath); !strings.Contains(out, "0 deliveries to forward created") {
		t.Errorf("second backfill: %s", out)
	}
	bad := exec.Command(binary, "events", "backfill", "--to", "nowhere", "--all", "--store", storePath)
	if out, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(out), `no destination named "nowhere": the serving process delivers to forward`) {
		t.Errorf("backfill to an unknown destination: %v\n%s", err, out)
	}
	mu.Lock()
	defer mu.Unlock()
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s forwarded %d times", id, n)
		}
	}
}
