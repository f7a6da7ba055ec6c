package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/receiver"
	"github.com/hooklatch/hooklatch/internal/server"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/postgres/pgtest"
)

// startOn starts a server on the store at location, with cfg's routes.
func startOn(t *testing.T, location string, cfg server.Config) *server.Server {
	t.Helper()
	cfg.Addr, cfg.AdminAddr, cfg.Store = "127.0.0.1:0", "127.0.0.1:0", location
	cfg.Secrets, cfg.Logger = testSecrets(t), slog.New(slog.DiscardHandler)
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown() })
	return srv
}

// postEvent sends one signed event, new by its message id, and returns the
// answer's status, Retry-After and event id.
func postEvent(client *http.Client, srv *server.Server, secret signature.Secret, messageID string) (status int, retryAfter, eventID string, err error) {
	body := fmt.Appendf(nil, `{"field":"message","sub_type":"message.delivered","timestamp":"2025-10-31T10:10:42Z","payload":{"message_id":%q,"message_status":"DELIVERED","channel":"sms"}}`, messageID)
	req, err := http.NewRequest(http.MethodPost, srv.URL(), bytes.NewReader(body))
	if err != nil {
		return 0, "", "", err
	}
	for k, v := range signature.Sign(signature.V1, secret, body, signature.SignOptions{}) {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Hooklatch-Event-Id"), nil
}

// cuttable is a TCP proxy to the PostgreSQL server that a test can cut:
// every connection through it is dropped and new ones are refused until
// it is restored. The database goes away as far as its clients can tell.
// It can also swallow: every byte is read and none forwarded, and new
// connections are taken and never answered, as when a network partition
// drops packets instead of refusing them.
type cuttable struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	cut     bool
	swallow bool
	conns   map[net.Conn]bool
	wg      sync.WaitGroup
}

func newCuttable(t *testing.T, target string) *cuttable {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttable{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.wg.Go(p.accept)
	t.Cleanup(func() { ln.Close(); p.setCut(true); p.wg.Wait() })
	return p
}

func (p *cuttable) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		if p.swallow {
			p.conns[c] = true
			p.mu.Unlock()
			p.wg.Go(func() { io.Copy(io.Discard, c) })
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		p.wg.Go(func() { p.pump(up, c); up.Close() })
		p.wg.Go(func() { p.pump(c, up); c.Close() })
	}
}

// pump copies src to dst, but for what arrives while the proxy swallows.
func (p *cuttable) pump(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		p.mu.Lock()
		swallow := p.swallow
		p.mu.Unlock()
		if n > 0 && !swallow {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// setSwallow makes the proxy swallow every byte (true), or forward them
// again (false).
func (p *cuttable) setSwallow(swallow bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.swallow = swallow
}

// setCut drops every connection and refuses new ones (true), or lets them
// through again (false).
func (p *cuttable) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}

// startBehindProxy starts a store-only server on a schema of the test's
// own, reaching PostgreSQL through a proxy the test can cut.
func startBehindProxy(t *testing.T) (*server.Server, *cuttable) {
	t.Helper()
	u, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCuttable(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	return startOn(t, u.String(), server.Config{StoreOnly: true}), proxy
}

// While PostgreSQL cannot be reached, webhooks are answered 503 with
// Retry-After (Sent tries again) and /readyz says the store cannot take
// writes; once it is back, both recover without a restart.
func TestPostgresUnreachableAnswers503AndRecovers(t *testing.T) {
	t.Parallel()
	srv, proxy := startBehindProxy(t)
	secret := testSecrets(t)[0]
	client := &http.Client{Timeout: 30 * time.Second}
	ready := "http://" + srv.AdminAddr() + "/readyz"

	var acked []string
	mustAccept := func(id string) {
		t.Helper()
		// As Sent does: retry what was not acknowledged.
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			status, _, eventID, err := postEvent(client, srv, secret, id)
			if err == nil && status == http.StatusOK {
				acked = append(acked, eventID)
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("event %s never accepted: %d %v", id, status, err)
			}
		}
	}
	mustAccept("before")
	if code, body := get(t, ready); code != http.StatusOK {
		t.Fatalf("/readyz before the cut = %d %s", code, body)
	}

	proxy.setCut(true)
	status, retryAfter, _, err := postEvent(client, srv, secret, "during")
	if err != nil || status != http.StatusServiceUnavailable || retryAfter == "" {
		t.Errorf("webhook while the database is unreachable = %d (Retry-After %q), %v; want 503 with Retry-After", status, retryAfter, err)
	}
	waitUntil(t, "/readyz to say the store cannot take writes", func() bool {
		code, _ := get(t, ready)
		return code == http.StatusServiceUnavailable
	})

	proxy.setCut(false)
	mustAccept("during")
	mustAccept("after")
	waitUntil(t, "/readyz to recover", func() bool {
		code, _ := get(t, ready)
		return code == http.StatusOK
	})
	for _, id := range acked {
		if _, err := srv.Store().GetEvent(context.Background(), id); err != nil {
			t.Errorf("acknowledged event %s: %v", id, err)
		}
	}
}

// While PostgreSQL swallows every packet (a partition: nothing refused,
// nothing answered), every webhook is answered 503 with Retry-After
// within the answer bound, inside Sent's 5s; once the network is back,
// the retries are accepted.
func TestPostgresPartitionAnsweredWithinTheBound(t *testing.T) {
	t.Parallel()
	srv, proxy := startBehindProxy(t)
	secret := testSecrets(t)[0]
	client := &http.Client{Timeout: 60 * time.Second}
	if status, _, _, err := postEvent(client, srv, secret, "before"); err != nil || status != http.StatusOK {
		t.Fatalf("webhook before the partition = %d, %v", status, err)
	}

	proxy.setSwallow(true)
	const n = 8
	bound := receiver.DefaultAnswerWithin
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			start := time.Now()
			status, retryAfter, _, err := postEvent(client, srv, secret, fmt.Sprint("during-", i))
			took := time.Since(start)
			t.Logf("webhook %d during the partition answered %d after %v", i, status, took.Round(time.Millisecond))
			if err != nil || status != http.StatusServiceUnavailable || retryAfter == "" {
				t.Errorf("webhook %d during the partition = %d (Retry-After %q), %v; want 503 with Retry-After", i, status, retryAfter, err)
			}
			if took > bound+2*time.Second {
				t.Errorf("webhook %d answered after %v, want within the answer bound of %v", i, took, bound)
			}
		})
	}
	wg.Wait()

	// The network comes back; what was sent on the swallowed
	// connections is lost with them.
	proxy.setCut(true)
	proxy.setSwallow(false)
	proxy.setCut(false)
	for i := range n { // as Sent does: retry what was not acknowledged
		id := fmt.Sprint("during-", i)
		waitUntil(t, "webhook "+id+" accepted after the partition", func() bool {
			status, _, _, err := postEvent(client, srv, secret, id)
			return err == nil && status == http.StatusOK
		})
	}
}

// Sessions killed by pg_terminate_backend under concurrent load lose no
// acknowledged event: each one is stored once, and every one is delivered
// once the connections are back.
func TestPostgresConnectionsCutUnderLoad(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	server0 := pgtest.ServerURL(t)
	app := fmt.Sprintf("hooklatch-cut-%d", time.Now().UnixNano())
	u, err := url.Parse(pgtest.WithSchema(t, server0, pgtest.Schema(t)))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()

	var (
		mu        sync.Mutex
		delivered = map[string]int{}
	)
	record := destination.Func(func(_ context.Context, d *destination.Delivery) error {
		mu.Lock()
		delivered[d.Event.ID]++
		mu.Unlock()
		return nil
	})
	srv := startOn(t, u.String(), server.Config{
		Routes: []dispatch.Route{{Name: "app", Destination: record, Policy: dispatch.Policy{Timeout: time.Second}}},
		Lease:  2 * time.Second, // a completion lost with its session is retried soon
	})
	secret := testSecrets(t)[0]

	killer, err := pgx.Connect(ctx, server0)
	if err != nil {
		t.Fatal(err)
	}
	defer killer.Close(ctx)

	const senders, perSender = 8, 40
	var (
		wg          sync.WaitGroup
		ackMu       sync.Mutex
		acked       = map[string]bool{}
		unavailable atomic.Int64
		loadDone    = make(chan struct{})
	)
	for w := range senders {
		wg.Go(func() {
			client := &http.Client{Timeout: 30 * time.Second}
			for i := range perSender {
				id := fmt.Sprintf("cut-%d-%d", w, i)
				for try := 0; ; try++ {
					status, _, eventID, err := postEvent(client, srv, secret, id)
					if err == nil && status == http.StatusOK {
						ackMu.Lock()
						acked[eventID] = true
						ackMu.Unlock()
						break
					}
					if status == http.StatusServiceUnavailable {
						unavailable.Add(1)
					}
					if try == 200 {
						t.Errorf("event %s never accepted: %d %v", id, status, err)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	var killed int64
	go func() { wg.Wait(); close(loadDone) }()
kill:
	for round := 1; ; round++ {
		// Every 30 ms, with a quiet 300 ms after every eighth cut: on a
		// loaded machine an append can take longer than 30 ms, and a cut
		// that always comes first would refuse every try, which proves
		// nothing about what was acknowledged.
		pause := 30 * time.Millisecond
		if round%8 == 0 {
			pause = 300 * time.Millisecond
		}
		select {
		case <-loadDone:
			break kill
		case <-time.After(pause):
		}
		var n int64
		err := killer.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1) k`, app).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		killed += n
	}
	if killed == 0 {
		t.Fatal("no session was terminated: the test cut nothing")
	}
	t.Logf("%d sessions terminated, %d answers 503, %d events acknowledged", killed, unavailable.Load(), len(acked))

	st := srv.Store()
	for id := range acked {
		// The pool may still hold a connection terminated in the last
		// moment: its first use fails, and a read tried again gets a new
		// one. What matters is that the event is there.
		var err error
		for range 3 {
			if _, err = st.GetEvent(ctx, id); err == nil {
				break
			}
		}
		if err != nil {
			t.Errorf("acknowledged event %s: %v", id, err)
		}
	}
	stats, err := st.Stats(ctx)
	if err != nil {
		stats, err = st.Stats(ctx) // as above: a terminated connection's last use
	}
	if err != nil {
		t.Fatal(err)
	}
	if stats.Events != int64(len(acked)) || len(acked) != senders*perSender {
		t.Errorf("%d events stored, %d acknowledged, %d sent: want each sent event stored once", stats.Events, len(acked), senders*perSender)
	}
	waitUntil(t, "every acknowledged event to be delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for id := range acked {
			if delivered[id] == 0 {
				return false
			}
		}
		return true
	})
	waitUntil(t, "every delivery to be recorded as succeeded", func() bool {
		stats, err := st.Stats(ctx)
		return err == nil && stats.Deliveries[store.DeliverySucceeded] == int64(len(acked))
	})
}

// waitUntil polls cond for up to 90s: under the race detector on a
// loaded CI machine the connection-cut test once needed more than 30s to
// record its last completions after the cuts ended.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// A server on PostgreSQL prunes by its retention, and shows it in metrics.
func TestPostgresRetentionInMetrics(t *testing.T) {
	t.Parallel()
	srv := startOn(t, pgtest.URL(t), server.Config{StoreOnly: true, Retention: 48 * time.Hour})
	waitUntil(t, "the retention metrics", func() bool {
		_, body := get(t, "http://"+srv.AdminAddr()+"/metrics")
		return strings.Contains(body, `hooklatch_retention_pruned_total{what="events"} 0`) &&
			strings.Contains(body, "hooklatch_oldest_event_age_seconds 0")
	})
}

// When the database turns read-only (a failover to a standby, an operator
// setting default_transaction_read_only), webhooks are answered 503 and
// /readyz says the store cannot take writes; once it takes writes again,
// both recover without a restart. The test turns read-only only a role of
// its own, so that no other session on the server is touched.
func TestPostgresReadOnlyAnswers503AndRecovers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	server0 := pgtest.ServerURL(t)
	admin, err := pgx.Connect(ctx, server0)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	role := fmt.Sprintf("hooklatch_test_ro_%d", time.Now().UnixNano())
	ident := pgx.Identifier{role}.Sanitize()
	if _, err := admin.Exec(ctx, "CREATE ROLE "+ident+" LOGIN SUPERUSER"); err != nil {
		t.Fatal(err)
	}
	kick := func() {
		t.Helper()
		if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, role); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { // after the schema is dropped: the role owns it
		c, err := pgx.Connect(ctx, server0)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close(ctx)
		c.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, role)
		if _, err := c.Exec(ctx, "DROP ROLE "+ident); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	u, err := url.Parse(pgtest.WithSchema(t, server0, pgtest.Schema(t)))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	srv := startOn(t, u.String(), server.Config{StoreOnly: true})
	secret := testSecrets(t)[0]
	client := &http.Client{Timeout: 30 * time.Second}
	ready := "http://" + srv.AdminAddr() + "/readyz"

	answered := func(id string, want int) func() bool {
		return func() bool {
			status, retryAfter, _, err := postEvent(client, srv, secret, id)
			return err == nil && status == want && (want != http.StatusServiceUnavailable || retryAfter != "")
		}
	}
	readyIs := func(want int) func() bool {
		return func() bool { code, _ := get(t, ready); return code == want }
	}
	waitUntil(t, "a webhook accepted", answered("before", http.StatusOK))

	if _, err := admin.Exec(ctx, "ALTER ROLE "+ident+" SET default_transaction_read_only = on"); err != nil {
		t.Fatal(err)
	}
	kick() // its sessions come back read-only
	waitUntil(t, "503 with Retry-After while the database is read-only", answered("during", http.StatusServiceUnavailable))
	waitUntil(t, "/readyz to say the store cannot take writes", readyIs(http.StatusServiceUnavailable))

	if _, err := admin.Exec(ctx, "ALTER ROLE "+ident+" RESET default_transaction_read_only"); err != nil {
		t.Fatal(err)
	}
	kick()
	waitUntil(t, "the webhook refused before to be accepted", answered("during", http.StatusOK))
	waitUntil(t, "/readyz to recover", readyIs(http.StatusOK))
}
