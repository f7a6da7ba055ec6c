package receiver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hooklatch/hooklatch/internal/receiver"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/store"
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
	store   *sqlite.Store
	metrics *receiver.Metrics
	secrets []signature.Secret
}

type options struct {
	maxBody   int64
	limits    store.RejectionLimits
	storeOpts sqlite.Options
}

func setup(t *testing.T, o options) *fixture {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hooklatch.db"), o.storeOpts)
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
	rcv, err := receiver.New(receiver.Config{
		Store: st, Verifier: v, Secrets: secrets, NowFunc: clock,
		MaxBodyBytes: o.maxBody, RejectionLimits: o.limits, Metrics: m,
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
			f := setup(t, options{})
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
			if ev.Type != c.typ || ev.Subject != c.subject || ev.Scheme != string(c.scheme) || !ev.ReceivedAt.Equal(now) {
				t.Errorf("stored event = type %q subject %q scheme %q received %v", ev.Type, ev.Subject, ev.Scheme, ev.ReceivedAt)
			}
			if c.scheme == signature.V1 && ev.Headers["x-webhook-id"] != "d4f5a6b7-c8d9-4e0f-a1b2-c3d4e5f6a7b8" {
				t.Errorf("kept headers = %v", ev.Headers)
			}
		})
	}
}

func TestDuplicateIsAcknowledgedOnce(t *testing.T) {
	t.Parallel()
	f := setup(t, options{})
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
	if n := testutil.ToFloat64(f.metrics.Requests.WithLabelValues("duplicate")); n != 1 {
		t.Errorf("duplicate counter = %v, want 1", n)
	}

	// With X-Webhook-Event-Id, the header is the key: another body with the
	// same event id is the same event.
	a := f.signed(signature.V1, readFixture(t, "f3.json"))
	a.Header.Set(signature.HeaderEventID, "evt-42")
	_, ra, _ := f.do(t, a)
	b := f.signed(signature.V1, readFixture(t, "f2.json"))
	b.Header.Set(signature.HeaderEventID, "evt-42")
	_, rb, _ := f.do(t, b)
	if ra.Duplicate || !rb.Duplicate || ra.EventID != rb.EventID {
		t.Errorf("same X-Webhook-Event-Id: %+v then %+v", ra, rb)
	}
}

// No signature covers X-Webhook-Event-Id: a captured request replayed with
// new values there is still the event it was, because its signed bytes
// were seen. Legacy requests carry no timestamp, so such a replay would
// otherwise work forever; v1 ones within the tolerance.
func TestReplayUnderANewEventIDIsADuplicate(t *testing.T) {
	t.Parallel()
	for _, scheme := range []signature.Scheme{signature.V1, signature.Legacy} {
		t.Run(string(scheme), func(t *testing.T) {
			t.Parallel()
			f := setup(t, options{})
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
}

func TestSignedButOddIsStoredForAttention(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"not json":     "this is not JSON",
		"no field":     `{"payload":{}}`,
		"unknown type": `{"field":"call","event":"call.ringing","timestamp":"2025-10-31T10:10:42Z","payload":{"call_id":"c1"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, options{})
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
}

func TestUnverifiableIs401AndKept(t *testing.T) {
	t.Parallel()
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
			f := setup(t, options{})
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
}

func TestRejectionLogStaysWithinCaps(t *testing.T) {
	t.Parallel()
	f := setup(t, options{limits: store.RejectionLimits{MaxCount: 10, MaxBytes: 1 << 20}})
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
	if n := testutil.ToFloat64(f.metrics.RejectionsDropped); n != 20 {
		t.Errorf("dropped counter = %v, want 20", n)
	}
	if n := testutil.ToFloat64(f.metrics.RejectionsNotKept); n != 0 {
		t.Errorf("not-kept counter = %v, want 0", n)
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	f := setup(t, options{maxBody: 1024})
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
}

func TestStoreFailureIs503(t *testing.T) {
	t.Parallel()
	body := readFixture(t, "f1.json")

	t.Run("closed", func(t *testing.T) {
		t.Parallel()
		f := setup(t, options{})
		f.store.Close()
		code, a, h := f.do(t, f.signed(signature.V1, body))
		if code != http.StatusServiceUnavailable || a.Error != "unavailable" || h.Get("Retry-After") == "" {
			t.Fatalf("answer = %d %+v Retry-After %q", code, a, h.Get("Retry-After"))
		}
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

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	f := setup(t, options{})
	code, a, h := f.do(t, httptest.NewRequest(http.MethodGet, "/webhooks/sent", nil))
	if code != http.StatusMethodNotAllowed || h.Get("Allow") != "POST" || a.Error != "method_not_allowed" {
		t.Errorf("GET = %d %+v Allow %q", code, a, h.Get("Allow"))
	}
}

func BenchmarkServeHTTP(b *testing.B) {
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "hooklatch.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	secrets, _ := signature.ParseSecrets(v1Secret)
	v, _ := signature.NewVerifier(signature.Config{Secrets: secrets})
	rcv, err := receiver.New(receiver.Config{Store: st, Verifier: v, Secrets: secrets})
	if err != nil {
		b.Fatal(err)
	}
	defer rcv.Close()
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
			rec := httptest.NewRecorder()
			rcv.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("answer %d: %s", rec.Code, rec.Body)
			}
		}
	})
}
