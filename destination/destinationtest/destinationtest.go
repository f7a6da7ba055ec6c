package destinationtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/store"
)

// Behaviour is what a destination built by Harness.New does with every
// delivery.
type Behaviour int

const (
	// Succeed accepts the delivery.
	Succeed Behaviour = iota
	// FailTemporary receives the delivery and fails in a way retrying can
	// fix (an HTTP 503, exit status 75).
	FailTemporary
	// FailPermanent receives the delivery and fails in a way retrying cannot
	// fix (an HTTP 400, exit status 65).
	FailPermanent
	// Hang never answers: only the attempt's context ends the delivery.
	Hang
)

func (b Behaviour) String() string {
	switch b {
	case Succeed:
		return "succeed"
	case FailTemporary:
		return "fail_temporary"
	case FailPermanent:
		return "fail_permanent"
	case Hang:
		return "hang"
	}
	return fmt.Sprintf("behaviour(%d)", int(b))
}

// Harness tells the suite how to build and watch one destination kind.
type Harness struct {
	// New returns a destination that behaves as b asks and an Observer of
	// what reached it. It is called once per test, from that test's
	// goroutine; register clean-up with t.Cleanup.
	//
	// Required.
	New func(t *testing.T, b Behaviour) (destination.Destination, Observer)

	// Limits lists what the kind cannot do. The zero value runs every test.
	Limits Limits

	// HangTimeout is the attempt timeout the suite gives a hanging
	// destination. Defaults to 200ms.
	HangTimeout time.Duration
}

// Limits are what a destination kind cannot do; each skips the tests that
// need it.
type Limits struct {
	// NeverFails is set by kinds that always succeed (the log): the failure,
	// hang and cancellation tests are skipped.
	NeverFails bool

	// BodyNotObserved is set when the Observer sees event IDs but not bodies
	// (the log does not write them): bodies are not compared.
	BodyNotObserved bool

	// FailureNotObserved is set by kinds whose far end never sees a failed
	// delivery (a broker that refuses a message does not keep it): a
	// failure is not expected to have arrived.
	FailureNotObserved bool
}

// Received is one delivery as the far end saw it.
type Received struct {
	// EventID is the event's ID as the destination conveyed it (a header, an
	// environment variable, a log key).
	EventID string
	// Body is the raw body received; nil when the kind's Limits say
	// BodyNotObserved.
	Body []byte
	// Metadata is what the kind conveyed beside the body, by the names of
	// destination.MetadataNames; nil for kinds that carry none.
	Metadata map[string]string
}

// Observer reports what reached a destination.
type Observer interface {
	// Received waits until at least n deliveries have arrived or ctx is
	// done, and returns all those seen so far. It returns ctx's error when it
	// gave up waiting.
	Received(ctx context.Context, n int) ([]Received, error)
}

// Recorder is an Observer that the far end of a destination feeds with
// Record. The zero value is ready to use; it is safe for concurrent use.
type Recorder struct {
	mu      sync.Mutex
	got     []Received
	changed chan struct{} // closed and replaced by each Record
}

var _ Observer = (*Recorder)(nil)

// Record notes one received delivery and wakes the waiters.
func (r *Recorder) Record(rc Received) {
	rc.Body = bytes.Clone(rc.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, rc)
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
}

// Received implements Observer.
func (r *Recorder) Received(ctx context.Context, n int) ([]Received, error) {
	for {
		r.mu.Lock()
		if len(r.got) >= n {
			got := slices.Clone(r.got)
			r.mu.Unlock()
			return got, nil
		}
		if r.changed == nil {
			r.changed = make(chan struct{})
		}
		changed := r.changed
		r.mu.Unlock()

		select {
		case <-changed:
		case <-ctx.Done():
			r.mu.Lock()
			got := slices.Clone(r.got)
			r.mu.Unlock()
			return got, fmt.Errorf("%d of %d deliveries arrived: %w", len(got), n, ctx.Err())
		}
	}
}

// NewDelivery returns attempt 1 of delivery n of a sample event in Sent's
// current envelope. Each n gives a distinct event ID, dedupe key, subject
// and body. The body is the raw bytes a sender might produce — keys out of
// order, spacing, escaped and literal non-ASCII, a trailing newline — so a
// destination that decodes and re-encodes it is caught.
func NewDelivery(n int) *destination.Delivery {
	id := fmt.Sprintf("0199f1a2-7b3c-7d4e-8f5a-%012d", n)
	subject := fmt.Sprintf("8ba7b830-9dad-11d1-80b4-%012d", n)
	body := fmt.Sprintf(`{"sub_type":"message.delivered", "field":"message","timestamp":"2025-10-31T10:10:42Z",`+
		`"payload":{"message_id":"%s","message_status":"DELIVERED","channel":"sms",`+
		`"text":"caf\u00e9 ☕ <b>&amp;</b>","price":1.50e0,"n":%d}}`+"\n", subject, n)
	eventKey := fmt.Sprintf("evt_%06d", n)
	return &destination.Delivery{
		ID:      int64(1000 + n),
		Attempt: 1,
		// Its own status is its subject's latest: not stale.
		SubjectStatus: "DELIVERED",
		Event: &store.Event{Seq: int64(n + 1), EventData: store.EventData{
			ID:          id,
			Source:      "sent",
			DedupeKey:   eventKey,
			Field:       "message",
			Type:        "message.delivered",
			SubjectKind: "message_id",
			Subject:     subject,
			Status:      "DELIVERED",
			OccurredAt:  time.Date(2025, 10, 31, 10, 10, 42, 0, time.UTC),
			ReceivedAt:  time.Date(2025, 10, 31, 10, 10, 43, 0, time.UTC),
			Scheme:      "v1",
			Headers: map[string]string{
				"content-type":         "application/json; charset=utf-8",
				"user-agent":           "Sent-Webhooks/1.0",
				"x-webhook-id":         "d4f5a6b7-c8d9-4e0f-a1b2-c3d4e5f6a7b8",
				"x-webhook-timestamp":  "1761905442",
				"x-webhook-signature":  "v1,BdGvszniYLgk93FxFTxyqtUSCWEzQsZfFuUO2EYZWpE=",
				"x-webhook-event-id":   eventKey,
				"x-webhook-event-type": "message.delivered",
			},
			Body: []byte(body),
		}},
	}
}

// Concurrency is how many deliveries the concurrency test runs at once.
const Concurrency = 16

// hangGrace is how long after its deadline a hanging delivery may take to
// return before the suite calls it stuck.
const hangGrace = 10 * time.Second

// Run runs the conformance suite against the kind h describes. Each test
// runs in parallel with the others.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil {
		t.Fatal("destinationtest: Harness.New is required")
	}
	if h.HangTimeout <= 0 {
		h.HangTimeout = 200 * time.Millisecond
	}
	s := &suite{h: h}
	t.Run("RawBodyArrivesByteForByte", s.rawBody)
	t.Run("Classification", s.classification)
	t.Run("HangReturnsAtDeadlineAsTemporary", s.hang)
	t.Run("CancelledContextIsNotSuccess", s.cancelled)
	t.Run("ConcurrentDeliveriesAllArrive", s.concurrent)
}

type suite struct{ h Harness }

func (s *suite) skipIfNeverFails(t *testing.T) {
	t.Helper()
	if s.h.Limits.NeverFails {
		t.Skip("skipped: the kind never fails (Limits.NeverFails)")
	}
}

func (s *suite) rawBody(t *testing.T) {
	t.Parallel()
	dest, obs := s.h.New(t, Succeed)
	dl := NewDelivery(1)
	if o := destination.Classify(dest.Deliver(t.Context(), dl)); o.Class != destination.Succeeded {
		t.Fatalf("Deliver: %s (%v), want succeeded", o.Class, o.Err)
	}
	got := s.received(t, obs, 1)
	if len(got) != 1 {
		t.Fatalf("%d deliveries arrived, want 1", len(got))
	}
	if got[0].EventID != dl.Event.ID {
		t.Errorf("event ID arrived as %q, want %q", got[0].EventID, dl.Event.ID)
	}
	if !s.h.Limits.BodyNotObserved && !bytes.Equal(got[0].Body, dl.Event.Body) {
		t.Errorf("body arrived changed:\n got %q\nwant %q", got[0].Body, dl.Event.Body)
	}
}

func (s *suite) classification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		behaviour Behaviour
		want      destination.Class
	}{
		{Succeed, destination.Succeeded},
		{FailTemporary, destination.Temporary},
		{FailPermanent, destination.PermanentFailure},
	}
	for _, tt := range tests {
		t.Run(tt.behaviour.String(), func(t *testing.T) {
			t.Parallel()
			if tt.behaviour != Succeed {
				s.skipIfNeverFails(t)
			}
			dest, obs := s.h.New(t, tt.behaviour)
			dl := NewDelivery(2)
			o := destination.Classify(dest.Deliver(t.Context(), dl))
			if o.Class != tt.want {
				t.Fatalf("classified %s (err %v), want %s", o.Class, o.Err, tt.want)
			}
			if (o.Err == nil) != (tt.want == destination.Succeeded) {
				t.Errorf("Outcome.Err = %v for a %s outcome", o.Err, o.Class)
			}
			// A failing destination still received the delivery: the
			// failure is its answer, not a lost request.
			if tt.behaviour != Succeed && s.h.Limits.FailureNotObserved {
				return
			}
			got := s.received(t, obs, 1)
			if len(got) != 1 || got[0].EventID != dl.Event.ID {
				t.Errorf("received %d deliveries (%v), want event %s once", len(got), ids(got), dl.Event.ID)
			}
		})
	}
}

func (s *suite) hang(t *testing.T) {
	t.Parallel()
	s.skipIfNeverFails(t)
	dest, _ := s.h.New(t, Hang)
	ctx, cancel := context.WithTimeout(t.Context(), s.h.HangTimeout)
	defer cancel()

	done := make(chan error, 1)
	go func() { done <- dest.Deliver(ctx, NewDelivery(3)) }()
	var err error
	select {
	case err = <-done:
	case <-time.After(s.h.HangTimeout + hangGrace):
		t.Fatalf("Deliver still running %s after its %s deadline", hangGrace, s.h.HangTimeout)
	}
	if ctx.Err() == nil {
		t.Fatalf("a hanging destination returned before its deadline: %v", err)
	}
	if o := destination.Classify(err); o.Class != destination.Temporary || o.Err == nil {
		t.Errorf("classified %s (err %v), want temporary with an error", o.Class, o.Err)
	}
}

func (s *suite) cancelled(t *testing.T) {
	t.Parallel()
	s.skipIfNeverFails(t)
	dest, _ := s.h.New(t, Succeed)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if o := destination.Classify(dest.Deliver(ctx, NewDelivery(4))); o.Class != destination.Temporary {
		t.Errorf("with a cancelled context: classified %s (err %v), want temporary", o.Class, o.Err)
	}
}

func (s *suite) concurrent(t *testing.T) {
	t.Parallel()
	dest, obs := s.h.New(t, Succeed)
	want := make(map[string][]byte, Concurrency)
	errs := make([]error, Concurrency)
	var wg sync.WaitGroup
	for i := range Concurrency {
		dl := NewDelivery(100 + i)
		want[dl.Event.ID] = dl.Event.Body
		wg.Go(func() { errs[i] = dest.Deliver(t.Context(), dl) })
	}
	wg.Wait()
	for i, err := range errs {
		if o := destination.Classify(err); o.Class != destination.Succeeded {
			t.Errorf("delivery %d: classified %s (err %v), want succeeded", i, o.Class, o.Err)
		}
	}

	got := s.received(t, obs, Concurrency)
	seen := make(map[string]bool, len(got))
	for _, rc := range got {
		body, ok := want[rc.EventID]
		switch {
		case !ok:
			t.Errorf("unexpected event %q arrived", rc.EventID)
		case seen[rc.EventID]:
			t.Errorf("event %s arrived twice", rc.EventID)
		case !s.h.Limits.BodyNotObserved && !bytes.Equal(rc.Body, body):
			t.Errorf("event %s arrived with another body:\n got %q\nwant %q", rc.EventID, rc.Body, body)
		}
		seen[rc.EventID] = true
	}
	if len(seen) != Concurrency {
		t.Errorf("%d distinct events arrived, want %d", len(seen), Concurrency)
	}
}

// received waits a bounded time for n deliveries and fails the test when
// they do not come.
func (s *suite) received(t *testing.T, obs Observer, n int) []Received {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	got, err := obs.Received(ctx, n)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Observer.Received: %v", err)
	}
	if err != nil {
		t.Errorf("Observer.Received: %v", err)
	}
	return got
}

func ids(rs []Received) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.EventID
	}
	return out
}

// EventIDOf returns the ID of the event NewDelivery made body for, or ""
// for a body it did not make: for kinds whose far end receives the body
// alone, with no metadata to name the event.
func EventIDOf(body []byte) string {
	const mark = `"message_id":"8ba7b830-9dad-11d1-80b4-`
	i := bytes.Index(body, []byte(mark))
	if i < 0 || len(body) < i+len(mark)+12 {
		return ""
	}
	return "0199f1a2-7b3c-7d4e-8f5a-" + string(body[i+len(mark):i+len(mark)+12])
}
