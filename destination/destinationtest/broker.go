package destinationtest

import (
	"bytes"
	"context"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/destination"
)

// BrokerHarness tells RunBroker how to build and watch one broker kind.
type BrokerHarness struct {
	// Addr is the broker's host:port.
	//
	// Required.
	Addr string

	// New returns a destination that publishes through addr (Addr, or a
	// Proxy in front of it) to a stream, subject, queue or topic no other
	// test uses, and an Observer that consumes from there with the broker's
	// own client, reaching the broker directly. The destination must be an
	// io.Closer; closing it twice must be harmless. Register clean-up with
	// t.Cleanup.
	//
	// Required.
	New func(t *testing.T, addr string) (destination.Destination, Observer)

	// NewRefusing returns a destination whose every message the broker
	// refuses in a way retrying cannot fix (unroutable, or a key of the
	// wrong type).
	//
	// Required.
	NewRefusing func(t *testing.T) destination.Destination

	// Dedupes is set when the broker drops a second publish of an event it
	// holds already, by the event's ID: a retry after a lost confirmation
	// then leaves one message. The Observer must see messages in the order
	// the broker stored them.
	Dedupes bool

	// Proxy returns a Proxy in front of the broker, for the tests that cut
	// it off. Defaults to NewProxy(t, Addr); a kind whose clients learn
	// broker addresses from the broker itself (Kafka) supplies its own.
	Proxy func(t *testing.T) *Proxy
}

// RunBroker runs Run against the broker kind h describes, then the checks
// a broker destination owes on top of it:
//
//   - metadata arrives beside the body, under destination.MetadataNames
//     (hooklatch-source among them, naming the event's source),
//     with a delivery ID above 2^62 kept exact;
//   - hooklatch-stale and hooklatch-subject-status say "true" and the
//     later status for a stale delivery, "false" and the event's own for
//     the latest, "false" and empty for an event with no subject;
//   - a broker that is down is a temporary failure, and once it is back the
//     retry is delivered;
//   - a retry after the broker stored a message but its confirmation was
//     lost leaves one message where the broker dedupes, and at least one
//     everywhere;
//   - a broker cut off in the middle of a stream of deliveries, each
//     retried until it succeeds as the dispatcher would, loses no
//     acknowledged event and, where the broker dedupes, duplicates none;
//   - Close waits for the confirmations in flight: every delivery that
//     succeeded is in the broker, and Deliver after Close fails.
//
// In Run, a temporary failure is a broker that refuses connections and a
// hang a broker that never answers, both made with a Proxy.
func RunBroker(t *testing.T, h BrokerHarness) {
	t.Helper()
	if h.New == nil || h.NewRefusing == nil || h.Addr == "" {
		t.Fatal("destinationtest: BrokerHarness.Addr, New and NewRefusing are required")
	}
	if h.Proxy == nil {
		h.Proxy = func(t *testing.T) *Proxy { return NewProxy(t, h.Addr) }
	}
	b := &brokerSuite{h: h}
	t.Run("Conformance", func(t *testing.T) { Run(t, b.harness()) })
	t.Run("MetadataArrives", b.metadata)
	t.Run("StaleMetadataArrives", b.staleMetadata)
	t.Run("BrokerDownIsTemporaryThenDelivered", b.down)
	t.Run("RetryAfterLostConfirmation", b.lostConfirmation)
	t.Run("OutageMidStreamLosesNothing", b.outage)
	t.Run("CloseWaitsForConfirms", b.close)
}

type brokerSuite struct{ h BrokerHarness }

// harness maps Run's behaviours onto a broker.
func (b *brokerSuite) harness() Harness {
	return Harness{
		New: func(t *testing.T, beh Behaviour) (destination.Destination, Observer) {
			switch beh {
			case FailTemporary:
				p := b.h.Proxy(t)
				p.Cut()
				return b.h.New(t, p.Addr())
			case FailPermanent:
				return b.h.NewRefusing(t), new(Recorder)
			case Hang:
				p := b.h.Proxy(t)
				p.Blackhole()
				return b.h.New(t, p.Addr())
			}
			return b.h.New(t, b.h.Addr)
		},
		Limits:      Limits{FailureNotObserved: true},
		HangTimeout: 500 * time.Millisecond,
	}
}

func (b *brokerSuite) metadata(t *testing.T) {
	t.Parallel()
	dest, obs := b.h.New(t, b.h.Addr)
	dl := NewDelivery(200)
	dl.Attempt = 3
	dl.ID = 1<<62 + 200          // delivery IDs are opaque and may be large
	dl.Event.Source = "payments" // a configured source, not the default
	deliverOK(t, dest, dl)
	got := waitFor(t, obs, dl.Event.ID)
	rc := got[dl.Event.ID][0]
	if !bytes.Equal(rc.Body, dl.Event.Body) {
		t.Errorf("body arrived changed:\n got %q\nwant %q", rc.Body, dl.Event.Body)
	}
	for _, f := range destination.Metadata(dl) {
		if v, ok := rc.Metadata[f.Name]; !ok || v != f.Value {
			t.Errorf("metadata %s = %q (present %v), want %q", f.Name, v, ok, f.Value)
		}
	}
	// Spelled out, so that a list that lost the name still fails here.
	if v := rc.Metadata["hooklatch-source"]; v != "payments" {
		t.Errorf("metadata hooklatch-source = %q, want the event's source %q", v, "payments")
	}
}

func (b *brokerSuite) staleMetadata(t *testing.T) {
	t.Parallel()
	dest, obs := b.h.New(t, b.h.Addr)
	stale := NewDelivery(210)
	stale.Stale, stale.SubjectStatus = true, "READ"
	latest := NewDelivery(211)
	noSubject := NewDelivery(212)
	noSubject.Event.SubjectKind, noSubject.Event.Subject, noSubject.SubjectStatus = "", "", ""
	want := map[string][2]string{ // event ID: hooklatch-stale, hooklatch-subject-status
		stale.Event.ID:     {"true", "READ"},
		latest.Event.ID:    {"false", "DELIVERED"},
		noSubject.Event.ID: {"false", ""},
	}
	for _, dl := range []*destination.Delivery{stale, latest, noSubject} {
		deliverOK(t, dest, dl)
	}
	got := waitFor(t, obs, stale.Event.ID, latest.Event.ID, noSubject.Event.ID)
	for id, w := range want {
		md := got[id][0].Metadata
		for i, name := range []string{destination.MetaStale, destination.MetaSubjectStatus} {
			if v, ok := md[name]; !ok || v != w[i] {
				t.Errorf("event %s: metadata %s = %q (present %v), want %q", id, name, v, ok, w[i])
			}
		}
	}
}

func (b *brokerSuite) down(t *testing.T) {
	t.Parallel()
	p := b.h.Proxy(t)
	dest, obs := b.h.New(t, p.Addr())
	deliverOK(t, dest, NewDelivery(400)) // a connection exists before the outage
	p.Cut()
	dl := NewDelivery(401)
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	o := destination.Classify(dest.Deliver(ctx, dl))
	cancel()
	if o.Class != destination.Temporary || o.Err == nil {
		t.Fatalf("with the broker down: classified %s (err %v), want temporary with an error", o.Class, o.Err)
	}
	p.Restore()
	dl.Attempt = 2
	deliverEventually(t, dest, dl)
	got := waitFor(t, obs, dl.Event.ID, NewDelivery(400).Event.ID)
	if b.h.Dedupes && len(got[dl.Event.ID]) != 1 {
		t.Errorf("event %s arrived %d times, want once", dl.Event.ID, len(got[dl.Event.ID]))
	}
}

func (b *brokerSuite) lostConfirmation(t *testing.T) {
	t.Parallel()
	p := b.h.Proxy(t)
	dest, obs := b.h.New(t, p.Addr())
	deliverOK(t, dest, NewDelivery(300))

	p.DropReplies()
	lost := NewDelivery(301)
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	o := destination.Classify(dest.Deliver(ctx, lost))
	cancel()
	if o.Class == destination.Succeeded {
		t.Fatal("a delivery whose confirmation was lost succeeded")
	}
	p.Restore()
	lost.Attempt = 2
	deliverEventually(t, dest, lost)
	after := NewDelivery(302)
	deliverEventually(t, dest, after)

	got := waitFor(t, obs, lost.Event.ID, after.Event.ID)
	if n := len(got[lost.Event.ID]); b.h.Dedupes && n != 1 {
		t.Errorf("the retried event arrived %d times, want once: the broker should have dropped the retry", n)
	}
}

// Outage test sizes.
const (
	outageEvents  = 120
	outageWorkers = 4
	outageCutAt   = 30 // acknowledged events before the cut
)

func (b *brokerSuite) outage(t *testing.T) {
	t.Parallel()
	p := b.h.Proxy(t)
	dest, obs := b.h.New(t, p.Addr())

	var (
		next, failures atomic.Int64
		failed         = make(chan struct{})
		failedOnce     sync.Once
		cut            = make(chan struct{})
		acked          = make(chan string, outageEvents)
		wg             sync.WaitGroup
	)
	for range outageWorkers {
		wg.Go(func() {
			for n := next.Add(1); n <= outageEvents; n = next.Add(1) {
				if n > outageCutAt+outageWorkers {
					<-cut // the first after the cut are in flight as it comes
				}
				dl := NewDelivery(int(1000 + n))
				retryUntilDelivered(t, dest, dl, func() {
					if failures.Add(1) >= outageWorkers {
						failedOnce.Do(func() { close(failed) })
					}
				})
				acked <- dl.Event.ID
			}
		})
	}
	want := make([]string, 0, outageEvents)
	for len(want) < outageCutAt {
		want = append(want, <-acked)
	}
	p.Cut()
	close(cut)
	select {
	case <-failed:
	case <-t.Context().Done():
		t.Fatal("no delivery failed while the broker was cut off")
	}
	p.Restore()
	wg.Wait()
	close(acked)
	for id := range acked {
		want = append(want, id)
	}
	if len(want) != outageEvents {
		t.Fatalf("%d events acknowledged, want %d", len(want), outageEvents)
	}
	got := waitFor(t, obs, want...)
	if b.h.Dedupes {
		for id, rs := range got {
			if len(rs) > 1 {
				t.Errorf("event %s arrived %d times across the outage, want once", id, len(rs))
			}
		}
	}
	t.Logf("%d failed attempts during the outage", failures.Load())
}

func (b *brokerSuite) close(t *testing.T) {
	t.Parallel()
	dest, obs := b.h.New(t, b.h.Addr)
	closer, ok := dest.(io.Closer)
	if !ok {
		t.Fatalf("%T has no Close method", dest)
	}
	first := make(chan struct{})
	var once sync.Once
	errs := make([]error, Concurrency)
	var wg sync.WaitGroup
	for i := range Concurrency {
		wg.Go(func() {
			errs[i] = dest.Deliver(t.Context(), NewDelivery(500+i))
			once.Do(func() { close(first) })
		})
	}
	<-first
	if err := closer.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	wg.Wait()
	var delivered []string
	for i, err := range errs {
		if destination.Classify(err).Class == destination.Succeeded {
			delivered = append(delivered, NewDelivery(500+i).Event.ID)
		}
	}
	waitFor(t, obs, delivered...)
	if o := destination.Classify(dest.Deliver(t.Context(), NewDelivery(599))); o.Class == destination.Succeeded {
		t.Error("Deliver after Close succeeded")
	}
	t.Logf("%d of %d deliveries in flight at Close were confirmed", len(delivered), Concurrency)
}

// deliverOK delivers dl once and fails the test unless it succeeds.
func deliverOK(t *testing.T, dest destination.Destination, dl *destination.Delivery) {
	t.Helper()
	if o := destination.Classify(dest.Deliver(t.Context(), dl)); o.Class != destination.Succeeded {
		t.Fatalf("Deliver %s: classified %s (err %v), want succeeded", dl.Event.ID, o.Class, o.Err)
	}
}

// deliverEventually retries dl, as the dispatcher would, until it succeeds.
func deliverEventually(t *testing.T, dest destination.Destination, dl *destination.Delivery) {
	t.Helper()
	retryUntilDelivered(t, dest, dl, func() {})
}

// retryUntilDelivered gives up, failing the test, after this many attempts.
const maxRetries = 200

func retryUntilDelivered(t *testing.T, dest destination.Destination, dl *destination.Delivery, onFailure func()) {
	for attempt := dl.Attempt; ; attempt++ {
		dl.Attempt = attempt
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		o := destination.Classify(dest.Deliver(ctx, dl))
		cancel()
		switch {
		case o.Class == destination.Succeeded:
			return
		case o.Class == destination.PermanentFailure:
			t.Errorf("Deliver %s attempt %d: permanent (%v), want temporary while the broker is away", dl.Event.ID, attempt, o.Err)
			return
		case attempt >= maxRetries || t.Context().Err() != nil:
			t.Errorf("Deliver %s: still failing after %d attempts: %v", dl.Event.ID, attempt, o.Err)
			return
		}
		onFailure()
		select { // pace the retries, as the dispatcher's backoff does
		case <-time.After(50 * time.Millisecond):
		case <-t.Context().Done():
		}
	}
}

// waitFor waits until every one of ids has arrived and returns what arrived,
// by event ID. It fails the test when they do not all come in time.
func waitFor(t *testing.T, obs Observer, ids ...string) map[string][]Received {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	byID := map[string][]Received{}
	missing := func() []string {
		var out []string
		for _, id := range ids {
			if len(byID[id]) == 0 {
				out = append(out, id)
			}
		}
		return out
	}
	for n := 0; ; {
		got, err := obs.Received(ctx, n)
		byID = map[string][]Received{}
		for _, rc := range got {
			byID[rc.EventID] = append(byID[rc.EventID], rc)
		}
		m := missing()
		if len(m) == 0 {
			return byID
		}
		if err != nil {
			t.Fatalf("%d of %d events never arrived (first %s): %v", len(m), len(ids), m[0], err)
		}
		n = len(got) + 1
	}
}
