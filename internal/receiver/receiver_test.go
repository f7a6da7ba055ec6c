package receiver_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/hooklatch/hooklatch/internal/receiver"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/postgres"
	"github.com/hooklatch/hooklatch/store/postgres/pgtest"
	"github.com/hooklatch/hooklatch/store/sqlite"
)

const (
	v1Secret     = "whsec_c2VudC1maXh0dXJlLXNpZ25pbmcta2V5LTAxMjM0NTY="
	legacySecret = "fixture-legacy-secret"
)

// now is the test vectors' timestamp, 2025-10-31T10:10:42Z.
var now = time.Unix(1761905442, 0).UTC()

type fixture struct {
	rcv     *receiver.Receiver
	store   store.Store
	metrics *receiver.Metrics
	secrets []signature.Secret
}

type options struct {
	maxBody   int64
	budget    int64
	limits    store.RejectionLimits
	storeOpts sqlite.Options // SQLite only
	logger    *slog.Logger
	nowFunc   func() time.Time // the receiver's clock; the verifier's stays at now
	slowAfter time.Duration
	minRate   int64
	grace     time.Duration
	observe   func(receiver.Observation)
	endpoints []receiver.Endpoint
}

// backend is a store the receiver is tested on.
type backend struct {
	name string
	open func(t *testing.T, o options) (store.Store, error)
}

var (
	onSQLite = backend{"sqlite", func(t *testing.T, o options) (store.Store, error) {
		return sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hooklatch.db"), o.storeOpts)
	}}
	// onPostgres opens a schema of the test's own on HOOKLATCH_TEST_POSTGRES
	// (skipped without it, failed with HOOKLATCH_REQUIRE_SERVICES=1).
	onPostgres = backend{"postgres", func(t *testing.T, o options) (store.Store, error) {
		return postgres.Open(context.Background(), pgtest.URL(t), postgres.Options{})
	}}
)

// onEach runs test as a parallel subtest on every backend.
func onEach(t *testing.T, test func(t *testing.T, b backend)) {
	t.Helper()
	for _, b := range []backend{onSQLite, onPostgres} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			test(t, b)
		})
	}
}

// setup is a receiver on a fresh SQLite store.
func setup(t *testing.T, o options) *fixture {
	t.Helper()
	return onSQLite.setup(t, o)
}

// setup is a receiver on a fresh store of b.
func (b backend) setup(t *testing.T, o options) *fixture {
	t.Helper()
	st, err := b.open(t, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	secrets, err := signature.ParseSecrets(v1Secret + "," + legacySecret)
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return now }
	v, err := signature.NewVerifier(signature.Config{Secrets: secrets, NowFunc: clock})
	if err != nil {
		t.Fatal(err)
	}
	m := receiver.NewMetrics(nil)
	if o.nowFunc == nil {
		o.nowFunc = clock
	}
	rcv, err := receiver.New(receiver.Config{
		Store: st, Verifier: v, Secrets: secrets, NowFunc: o.nowFunc, Logger: o.logger, Observe: o.observe,
		MaxBodyBytes: o.maxBody, MemoryBudgetBytes: o.budget, RejectionLimits: o.limits, Metrics: m,
		SlowBodyAfter: o.slowAfter, MinBodyRate: o.minRate, BodyGrace: o.grace, Endpoints: o.endpoints,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rcv.Close() })
	return &fixture{rcv: rcv, store: st, metrics: m, secrets: secrets}
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "sent", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signed returns a request for body signed with the fixture secret of scheme.
func (f *fixture) signed(scheme signature.Scheme, body []byte) *http.Request {
	secret := f.secrets[0]
	if scheme == signature.Legacy {
		secret = f.secrets[1]
	}
	req := httptest.NewRequest(http.MethodPost, "/webhooks/sent", bytes.NewReader(body))
	for k, v := range signature.Sign(scheme, secret, body, signature.SignOptions{WebhookID: "d4f5a6b7-c8d9-4e0f-a1b2-c3d4e5f6a7b8", Timestamp: now}) {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	return req
}

type answer struct {
	Status    string `json:"status"`
	EventID   string `json:"event_id"`
	Duplicate bool   `json:"duplicate"`
	Attention bool   `json:"attention"`
	Error     string `json:"error"`
	Reason    string `json:"reason"`
}

func (f *fixture) do(t *testing.T, req *http.Request) (int, answer, http.Header) {
	t.Helper()
	rec := httptest.NewRecorder()
	f.rcv.ServeHTTP(rec, req)
	var a answer
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		t.Fatalf("answer %d is not JSON: %q", rec.Code, rec.Body.String())
	}
	return rec.Code, a, rec.Header()
}

func TestAcceptsBothSchemes(t *testing.T) {
	t.Parallel()
	onEach(t, func(t *testing.T, b backend) {
		for _, c := range []struct {
			scheme  signature.Scheme
			fixture string
			typ     string
			subject string
		}{
			{signature.V1, "f1.json", "message.delivered", "8ba7b830-9dad-11d1-80b4-00c04fd430c8"},
			{signature.Legacy, "f8.json", "message.delivered", "8ba7b830-9dad-11d1-80b4-00c04fd430c8"},
			{signature.V1, "f6.json", "template.approved", "9ba7b840-9dad-11d1-80b4-00c04fd430c8"},
			{signature.V1, "f10.json", "contact.opt_out", "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b"},
		} {
			t.Run(string(c.scheme)+"/"+c.fixture, func(t *testing.T) {
				t.Parallel()
				f := b.setup(t, options{})
				body := readFixture(t, c.fixture)
				code, a, h := f.do(t, f.signed(c.scheme, body))
				if code != http.StatusOK || a.Status != "accepted" || a.Duplicate || a.Attention {
					t.Fatalf("answer = %d %+v", code, a)
				}
				if h.Get("Hooklatch-Event-Id") != a.EventID {
					t.Errorf("Hooklatch-Event-Id = %q, body says %q", h.Get("Hooklatch-Event-Id"), a.EventID)
				}
				ev, err := f.store.GetEvent(context.Background(), a.EventID)
				if err != nil {
					t.Fatalf("acknowledged event not in the store: %v", err)
				}
				if !bytes.Equal(ev.Body, body) {
					t.Error("stored body differs from the posted bytes")
				}
				// The id ends with the body's hash, which the store finds
				// short ids through (store.NewEventID).
				if sum := sha256.Sum256(body); !strings.HasSuffix(ev.ID, fmt.Sprintf("%02x%02x%02x", sum[2], sum[1], sum[0])) {
					t.Errorf("event id %s does not end with its body's hash %x", ev.ID, sum[:3])
				}
				if ev.Type != c.typ || ev.Subject != c.subject || ev.Scheme != string(c.scheme) || !ev.ReceivedAt.Equal(now) {
					t.Errorf("stored event = type %q subject %q scheme %q received %v", ev.Type, ev.Subject, ev.Scheme, ev.ReceivedAt)
				}
				if c.scheme == signature.V1 && ev.Headers["x-webhook-id"] != "d4f5a6b7-c8d9-4e0f-a1b2-c3d4e5f6a7b8" {
					t.Errorf("kept headers = %v", ev.Headers)
				}
			})
		}
	})
}

func TestDuplicateIsAcknowledgedOnce(t *testing.T) {
	t.Parallel()
	onEach(t, func(t *testing.T, b backend) {
		f := b.setup(t, options{})
		body := readFixture(t, "f1.json")

		_, first, _ := f.do(t, f.signed(signature.V1, body))
		// Sent re-signs a retry with a fresh timestamp: still the same event.
		retry := f.signed(signature.V1, body)
		retry.Header.Set(signature.HeaderTimestamp, fmt.Sprint(now.Unix()-30))
		retry.Header.Set(signature.HeaderSignature, signature.SignV1(f.secrets[0].V1Key(), "d4f5a6b7-c8d9-4e0f-a1b2-c3d4e5f6a7b8", now.Unix()-30, body))
		code, again, h := f.do(t, retry)
		if code != http.StatusOK || !again.Duplicate || again.Status != "duplicate" || again.EventID != first.EventID {
			t.Fatalf("retry answer = %d %+v, want 200 duplicate of %s", code, again, first.EventID)
		}
		if h.Get("Hooklatch-Duplicate") != "true" {
			t.Error("duplicate answer lacks Hooklatch-Duplicate: true")
		}
		st, err := f.store.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Events != 1 || st.Duplicates != 1 {
			t.Errorf("stats = %+v, want 1 event and 1 duplicate", st)
		}
		if n := testutil.ToFloat64(f.metrics.Requests.WithLabelValues("sent", "duplicate")); n != 1 {
			t.Errorf("duplicate counter = %v, want 1", n)
		}

		// With X-Webhook-Event-Id, the header is the key: another body with the
		// same event id is the same event.
		a := f.signed(signature.V1, readFixture(t, "f3.json"))
		a.Header.Set(signature.HeaderEventID, "evt-42")
		_, ra, _ := f.do(t, a)
		second := f.signed(signature.V1, readFixture(t, "f2.json"))
		second.Header.Set(signature.HeaderEventID, "evt-42")
		_, rb, _ := f.do(t, second)
		if ra.Duplicate || !rb.Duplicate || ra.EventID != rb.EventID {
			t.Errorf("same X-Webhook-Event-Id: %+v then %+v", ra, rb)
		}
	})
}

// No signature covers X-Webhook-Event-Id: a captured request replayed with
// new values there is still the event it was, because its signed bytes
// were seen. Legacy requests carry no timestamp, so such a replay would
// otherwise work forever; v1 ones within the tolerance.
func TestReplayUnderANewEventIDIsADuplicate(t *testing.T) {
	t.Parallel()
	onEach(t, func(t *testing.T, b backend) {
		for _, scheme := range []signature.Scheme{signature.V1, signature.Legacy} {
			t.Run(string(scheme), func(t *testing.T) {
				t.Parallel()
				f := b.setup(t, options{})
				captured := f.signed(scheme, readFixture(t, "f4.json"))
				captured.Header.Set(signature.HeaderEventID, "evt-original")
				_, first, _ := f.do(t, captured)
				if first.Duplicate || first.EventID == "" {
					t.Fatalf("first delivery = %+v, want accepted", first)
				}
				for _, forged := range []string{"evt-forged-1", "evt-forged-2", ""} {
					replay := f.signed(scheme, readFixture(t, "f4.json"))
					replay.Header = captured.Header.Clone()
					if forged == "" {
						replay.Header.Del(signature.HeaderEventID) // falls back to the envelope id or the body hash
					} else {
						replay.Header.Set(signature.HeaderEventID, forged)
					}
					code, a, _ := f.do(t, replay)
					if code != http.StatusOK || !a.Duplicate || a.EventID != first.EventID {
						t.Fatalf("replay with event id %q = %d %+v, want 200 duplicate of %s", forged, code, a, first.EventID)
					}
				}
				st, err := f.store.Stats(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if st.Events != 1 || st.Duplicates != 3 {
					t.Errorf("stats = %+v, want 1 event and 3 duplicates", st)
				}
			})
		}
	})
}

func TestSignedButOddIsStoredForAttention(t *testing.T) {
	t.Parallel()
	onEach(t, func(t *testing.T, b backend) {
		for name, body := range map[string]string{
			"not json":     "this is not JSON",
			"no field":     `{"payload":{}}`,
			"unknown type": `{"field":"call","event":"call.ringing","timestamp":"2025-10-31T10:10:42Z","payload":{"call_id":"c1"}}`,
		} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				f := b.setup(t, options{})
				code, a, _ := f.do(t, f.signed(signature.V1, []byte(body)))
				if code != http.StatusOK || !a.Attention {
					t.Fatalf("answer = %d %+v, want 200 with attention", code, a)
				}
				ev, err := f.store.GetEvent(context.Background(), a.EventID)
				if err != nil {
					t.Fatal(err)
				}
				if ev.Attention == "" || string(ev.Body) != body {
					t.Errorf("stored attention %q body %q", ev.Attention, ev.Body)
				}
			})
		}
	})
}

func TestUnverifiableIs401AndKept(t *testing.T) {
	t.Parallel()
	onEach(t, func(t *testing.T, b backend) {
		body := readFixture(t, "f1.json")
		for _, c := range []struct {
			name   string
			mutate func(r *http.Request)
			reason string
		}{
			{"missing signature", func(r *http.Request) { r.Header.Del(signature.HeaderSignature) }, "missing_signature"},
			{"wrong secret", func(r *http.Request) {
				r.Header.Set(signature.HeaderSignature, signature.SignV1([]byte("another-environment-key-0123456"), "d4f5a6b7-c8d9-4e0f-a1b2-c3d4e5f6a7b8", now.Unix(), body))
			}, "no_match"},
			{"stale timestamp", func(r *http.Request) {
				ts := now.Unix() - 360
				r.Header.Set(signature.HeaderTimestamp, fmt.Sprint(ts))
				r.Header.Set(signature.HeaderSignature, signature.SignV1([]byte("sent-fixture-signing-key-0123456"), "d4f5a6b7-c8d9-4e0f-a1b2-c3d4e5f6a7b8", ts, body))
			}, "stale_timestamp"},
			{"unknown scheme", func(r *http.Request) { r.Header.Set(signature.HeaderSignature, "v2,abc") }, "unknown_scheme"},
		} {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				f := b.setup(t, options{})
				req := f.signed(signature.V1, body)
				req.Header.Set("Authorization", "Bearer do-not-keep")
				c.mutate(req)
				code, a, _ := f.do(t, req)
				if code != http.StatusUnauthorized || a.Error != "invalid_signature" || a.Reason != c.reason {
					t.Fatalf("answer = %d %+v, want 401 %s", code, a, c.reason)
				}
				f.rcv.Close() // drains the rejection queue
				ctx := context.Background()
				if st, _ := f.store.Stats(ctx); st.Events != 0 || st.Rejections != 1 {
					t.Fatalf("stats = %+v, want no event and one rejection", st)
				}
				rs, err := f.store.ListRejections(ctx, 10)
				if err != nil {
					t.Fatal(err)
				}
				r, err := f.store.GetRejection(ctx, rs[0].ID)
				if err != nil {
					t.Fatal(err)
				}
				if r.Reason != c.reason || r.Diagnosis == "" || !bytes.Equal(r.Body, body) {
					t.Errorf("kept rejection = reason %q diagnosis %q body %d bytes", r.Reason, r.Diagnosis, len(r.Body))
				}
				if _, ok := r.Headers["authorization"]; ok {
					t.Error("the Authorization header was kept")
				}
			})
		}
	})
}

func TestRejectionLogStaysWithinCaps(t *testing.T) {
	t.Parallel()
	onEach(t, func(t *testing.T, b backend) {
		f := b.setup(t, options{limits: store.RejectionLimits{MaxCount: 10, MaxBytes: 1 << 20}})
		for i := range 30 {
			req := f.signed(signature.V1, []byte(fmt.Sprintf(`{"n":%d}`, i)))
			req.Header.Set(signature.HeaderSignature, "v1,AAAA")
			if code, _, _ := f.do(t, req); code != http.StatusUnauthorized {
				t.Fatalf("request %d answered %d", i, code)
			}
		}
		f.rcv.Close()
		rs, err := f.store.ListRejections(context.Background(), 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 10 {
			t.Errorf("kept %d rejections, cap is 10", len(rs))
		}
		// Each of the other 20 was either stored and dropped for a newer one,
		// or counted without being stored while its reason's samples waited.
		dropped, notKept := testutil.ToFloat64(f.metrics.RejectionsDropped), testutil.ToFloat64(f.metrics.RejectionsNotKept)
		if dropped+notKept != 20 {
			t.Errorf("dropped %v + not kept %v, want 20", dropped, notKept)
		}
	})
}

// heldBody is a request body that says whether it was read at all and,
// heldBody gives its first held bytes at once, then blocks until it is
// released (closed); held < 0: never blocks.
type heldBody struct {
	r        io.Reader
	held     int
	sent     int
	started  chan struct{} // closed once it blocks, or at its first read
	release  chan struct{}
	once     sync.Once
	wasRead  atomic.Bool
	released sync.Once
}

func newHeldBody(b []byte, held int) *heldBody {
	return &heldBody{r: bytes.NewReader(b), held: held, started: make(chan struct{}), release: make(chan struct{})}
}

func (b *heldBody) Read(p []byte) (int, error) {
	b.wasRead.Store(true)
	if b.held < 0 {
		b.once.Do(func() { close(b.started) })
		return b.r.Read(p)
	}
	if b.sent == b.held {
		b.once.Do(func() { close(b.started) })
		<-b.release
	} else if b.sent < b.held && len(p) > b.held-b.sent {
		p = p[:b.held-b.sent]
	}
	n, err := b.r.Read(p)
	b.sent += n
	return n, err
}

func (b *heldBody) Close() error { b.released.Do(func() { close(b.release) }); return nil }

// withBody gives req the body rd, declared as size bytes (-1: chunked).
func withBody(req *http.Request, rd io.Reader, size int64) *http.Request {
	req.Body, req.ContentLength = io.NopCloser(rd), size
	return req
}

// The memory budget holds request bodies in flight: one that does not fit
// is answered 503 with Retry-After without being read, while a webhook of
// ordinary size still fits, and what a request held is given back.
func TestOverBudgetIs503WhileValidEventsAreAccepted(t *testing.T) {
	t.Parallel()
	onEach(t, func(t *testing.T, b backend) {
		const budget = 400 << 10 // bodies over 64 KiB may use 300 KiB of it
		f := b.setup(t, options{budget: budget, maxBody: 299 << 10})
		big := bytes.Repeat([]byte("x"), 299<<10)

		// A sender that has sent all but the last byte of a body of the
		// largest size holds it in flight: the room for large bodies is
		// full.
		slow := newHeldBody(big, len(big)-1)
		done := make(chan int)
		go func() {
			rec := httptest.NewRecorder()
			f.rcv.ServeHTTP(rec, withBody(f.signed(signature.V1, big), slow, int64(len(big))))
			done <- rec.Code
		}()
		<-slow.started
		if held := testutil.ToFloat64(f.metrics.MemoryBytes); held < 299<<10+1 || held > 300<<10 {
			t.Errorf("memory held = %v, want the slow body's buffer, of at least %d", held, 299<<10+1)
		}

		// Another large body, declared: refused unread.
		second := newHeldBody(big[:150<<10], -1)
		code, a, h := f.do(t, withBody(f.signed(signature.V1, big[:150<<10]), second, 150<<10))
		if code != http.StatusServiceUnavailable || a.Error != "unavailable" || h.Get("Retry-After") == "" {
			t.Errorf("large body over the budget: %d %+v Retry-After %q, want 503 with Retry-After", code, a, h.Get("Retry-After"))
		}
		if second.wasRead.Load() {
			t.Error("the body refused over the budget was read")
		}
		// A large body without Content-Length: refused once it grows past it.
		code, _, h = f.do(t, withBody(f.signed(signature.V1, big), bytes.NewReader(big), -1))
		if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
			t.Errorf("chunked body over the budget: %d Retry-After %q, want 503", code, h.Get("Retry-After"))
		}
		// An ordinary webhook still fits, declared or not.
		f1 := readFixture(t, "f1.json")
		if code, a, _ := f.do(t, f.signed(signature.V1, f1)); code != http.StatusOK || a.Status != "accepted" {
			t.Errorf("valid event during the flood: %d %+v, want 200 accepted", code, a)
		}
		f2 := readFixture(t, "f2.json")
		if code, a, _ := f.do(t, withBody(f.signed(signature.V1, f2), bytes.NewReader(f2), -1)); code != http.StatusOK || a.Status != "accepted" {
			t.Errorf("valid chunked event during the flood: %d %+v, want 200 accepted", code, a)
		}
		if n := testutil.ToFloat64(f.metrics.Requests.WithLabelValues("sent", "over_budget")); n != 2 {
			t.Errorf("over_budget counter = %v, want 2", n)
		}
		// A small rejection is still answered, and kept as a sample.
		forged := bytes.Repeat([]byte("f"), 2<<10)
		req := f.signed(signature.V1, forged)
		req.Header.Set(signature.HeaderSignature, "v1,"+strings.Repeat("A", 43)+"=")
		if code, a, _ := f.do(t, req); code != http.StatusUnauthorized || a.Reason != "no_match" {
			t.Errorf("forged request during the flood: %d %+v, want 401 no_match", code, a)
		}

		// Once the slow one is answered, the large body fits again.
		slow.Close()
		if code := <-done; code != http.StatusOK {
			t.Errorf("slow body answered %d", code)
		}
		if code, a, _ := f.do(t, f.signed(signature.V1, big[:150<<10])); code != http.StatusOK {
			t.Errorf("large body after the slow one finished: %d %+v, want 200", code, a)
		}
		f.rcv.Close()
		if held := testutil.ToFloat64(f.metrics.MemoryBytes); held != 0 {
			t.Errorf("memory held once idle = %v, want 0", held)
		}
		if rs, err := f.store.ListRejections(context.Background(), 10); err != nil || len(rs) != 1 || rs[0].BodyBytes != int64(len(forged)) {
			t.Errorf("samples kept = %+v (%v), want the forged request", rs, err)
		}
	})
}

// A rejected body is kept only in part, with the whole body's length and
// hash; while it waits for the recorder it holds only that part.
func TestRejectedBodyKeptInPart(t *testing.T) {
	t.Parallel()
	onEach(t, func(t *testing.T, b backend) {
		f := b.setup(t, options{})
		ctx := context.Background()
		wrongKey := []byte("another-environment-key-0123456")
		large := bytes.Repeat([]byte(`{"field":"message","pad":"xxxxxxxxxxxxxxxx"}`), 5000) // 220 KB
		small := readFixture(t, "f1.json")
		var waiting float64 // at most what is kept of each
		for _, body := range [][]byte{large, small} {
			waiting += float64(min(len(body), receiver.DefaultRejectionBodyMaxBytes))
			req := f.signed(signature.V1, body)
			req.Header.Set(signature.HeaderSignature, signature.SignV1(wrongKey, "d4f5a6b7-c8d9-4e0f-a1b2-c3d4e5f6a7b8", now.Unix(), body))
			if code, _, _ := f.do(t, req); code != http.StatusUnauthorized {
				t.Fatalf("answer %d, want 401", code)
			}
			if held := testutil.ToFloat64(f.metrics.MemoryBytes); held > waiting {
				t.Errorf("waiting rejections hold %v bytes, more than the %v kept of them", held, waiting)
			}
		}
		// The buffer of a large rejected body is used again: an event read
		// into it is stored as sent, nothing of the rejected one left in it.
		event := bytes.Repeat([]byte(`{"field":"message","pad":"yyyyyyyyyyyyy"}`), 4000)[:150000]
		code, a, _ := f.do(t, f.signed(signature.V1, event))
		if code != http.StatusOK {
			t.Fatalf("large event after a large rejection: %d %+v", code, a)
		}
		if ev, err := f.store.GetEvent(ctx, a.EventID); err != nil || !bytes.Equal(ev.Body, event) {
			t.Errorf("stored event body differs from the one sent (%v)", err)
		}
		f.rcv.Close()
		rs, err := f.store.ListRejections(ctx, 10)
		if err != nil || len(rs) != 2 {
			t.Fatalf("rejections = %d, %v; want 2", len(rs), err)
		}
		for _, c := range []struct {
			id   int64
			body []byte
			part bool
		}{{rs[1].ID, large, true}, {rs[0].ID, small, false}} {
			r, err := f.store.GetRejection(ctx, c.id)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(c.body)
			kept := c.body
			if c.part {
				kept = c.body[:receiver.DefaultRejectionBodyMaxBytes]
			}
			if !bytes.Equal(r.Body, kept) || r.Truncated != c.part || r.BodyBytes != int64(len(c.body)) || r.BodySHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("rejection %d: kept %d bytes, truncated %v, body_bytes %d, sha256 %s; want %d, %v, %d, %x",
					r.ID, len(r.Body), r.Truncated, r.BodyBytes, r.BodySHA256, len(kept), c.part, len(c.body), sum)
			}
			if c.part != strings.Contains(r.Diagnosis, "body_kept_in_part") || r.Reason != "no_match" {
				t.Errorf("rejection %d: reason %s, diagnosis:\n%s", r.ID, r.Reason, r.Diagnosis)
			}
		}
	})
}

// rejectN posts n requests failing for reason, from several goroutines.
func (f *fixture) rejectN(t *testing.T, reason string, n int) {
	t.Helper()
	body := []byte(`{"field":"message","payload":{}}`)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				req := f.signed(signature.V1, body)
				switch reason {
				case "no_match":
					req.Header.Set(signature.HeaderSignature, signature.SignV1([]byte("another-environment-key-0123456"), "d4f5a6b7-c8d9-4e0f-a1b2-c3d4e5f6a7b8", now.Unix(), body))
				case "stale_timestamp":
					req.Header.Set(signature.HeaderTimestamp, fmt.Sprint(now.Unix()-3600))
				case "missing_signature":
					req.Header.Del(signature.HeaderSignature)
				}
				rec := httptest.NewRecorder()
				f.rcv.ServeHTTP(rec, req)
				if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), reason) {
					t.Errorf("answer %d %s, want 401 %s", rec.Code, rec.Body, reason)
					return
				}
			}
		})
	}
	wg.Wait()
}

// A flood of one reason leaves the samples of the others in place, and
// every rejection is counted, kept or not.
func TestRejectionFloodKeepsOtherReasonsAndCountsAll(t *testing.T) {
	t.Parallel()
	onEach(t, func(t *testing.T, b backend) {
		f := b.setup(t, options{limits: store.RejectionLimits{MaxCount: 20, MaxBytes: 1 << 20}})
		ctx := context.Background()
		f.rejectN(t, "stale_timestamp", 5)
		f.rejectN(t, "missing_signature", 3)
		f.rejectN(t, "no_match", 2000)
		f.rcv.Close()

		rs, err := f.store.ListRejections(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		kept := map[string]int{}
		for _, r := range rs {
			kept[r.Reason]++
		}
		// Three reasons share 20: under 7 each.
		if kept["stale_timestamp"] != 5 || kept["missing_signature"] != 3 || kept["no_match"] != 6 {
			t.Errorf("samples kept by reason = %v, want 5 stale_timestamp, 3 missing_signature, 6 no_match", kept)
		}
		counts, err := f.store.RejectionCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, c := range counts {
			if c.Source != "sent" || !c.FirstAt.Equal(now) || !c.LastAt.Equal(now) {
				t.Errorf("count %+v: want source sent, first and last at %v", c, now)
			}
			got[c.Reason] = c.Count
		}
		want := map[string]int64{"no_match": 2000, "stale_timestamp": 5, "missing_signature": 3}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("counts = %v, want %v", got, want)
		}
		for reason, n := range want {
			if m := testutil.ToFloat64(f.metrics.Rejections.WithLabelValues("sent", reason)); m != float64(n) {
				t.Errorf("rejections metric for %s = %v, want %d", reason, m, n)
			}
		}
	})
}

// A flood is logged as one line per reason at most every 10s of the
// receiver's clock, each saying how many were rejected since the last.
func TestRejectionLogLinesAreRateLimited(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer  // written by the recorder, read once Close has waited for it
	var clock atomic.Int64 // seconds after now
	f := setup(t, options{
		logger:  slog.New(slog.NewJSONHandler(&logs, nil)),
		nowFunc: func() time.Time { return now.Add(time.Duration(clock.Load()) * time.Second) },
	})
	const seconds = 60
	for range seconds { // a minute of the receiver's clock, 50 requests a second
		f.rejectN(t, "no_match", 45)
		f.rejectN(t, "stale_timestamp", 5)
		clock.Add(1)
	}
	f.rcv.Close()

	lines := map[string]int{}
	rejected := map[string]int64{}
	for line := range strings.Lines(logs.String()) {
		var rec struct {
			Msg      string `json:"msg"`
			Reason   string `json:"reason"`
			Rejected int64  `json:"rejected"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if !strings.Contains(rec.Msg, "rejected") {
			continue
		}
		lines[rec.Reason]++
		rejected[rec.Reason] += rec.Rejected
	}
	// One line when the first arrives, at most one per 10s after it, and
	// the rest when the receiver closes.
	for reason, n := range lines {
		if n > seconds/10+2 {
			t.Errorf("%d lines for %s over %ds, want at most %d", n, reason, seconds, seconds/10+2)
		}
	}
	if rejected["no_match"] != 45*seconds || rejected["stale_timestamp"] != 5*seconds {
		t.Errorf("lines account for %v rejections, want %d no_match and %d stale_timestamp", rejected, 45*seconds, 5*seconds)
	}
	if !regexp.MustCompile(`rejected \d+ requests \(no_match\) in the last [0-9hms]+; kept \d+ samples`).MatchString(logs.String()) {
		t.Errorf("no line says over what time:\n%s", logs.String())
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	onEach(t, func(t *testing.T, b backend) {
		f := b.setup(t, options{maxBody: 1024})
		big := bytes.Repeat([]byte("a"), 2048)

		// Declared too large: refused before reading.
		code, a, _ := f.do(t, f.signed(signature.V1, big))
		if code != http.StatusRequestEntityTooLarge || a.Error != "body_too_large" {
			t.Errorf("declared large body: %d %+v", code, a)
		}
		// Not declared (chunked): refused once the limit is crossed.
		req := f.signed(signature.V1, big)
		req.ContentLength = -1
		req.Body = io.NopCloser(io.MultiReader(bytes.NewReader(big)))
		if code, a, _ = f.do(t, req); code != http.StatusRequestEntityTooLarge {
			t.Errorf("chunked large body: %d %+v", code, a)
		}
		// Exactly at the limit is fine.
		if code, a, _ = f.do(t, f.signed(signature.V1, big[:1024])); code != http.StatusOK {
			t.Errorf("body at the limit: %d %+v", code, a)
		}
		if st, _ := f.store.Stats(context.Background()); st.Events != 1 {
			t.Errorf("events stored = %d, want 1", st.Events)
		}
	})
}

func TestStoreFailureIs503(t *testing.T) {
	t.Parallel()
	body := readFixture(t, "f1.json")

	t.Run("closed", func(t *testing.T) {
		t.Parallel()
		onEach(t, func(t *testing.T, b backend) {
			f := b.setup(t, options{})
			f.store.Close()
			code, a, h := f.do(t, f.signed(signature.V1, body))
			if code != http.StatusServiceUnavailable || a.Error != "unavailable" || h.Get("Retry-After") == "" {
				t.Fatalf("answer = %d %+v Retry-After %q", code, a, h.Get("Retry-After"))
			}
		})
	})
	t.Run("busy", func(t *testing.T) {
		t.Parallel()
		testBusyIs503(t)
	})
	t.Run("disk full", func(t *testing.T) {
		t.Parallel()
		f := setup(t, options{storeOpts: sqlite.Options{MaxSizeBytes: 192 << 10}, maxBody: 64 << 10})
		var code int
		for i := range 1000 {
			b := fmt.Appendf(nil, `{"field":"message","pad":"%s","n":%d}`, strings.Repeat("x", 16<<10), i)
			code, _, _ = f.do(t, f.signed(signature.V1, b))
			if code != http.StatusOK {
				break
			}
		}
		if code != http.StatusServiceUnavailable {
			t.Fatalf("answer once the store is full = %d, want 503", code)
		}
	})
}

// testBusyIs503 holds the PostgreSQL store's one writer on a table lock
// while ten events arrive: those its queue of one cannot hold are answered
// 503 with Retry-After at once, and each is accepted when sent again once
// the lock is gone; nothing is lost.
func testBusyIs503(t *testing.T) {
	ctx := context.Background()
	var busy atomic.Int32 // refusals whose error is ErrBusy
	server, schema := pgtest.ServerURL(t), pgtest.Schema(t)
	u := pgtest.WithSchema(t, server, schema)
	f := backend{"postgres", func(t *testing.T, o options) (store.Store, error) {
		return postgres.Open(ctx, u, postgres.Options{QueueSize: 1, Writers: 1})
	}}.setup(t, options{observe: func(o receiver.Observation) {
		if o.Outcome == "unavailable" && errors.Is(o.Err, store.ErrBusy) {
			busy.Add(1)
		}
	}})
	lock, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close(ctx)
	tx, err := lock.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+pgx.Identifier{schema}.Sanitize()+"; LOCK TABLE events IN EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}

	const n = 10
	type result struct {
		i    int
		code int
		h    http.Header
	}
	bodies := make([][]byte, n)
	results := make(chan result, n)
	for i := range n {
		bodies[i] = fmt.Appendf(nil, `{"field":"message","n":%d}`, i)
		go func() {
			rec := httptest.NewRecorder()
			f.rcv.ServeHTTP(rec, f.signed(signature.V1, bodies[i]))
			results <- result{i, rec.Code, rec.Header()}
		}()
	}
	// At most two appends fit (one being written, one queued), or three
	// when the writer took two at once: the others are answered now.
	var refused []int
	for range n - 3 {
		r := <-results
		if r.code != http.StatusServiceUnavailable || r.h.Get("Retry-After") == "" {
			t.Fatalf("event %d answered %d (Retry-After %q) while the writer is held, want 503 with Retry-After", r.i, r.code, r.h.Get("Retry-After"))
		}
		refused = append(refused, r.i)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if r := <-results; r.code == http.StatusServiceUnavailable {
			refused = append(refused, r.i)
		} else if r.code != http.StatusOK {
			t.Fatalf("event %d answered %d once the lock is gone", r.i, r.code)
		}
	}
	// Refused because the queue was full, not after waiting for the write.
	if n := busy.Load(); int(n) != len(refused) {
		t.Errorf("%d of %d refusals say the write queue was full", n, len(refused))
	}
	for _, i := range refused { // Sent retries
		if code, a, _ := f.do(t, f.signed(signature.V1, bodies[i])); code != http.StatusOK || a.Status != "accepted" {
			t.Errorf("event %d sent again: %d %+v, want 200 accepted", i, code, a)
		}
	}
	if st, err := f.store.Stats(ctx); err != nil || st.Events != n || st.Duplicates != 0 {
		t.Errorf("stats = %+v (%v), want %d events and no duplicate", st, err, n)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	f := setup(t, options{})
	code, a, h := f.do(t, httptest.NewRequest(http.MethodGet, "/webhooks/sent", nil))
	if code != http.StatusMethodNotAllowed || h.Get("Allow") != "POST" || a.Error != "method_not_allowed" {
		t.Errorf("GET = %d %+v Allow %q", code, a, h.Get("Allow"))
	}
}

// A budget too small for one body of the largest size is refused when the
// receiver is built, in words; left unset, it grows to fit.
func TestMemoryBudgetMustHoldTheLargestBody(t *testing.T) {
	t.Parallel()
	f := setup(t, options{})
	v, err := signature.NewVerifier(signature.Config{Secrets: f.secrets})
	if err != nil {
		t.Fatal(err)
	}
	base := receiver.Config{Store: f.store, Verifier: v, Secrets: f.secrets}
	small := base
	small.MaxBodyBytes, small.MemoryBudgetBytes = 4<<20, 4<<20
	if _, err := receiver.New(small); err == nil || !strings.Contains(err.Error(), "cannot hold a body of the largest size allowed, 4.0 MiB") {
		t.Errorf("budget of one body: err = %v", err)
	}
	large := base
	large.MaxBodyBytes = 100 << 20
	r, err := receiver.New(large)
	if err != nil {
		t.Fatalf("default budget with a 100 MiB body limit: %v", err)
	}
	r.Close()
}

// benchReceiver is a receiver on a fresh store with the v1 fixture secret,
// traced by tp when it is not nil.
func benchReceiver(b *testing.B, tp ...trace.TracerProvider) (*receiver.Receiver, []signature.Secret) {
	b.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "hooklatch.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	secrets, _ := signature.ParseSecrets(v1Secret)
	v, _ := signature.NewVerifier(signature.Config{Secrets: secrets})
	cfg := receiver.Config{Store: st, Verifier: v, Secrets: secrets, Logger: slog.New(slog.DiscardHandler)}
	if len(tp) > 0 {
		cfg.TracerProvider = tp[0]
	}
	rcv, err := receiver.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rcv.Close() })
	return rcv, secrets
}

func BenchmarkServeHTTP(b *testing.B) {
	rcv, secrets := benchReceiver(b)
	benchServe(b, rcv, secrets, "")
}

// BenchmarkServeHTTPTraced is BenchmarkServeHTTP with tracing on: every
// request sampled, continuing a sender's traceparent, its spans batched
// to an exporter that drops them. What tracing costs the ack path itself.
func BenchmarkServeHTTPTraced(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	b.Cleanup(func() { tp.Shutdown(context.Background()) })
	rcv, secrets := benchReceiver(b, tp)
	benchServe(b, rcv, secrets, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
}

// benchServe posts the fixture, signed, with traceparent unless it is empty.
func benchServe(b *testing.B, rcv *receiver.Receiver, secrets []signature.Secret, traceparent string) {
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "sent", "f1.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			req := httptest.NewRequest(http.MethodPost, "/webhooks/sent", bytes.NewReader(body))
			for k, v := range signature.Sign(signature.V1, secrets[0], body, signature.SignOptions{}) {
				req.Header[k] = v
			}
			req.Header.Set(signature.HeaderEventID, fmt.Sprintf("%p-%d", pb, i))
			if traceparent != "" {
				req.Header.Set("Traceparent", traceparent)
			}
			rec := httptest.NewRecorder()
			rcv.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("answer %d: %s", rec.Code, rec.Body)
			}
		}
	})
}

// BenchmarkServeHTTPForged is a flood of 1 MB bodies with bad signatures:
// what each costs the receiver, and what it allocates.
func BenchmarkServeHTTPForged(b *testing.B) {
	rcv, _ := benchReceiver(b)
	body := bytes.Repeat([]byte("x"), 1_000_000)
	b.SetBytes(int64(len(body)))
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/webhooks/sent", bytes.NewReader(body))
			req.Header.Set(signature.HeaderSignature, "v1,"+strings.Repeat("A", 43)+"=")
			req.Header.Set(signature.HeaderID, "forged")
			req.Header.Set(signature.HeaderTimestamp, fmt.Sprint(time.Now().Unix()))
			rec := httptest.NewRecorder()
			rcv.ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized && rec.Code != http.StatusServiceUnavailable {
				b.Fatalf("answer %d: %s", rec.Code, rec.Body)
			}
		}
	})
}

// The budget is counted for bytes that arrive: a body declared large but
// not sent holds only its first read's buffer, so declared bodies cannot
// fill the budget.
func TestDeclaredBodiesHoldOnlyWhatArrives(t *testing.T) {
	t.Parallel()
	const budget = 400 << 10
	f := setup(t, options{budget: budget, maxBody: 299 << 10})
	big := bytes.Repeat([]byte("x"), 60<<10)
	var held []*heldBody
	var done sync.WaitGroup
	for range 20 { // 20 × 60 KiB declared: three times the budget
		h := newHeldBody(big, 0)
		held = append(held, h)
		done.Go(func() {
			f.rcv.ServeHTTP(httptest.NewRecorder(), withBody(f.signed(signature.V1, big), h, int64(len(big))))
		})
		<-h.started
	}
	if got := testutil.ToFloat64(f.metrics.MemoryBytes); got != 20*4<<10 {
		t.Errorf("memory held by 20 bodies that sent nothing = %v, want 20 × 4 KiB", got)
	}
	if code, a, _ := f.do(t, f.signed(signature.V1, readFixture(t, "f1.json"))); code != http.StatusOK {
		t.Errorf("valid event beside 20 declared bodies: %d %+v, want 200", code, a)
	}
	for _, h := range held {
		h.Close()
	}
	done.Wait()
}

// A body still arriving after SlowBodyAfter grows only while less than half
// of the budget is held: slow senders, however many, leave the other half
// to bodies that arrive at once.
func TestSlowBodiesHoldAtMostHalfTheBudget(t *testing.T) {
	t.Parallel()
	const budget = 400 << 10 // slow bodies may grow while under 200 KiB
	f := setup(t, options{budget: budget, maxBody: 299 << 10, slowAfter: time.Nanosecond})
	big := bytes.Repeat([]byte("x"), 100<<10)
	stalled := big[:64<<10-1] // a buffer of 64 KiB holds it whole

	// Three stall after 60 KiB, in buffers of 64 KiB, under the slow
	// ceiling; a fourth cannot grow past it.
	var held []*heldBody
	codes := make(chan int, 4)
	for range 3 {
		h := newHeldBody(stalled, 60<<10)
		held = append(held, h)
		go func() {
			rec := httptest.NewRecorder()
			f.rcv.ServeHTTP(rec, withBody(f.signed(signature.V1, stalled), h, int64(len(stalled))))
			codes <- rec.Code
		}()
		<-h.started
	}
	if got := testutil.ToFloat64(f.metrics.MemoryBytes); got != 3*64<<10 {
		t.Fatalf("memory held by three stalled bodies = %v, want 3 × 64 KiB", got)
	}
	code, a, h := f.do(t, withBody(f.signed(signature.V1, big), bytes.NewReader(big), int64(len(big))))
	if code != http.StatusServiceUnavailable || a.Error != "unavailable" || h.Get("Retry-After") == "" {
		t.Errorf("a fourth slow body: %d %+v, want 503 with Retry-After", code, a)
	}
	// What arrives at once still has the other half.
	if code, a, _ := f.do(t, f.signed(signature.V1, readFixture(t, "f1.json"))); code != http.StatusOK {
		t.Errorf("valid event beside the slow bodies: %d %+v, want 200", code, a)
	}
	for _, h := range held {
		h.Close()
	}
	for range held {
		if code := <-codes; code != http.StatusOK {
			t.Errorf("a stalled body, once sent, answered %d", code)
		}
	}
}

// A body that arrives slower than MinBodyRate after its grace is answered
// 408 and its connection closed; one that arrives at once is not cut.
func TestTrickledBodyIsCut(t *testing.T) {
	t.Parallel()
	f := setup(t, options{minRate: 64 << 10, grace: 200 * time.Millisecond})
	srv := httptest.NewServer(f.rcv)
	t.Cleanup(srv.Close)

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /webhooks/sent HTTP/1.1\r\nHost: x\r\nContent-Length: 65000\r\n\r\n")
	answered := make(chan *http.Response, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Error(err)
		}
		answered <- resp
	}()
	start := time.Now()
	var resp *http.Response
	for resp == nil {
		select {
		case resp = <-answered:
		case <-time.After(100 * time.Millisecond):
			conn.Write([]byte("x")) // a byte every 100 ms
		}
		if time.Since(start) > 20*time.Second {
			t.Fatal("the trickled body was not cut within 20 s")
		}
	}
	if resp == nil || resp.StatusCode != http.StatusRequestTimeout || !resp.Close {
		t.Fatalf("trickled body: %+v, want 408 closing the connection", resp)
	}
	t.Logf("cut after %v (grace 200ms + 65,000 bytes at 64 KiB/s)", time.Since(start).Round(time.Millisecond))
	if n := testutil.ToFloat64(f.metrics.Requests.WithLabelValues("sent", "too_slow")); n != 1 {
		t.Errorf("too_slow counter = %v, want 1", n)
	}

	body := readFixture(t, "f1.json")
	req := f.signed(signature.V1, body)
	req.RequestURI, req.URL.Scheme, req.URL.Host = "", "http", srv.Listener.Addr().String()
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("a body sent at once: %d, want 200", res.StatusCode)
	}
}

// A sender that half-closes its connection once the request is sent (as
// some HTTP clients and proxies do) is answered by what the store did: a
// stored event is never answered as not stored.
func TestHalfClosedSenderIsAnsweredByTheStore(t *testing.T) {
	t.Parallel()
	body := readFixture(t, "f1.json")
	onEach(t, func(t *testing.T, b backend) {
		f := b.setup(t, options{})
		srv := httptest.NewServer(f.rcv)
		defer srv.Close()
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		req := f.signed(signature.V1, body)
		if err := req.Write(conn); err != nil {
			t.Fatal(err)
		}
		if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			// Say whether the write went ahead all the same.
			var stored int64
			for deadline := time.Now().Add(5 * time.Second); stored == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				st, err := f.store.Stats(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				stored = st.Events
			}
			t.Fatalf("half-closed request answered %d %s, and %d events stored; want 200", resp.StatusCode, raw, stored)
		}
		var a answer
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Fatal(err)
		}
		if _, err := f.store.GetEvent(context.Background(), a.EventID); err != nil {
			t.Errorf("acknowledged event %s: %v", a.EventID, err)
		}
	})
}

// While the store cannot write (its writer waits on a lock another session
// holds), every webhook is answered 503 with Retry-After within the answer
// bound, whatever the store's own timeouts; once the lock goes, the
// sender's retry is accepted, or answered as a duplicate of a write that
// went ahead after the answer.
func TestAnsweredWithinTheBoundWhileTheStoreIsHeld(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// hold opens a store at a location of the test's own and takes a
		// lock its writer waits on; release gives it up.
		hold func(t *testing.T) (st store.Store, release func())
	}{
		{"sqlite", func(t *testing.T) (store.Store, func()) {
			path := filepath.Join(t.TempDir(), "hooklatch.db")
			st, err := sqlite.Open(ctx, path, sqlite.Options{BusyTimeout: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
				t.Fatal(err)
			}
			return st, func() { conn.ExecContext(ctx, "ROLLBACK"); conn.Close() }
		}},
		{"postgres", func(t *testing.T) (store.Store, func()) {
			server, schema := pgtest.ServerURL(t), pgtest.Schema(t)
			st, err := postgres.Open(ctx, pgtest.WithSchema(t, server, schema), postgres.Options{WriteTimeout: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			lock, err := pgx.Connect(ctx, server)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { lock.Close(ctx) })
			tx, err := lock.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+pgx.Identifier{schema}.Sanitize()+"; LOCK TABLE events IN EXCLUSIVE MODE"); err != nil {
				t.Fatal(err)
			}
			return st, func() { tx.Rollback(ctx) }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var st store.Store
			var release func()
			f := backend{tc.name, func(t *testing.T, o options) (store.Store, error) {
				st, release = tc.hold(t)
				return st, nil
			}}.setup(t, options{})
			defer release()

			const n = 4
			bound := receiver.DefaultAnswerWithin
			bodies := make([][]byte, n)
			var wg sync.WaitGroup
			for i := range n {
				bodies[i] = fmt.Appendf(nil, `{"field":"message","n":%d}`, i)
				wg.Go(func() {
					start := time.Now()
					rec := httptest.NewRecorder()
					f.rcv.ServeHTTP(rec, f.signed(signature.V1, bodies[i]))
					took := time.Since(start)
					t.Logf("event %d answered %d after %v", i, rec.Code, took.Round(time.Millisecond))
					if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
						t.Errorf("event %d answered %d (Retry-After %q) while the store is held, want 503 with Retry-After", i, rec.Code, rec.Header().Get("Retry-After"))
					}
					if took > bound+2*time.Second {
						t.Errorf("event %d answered after %v, want within the answer bound of %v", i, took, bound)
					}
				})
			}
			wg.Wait()
			release()
			for i := range n { // Sent retries
				code, a, _ := f.do(t, f.signed(signature.V1, bodies[i]))
				if code != http.StatusOK {
					t.Errorf("event %d sent again once the lock is gone: %d %+v, want 200", i, code, a)
				}
			}
			if s, err := f.store.Stats(ctx); err != nil || s.Events != n {
				t.Errorf("stats = %+v (%v), want %d events", s, err, n)
			}
		})
	}
}
