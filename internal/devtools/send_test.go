package devtools

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/internal/clock"
	"github.com/hooklatch/hooklatch/signature"
)

const fixtureSecret = "whsec_c2VudC1maXh0dXJlLXNpZ25pbmcta2V5LTAxMjM0NTY="

var epoch = time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)

// arrival is one request as the test handler saw it.
type arrival struct {
	at     time.Time // on the manual clock
	header http.Header
	body   []byte
	err    error // from verifying the signature at arrival
}

// recorder is a handler that verifies every request on the manual clock,
// keeps it, and answers with the next status from its script (the last
// one repeats).
type recorder struct {
	t        *testing.T
	clk      *clock.Manual
	verifier *signature.Verifier
	script   []int
	delay    time.Duration // real time before answering

	mu       sync.Mutex
	arrivals []arrival
}

func newRecorder(t *testing.T, clk *clock.Manual, script ...int) *recorder {
	t.Helper()
	sec, err := signature.ParseSecret(fixtureSecret)
	if err != nil {
		t.Fatal(err)
	}
	v, err := signature.NewVerifier(signature.Config{Secrets: []signature.Secret{sec}, NowFunc: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &recorder{t: t, clk: clk, verifier: v, script: script}
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	_, verr := rc.verifier.Verify(r.Header, body)
	rc.mu.Lock()
	n := len(rc.arrivals)
	rc.arrivals = append(rc.arrivals, arrival{at: rc.clk.Now(), header: r.Header.Clone(), body: body, err: verr})
	rc.mu.Unlock()
	if rc.delay > 0 {
		time.Sleep(rc.delay)
	}
	if verr != nil {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.WriteHeader(rc.script[min(n, len(rc.script)-1)])
}

func (rc *recorder) all() []arrival {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]arrival(nil), rc.arrivals...)
}

func testSigner(t *testing.T, scheme signature.Scheme) Signer {
	t.Helper()
	sec, err := signature.ParseSecret(fixtureSecret)
	if err != nil {
		t.Fatal(err)
	}
	return Signer{Scheme: scheme, Secret: sec, WebhookID: "0f8fad5b-d9cb-469f-a165-70867728950e"}
}

// runVirtual runs the emulator on clk, moving the clock to each wait's end
// as soon as the emulator waits, until Run returns.
func runVirtual(t *testing.T, e *Emulator, clk *clock.Manual, sc Scenario) []*Delivery {
	t.Helper()
	e.Clock = clk
	type result struct {
		ds  []*Delivery
		err error
	}
	done := make(chan result, 1)
	go func() {
		ds, err := e.Run(t.Context(), sc)
		done <- result{ds, err}
	}()
	for {
		select {
		case r := <-done:
			if r.err != nil {
				t.Fatalf("Run: %v", r.err)
			}
			return r.ds
		case <-time.After(time.Millisecond):
			if at, ok := clk.NextWaiter(); ok {
				clk.Set(at)
			}
		}
	}
}

func TestReferenceScheduleRetriesAtOneTwoFourToSixtyFourSeconds(t *testing.T) {
	clk := clock.NewManual(epoch)
	rc := newRecorder(t, clk, http.StatusInternalServerError)
	srv := httptest.NewServer(rc)
	defer srv.Close()

	e := &Emulator{URL: srv.URL, Signer: testSigner(t, signature.V1), Profile: ReferenceProfile()}
	ds := runVirtual(t, e, clk, Scenario{Steps: []Step{{Events: []string{"message.delivered"}}}})

	if len(ds) != 1 || ds[0].Result != "failed" || ds[0].OK {
		t.Fatalf("deliveries = %+v, want one failed", ds)
	}
	wantOffsets := []time.Duration{0, 1, 3, 7, 15, 31, 63, 127}
	got := rc.all()
	if len(got) != len(wantOffsets) {
		t.Fatalf("%d attempts, want %d (the first and seven retries)", len(got), len(wantOffsets))
	}
	eventID := got[0].header.Get(signature.HeaderEventID)
	seenSigs := map[string]bool{}
	for i, a := range got {
		want := epoch.Add(wantOffsets[i] * time.Second)
		if !a.at.Equal(want) {
			t.Errorf("attempt %d arrived at +%s, want +%s", i+1, a.at.Sub(epoch), want.Sub(epoch))
		}
		if ts := a.header.Get(signature.HeaderTimestamp); ts != strconv.FormatInt(want.Unix(), 10) {
			t.Errorf("attempt %d timestamp %s, want %d (re-signed at its own time)", i+1, ts, want.Unix())
		}
		if a.err != nil {
			t.Errorf("attempt %d does not verify: %v", i+1, a.err)
		}
		if id := a.header.Get(signature.HeaderEventID); id != eventID || id == "" {
			t.Errorf("attempt %d event id %q, want %q on every retry", i+1, id, eventID)
		}
		sig := a.header.Get(signature.HeaderSignature)
		if seenSigs[sig] {
			t.Errorf("attempt %d reuses a signature", i+1)
		}
		seenSigs[sig] = true
		if !bytes.Equal(a.body, got[0].body) {
			t.Errorf("attempt %d changed the body", i+1)
		}
	}
	for i, a := range ds[0].Attempts {
		if a.Offset != wantOffsets[i]*time.Second {
			t.Errorf("timeline attempt %d offset %s, want %s", i+1, a.Offset, wantOffsets[i]*time.Second)
		}
	}
}

func TestReferenceScheduleStopsAtTheFirstSuccess(t *testing.T) {
	clk := clock.NewManual(epoch)
	rc := newRecorder(t, clk, 500, 503, 200)
	srv := httptest.NewServer(rc)
	defer srv.Close()

	e := &Emulator{URL: srv.URL, Signer: testSigner(t, signature.Legacy), Profile: ReferenceProfile()}
	ds := runVirtual(t, e, clk, Scenario{Steps: []Step{{Events: []string{"message.sent"}}}})
	if len(ds) != 1 || ds[0].Result != "delivered" || !ds[0].OK || len(ds[0].Attempts) != 3 {
		t.Fatalf("got %+v, want delivered on the third attempt", ds[0])
	}
	if n := len(rc.all()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
	for i, a := range rc.all() {
		if a.err != nil {
			t.Errorf("legacy attempt %d does not verify: %v", i+1, a.err)
		}
	}
}

func TestReferenceProfileDoesNotRetryClientErrorsButCurrentDoes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		profile  func() Profile
		attempts int
		offsets  []time.Duration
	}{
		{"reference", ReferenceProfile, 1, []time.Duration{0}},
		{"current", func() Profile {
			p, err := CurrentProfile(3, 30*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}, 4, []time.Duration{0, time.Minute, 3 * time.Minute, 7 * time.Minute}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewManual(epoch)
			rc := newRecorder(t, clk, http.StatusBadRequest)
			srv := httptest.NewServer(rc)
			defer srv.Close()
			e := &Emulator{URL: srv.URL, Signer: testSigner(t, signature.V1), Profile: tc.profile()}
			ds := runVirtual(t, e, clk, Scenario{Steps: []Step{{Events: []string{"message.failed"}}}})
			got := rc.all()
			if len(got) != tc.attempts || ds[0].Result != "failed" {
				t.Fatalf("%d attempts, result %s; want %d, failed", len(got), ds[0].Result, tc.attempts)
			}
			for i, a := range got {
				if off := a.at.Sub(epoch); off != tc.offsets[i] {
					t.Errorf("attempt %d at +%s, want +%s", i+1, off, tc.offsets[i])
				}
			}
		})
	}
}

func TestCurrentProfileBounds(t *testing.T) {
	for _, tc := range []struct {
		retries int
		timeout time.Duration
		ok      bool
	}{
		{1, 5 * time.Second, true}, {5, 120 * time.Second, true}, {0, 30 * time.Second, false},
		{6, 30 * time.Second, false}, {3, 4 * time.Second, false}, {3, 121 * time.Second, false},
	} {
		p, err := CurrentProfile(tc.retries, tc.timeout)
		if (err == nil) != tc.ok {
			t.Errorf("CurrentProfile(%d, %s) error %v, want ok=%v", tc.retries, tc.timeout, err, tc.ok)
		}
		if err == nil && len(p.Delays) != tc.retries {
			t.Errorf("CurrentProfile(%d): %d delays", tc.retries, len(p.Delays))
		}
	}
	p, _ := CurrentProfile(5, 30*time.Second)
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute}
	for i := range want {
		if p.Delays[i] != want[i] {
			t.Errorf("delay %d = %s, want %s", i+1, p.Delays[i], want[i])
		}
	}
}

func TestTenFailedAttemptsInARowDisableTheEndpoint(t *testing.T) {
	clk := clock.NewManual(epoch)
	rc := newRecorder(t, clk, http.StatusInternalServerError)
	srv := httptest.NewServer(rc)
	defer srv.Close()
	p, err := CurrentProfile(3, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	e := &Emulator{URL: srv.URL, Signer: testSigner(t, signature.V1), Profile: p}
	ds := runVirtual(t, e, clk, Scenario{Steps: []Step{{Events: []string{"message.sent"}, Count: 4}}})

	// Four attempts per event: the first two events fail all four (8), the
	// third fails twice more and the endpoint is disabled; the fourth is
	// never sent.
	if n := len(rc.all()); n != 10 {
		t.Errorf("%d requests, want 10", n)
	}
	if !e.Disabled() {
		t.Error("endpoint not disabled after ten failures in a row")
	}
	results := []string{}
	for _, d := range ds {
		results = append(results, d.Result)
	}
	if strings.Join(results, ",") != "failed,failed,failed,not sent" {
		t.Errorf("results %v, want failed,failed,failed,not sent", results)
	}
}

func TestTimeoutsAreRetried(t *testing.T) {
	clk := clock.NewManual(epoch)
	rc := newRecorder(t, clk, 200)
	rc.delay = 300 * time.Millisecond
	srv := httptest.NewServer(rc)
	defer srv.Close()
	p := ReferenceProfile()
	p.Timeout = 50 * time.Millisecond
	p.Delays = p.Delays[:2]
	e := &Emulator{URL: srv.URL, Signer: testSigner(t, signature.V1), Profile: p}
	ds := runVirtual(t, e, clk, Scenario{Steps: []Step{{Events: []string{"message.sent"}}}})
	if len(ds[0].Attempts) != 3 || ds[0].Result != "failed" {
		t.Fatalf("got %d attempts, %s; want 3, failed", len(ds[0].Attempts), ds[0].Result)
	}
	for _, a := range ds[0].Attempts {
		if !errors.Is(a.Answer.Err, ErrTimeout) {
			t.Errorf("attempt %d: %v, want a timeout", a.N, a.Answer.Err)
		}
	}
}

func TestChaos(t *testing.T) {
	clk := clock.NewManual(epoch)
	rc := newRecorder(t, clk, 200)
	srv := httptest.NewServer(rc)
	defer srv.Close()
	e := &Emulator{URL: srv.URL, Signer: testSigner(t, signature.V1), Profile: ReferenceProfile(),
		Rand: rand.New(rand.NewPCG(1, 2))}
	var out bytes.Buffer
	e.Out = &out
	statuses := []string{"QUEUED", "SENT", "DELIVERED", "READ"}
	ds := runVirtual(t, e, clk, Scenario{Steps: []Step{
		{Lifecycle: statuses, Shuffle: true},
		{Events: []string{"message.delivered"}, Duplicates: 2, Tamper: true, Stale: 6 * time.Minute},
	}})

	got := rc.all()
	if len(got) != 4+1+1+1+2 {
		t.Fatalf("%d requests, want 9", len(got))
	}
	// The lifecycle: one message, every status, not in the order given.
	var order []string
	var messageID string
	for i, a := range got[:4] {
		env, err := event.Parse(a.body)
		if err != nil {
			t.Fatal(err)
		}
		m, err := env.Message()
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			messageID = m.MessageID
		}
		if m.MessageID != messageID {
			t.Errorf("lifecycle event %d is about message %s, want %s", i, m.MessageID, messageID)
		}
		order = append(order, strings.ToUpper(env.Status()))
	}
	if strings.Join(order, ",") == strings.Join(statuses, ",") {
		t.Errorf("shuffled lifecycle arrived in the given order %v", order)
	}
	if len(dedupe(order)) != 4 {
		t.Errorf("lifecycle statuses %v, want each of %v once", order, statuses)
	}

	// Then: tampered, stale, the event, two duplicates.
	tampered, stale, genuine, dup1, dup2 := got[4], got[5], got[6], got[7], got[8]
	if !errors.Is(tampered.err, signature.ErrNoMatch) {
		t.Errorf("tampered request: verify error %v, want ErrNoMatch", tampered.err)
	}
	if !errors.Is(stale.err, signature.ErrStaleTimestamp) {
		t.Errorf("stale request: verify error %v, want ErrStaleTimestamp", stale.err)
	}
	for i, a := range []arrival{genuine, dup1, dup2} {
		if a.err != nil {
			t.Errorf("delivery %d does not verify: %v", i, a.err)
		}
		if !bytes.Equal(a.body, genuine.body) || a.header.Get(signature.HeaderEventID) != genuine.header.Get(signature.HeaderEventID) {
			t.Errorf("duplicate %d is not the same event", i)
		}
	}
	for _, d := range ds {
		if !d.OK {
			t.Errorf("%s %s: result %s, not what was expected", d.Kind, d.Request.Name, d.Result)
		}
	}
	if s := Summary(ds); s != "7 deliveries: 7 delivered; 2 of 2 forged requests rejected with a 4xx" {
		t.Errorf("summary %q", s)
	}
	for _, want := range []string{"(tampered signature)", "rejected, as it should be", "(stale timestamp)", "(duplicate, same event id)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("timeline lacks %q:\n%s", want, out.String())
		}
	}
}

func TestAnAcceptedForgeryIsReported(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	e := &Emulator{URL: srv.URL, Signer: testSigner(t, signature.V1), Profile: ReferenceProfile()}
	ds, err := e.Run(t.Context(), Scenario{Steps: []Step{{Events: []string{"message.sent"}, Tamper: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if ds[0].Kind != KindTampered || ds[0].Result != "accepted" || ds[0].OK {
		t.Errorf("tampered delivery to a handler that accepts anything: %+v", ds[0])
	}
}

// --slow trickles the body: the handler reads it in many pieces, and the
// request still says how long it is.
func TestSlowDeliveryTricklesTheWholeBody(t *testing.T) {
	var (
		mu     sync.Mutex
		reads  int
		length int64
		body   []byte
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 64<<10)
		var got []byte
		n := 0
		for {
			k, err := r.Body.Read(buf)
			if k > 0 {
				n++
				got = append(got, buf[:k]...)
			}
			if err != nil {
				break
			}
		}
		mu.Lock()
		reads, length, body = n, r.ContentLength, got
		mu.Unlock()
	}))
	defer srv.Close()
	e := &Emulator{URL: srv.URL, Signer: testSigner(t, signature.V1), Profile: ReferenceProfile()}
	ds, err := e.Run(t.Context(), Scenario{Steps: []Step{{Events: []string{"message.received"}, Slow: 80 * time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if ds[0].Result != "delivered" || !bytes.Equal(body, ds[0].Request.Body) {
		t.Fatalf("slow delivery: result %s, body %q", ds[0].Result, body)
	}
	if length != int64(len(body)) {
		t.Errorf("Content-Length %d for a %d-byte body", length, len(body))
	}
	if reads < 8 {
		t.Errorf("the handler read the body in %d pieces; a trickle sends 16", reads)
	}
}

// With --time-scale the timeline still shows Sent's clock: the real time
// each attempt took plus the nominal wait, not the real time scaled up.
func TestTimelineOffsetsUnderTimeScale(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	p := ReferenceProfile()
	p.Timeout = 100 * time.Millisecond
	p.Delays = p.Delays[:2] // 1s, 2s
	e := &Emulator{URL: srv.URL, Signer: testSigner(t, signature.V1), Profile: p, TimeScale: 100}
	ds, err := e.Run(t.Context(), Scenario{Steps: []Step{{Events: []string{"message.sent"}}}})
	if err != nil {
		t.Fatal(err)
	}
	as := ds[0].Attempts
	if len(as) != 3 {
		t.Fatalf("%d attempts, want 3", len(as))
	}
	for i := 1; i < len(as); i++ {
		// The gap is the previous attempt (at least its timeout) plus the
		// nominal wait; scaling real time up would make it about 11s.
		took := as[i].Offset - as[i-1].Offset - as[i-1].Retry
		if took < p.Timeout || took > 5*time.Second {
			t.Errorf("attempt %d at +%s after +%s and a %s wait: the attempt between took %s on the timeline",
				as[i].N, as[i].Offset, as[i-1].Offset, as[i-1].Retry, took)
		}
	}
}

// An interrupt stops sending: the delivery waiting to retry is marked
// interrupted, the rest are not begun, and nothing counts against the
// endpoint.
func TestInterruptStopsSending(t *testing.T) {
	var calls atomic.Int32
	ctx, cancel := context.WithCancel(t.Context())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	p, err := CurrentProfile(3, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewManual(epoch)
	go func() { // interrupt once the emulator waits to retry
		for {
			if _, ok := clk.NextWaiter(); ok {
				cancel()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	e := &Emulator{URL: srv.URL, Signer: testSigner(t, signature.V1), Profile: p, Clock: clk}
	ds, err := e.Run(ctx, Scenario{Steps: []Step{{Events: []string{"message.sent"}, Count: 4}}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v, want context.Canceled", err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d requests, want only the one before the interrupt", n)
	}
	if len(ds) != 1 || ds[0].Result != "interrupted" || ds[0].Why != "stopped while waiting to retry" {
		t.Fatalf("deliveries %+v, want the one begun, interrupted while waiting", ds)
	}
	if s := Summary(ds); s != "1 delivery: 0 delivered, 1 interrupted" {
		t.Errorf("summary %q", s)
	}
}

// The same seed gives the same shuffle.
func TestSeedRepeatsTheShuffle(t *testing.T) {
	order := func(seed uint64) string {
		e := &Emulator{Signer: testSigner(t, signature.V1), Rand: rand.New(rand.NewPCG(seed, seed))}
		p, err := e.Plan(Scenario{Steps: []Step{{Lifecycle: []string{"QUEUED", "SENT", "DELIVERED", "READ", "FAILED"}, Shuffle: true}}})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, j := range p.steps[0].jobs {
			names = append(names, j.req.Name)
		}
		return strings.Join(names, ",")
	}
	if a, b := order(7), order(7); a != b {
		t.Errorf("seed 7 gave %s, then %s", a, b)
	}
	seen := map[string]bool{}
	for seed := range uint64(8) {
		seen[order(seed+1)] = true
	}
	if len(seen) < 2 {
		t.Errorf("eight seeds gave one order: %v", seen)
	}
}

func TestStepValidation(t *testing.T) {
	e := &Emulator{URL: "http://127.0.0.1:1", Signer: testSigner(t, signature.Legacy), Profile: ReferenceProfile()}
	for _, st := range []Step{
		{},
		{Events: []string{"message.sent"}, File: "x.json"},
		{Events: []string{"message.sent"}, Stale: 10 * time.Minute}, // legacy has no timestamp
		{Events: []string{"message.sent"}, Count: -1},
		{Pause: time.Second, Tamper: true}, // chaos on a step that sends nothing
	} {
		if _, err := e.Run(context.Background(), Scenario{Steps: []Step{st}}); err == nil {
			t.Errorf("step %+v accepted", st)
		}
	}
}

// TestSignaturesVerifyWithOpenSSL checks the emulator's signatures against
// an implementation that shares no code with hooklatch.
func TestSignaturesVerifyWithOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	clk := clock.NewManual(epoch)
	for _, scheme := range []signature.Scheme{signature.V1, signature.Legacy} {
		t.Run(string(scheme), func(t *testing.T) {
			rc := newRecorder(t, clk, 500, 200)
			srv := httptest.NewServer(rc)
			defer srv.Close()
			e := &Emulator{URL: srv.URL, Signer: testSigner(t, scheme), Profile: ReferenceProfile()}
			runVirtual(t, e, clk, Scenario{Steps: []Step{{Events: []string{"message.delivered", "templates.approved"}}}})
			got := rc.all()
			if len(got) != 3 {
				t.Fatalf("%d requests, want 3", len(got))
			}
			key := hex.EncodeToString(testSigner(t, scheme).Secret.V1Key())
			if scheme == signature.Legacy {
				key = hex.EncodeToString(testSigner(t, scheme).Secret.LegacyKey())
			}
			for i, a := range got {
				signed := a.body
				if scheme == signature.V1 {
					signed = append([]byte(a.header.Get(signature.HeaderID)+"."+a.header.Get(signature.HeaderTimestamp)+"."), a.body...)
				}
				cmd := exec.Command(openssl, "dgst", "-sha256", "-mac", "HMAC", "-macopt", "hexkey:"+key, "-binary")
				cmd.Stdin = bytes.NewReader(signed)
				mac, err := cmd.Output()
				if err != nil {
					t.Fatalf("openssl: %v", err)
				}
				want := "sha256=" + hex.EncodeToString(mac)
				if scheme == signature.V1 {
					want = "v1," + base64.StdEncoding.EncodeToString(mac)
				}
				if sig := a.header.Get(signature.HeaderSignature); sig != want {
					t.Errorf("request %d: signature %s, openssl computes %s", i+1, sig, want)
				}
			}
		})
	}
}

func dedupe(s []string) map[string]bool {
	m := map[string]bool{}
	for _, v := range s {
		m[v] = true
	}
	return m
}

// A gen1 sample carries one Sent event id: the body's id is the
// X-Webhook-Event-Id it is sent with, so either finds the stored event.
func TestGen1SamplesCarryOneEventID(t *testing.T) {
	t.Parallel()
	reqs, err := Samples{Types: []string{"message.delivered"}, Envelope: "gen1", Count: 2}.Build()
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := signature.ParseSecrets("whsec_c2VudC1maXh0dXJlLXNpZ25pbmcta2V5LTAxMjM0NTY=")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		env, err := event.Parse(r.Body)
		if err != nil || env.ID == "" {
			t.Fatalf("gen1 sample without an id: %v %s", err, r.Body)
		}
		h := Signer{Scheme: signature.V1, Secret: secrets[0]}.Header(r, time.Now())
		if r.EventID != env.ID || h.Get(signature.HeaderEventID) != env.ID {
			t.Errorf("body id %s, request's event id %s, header %s: want one id", env.ID, r.EventID, h.Get(signature.HeaderEventID))
		}
	}
	if reqs[0].EventID == reqs[1].EventID {
		t.Errorf("two samples share the event id %s", reqs[0].EventID)
	}
}
