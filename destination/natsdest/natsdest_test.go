package natsdest_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
	"github.com/hooklatch/hooklatch/destination/natsdest"
)

// server returns the test NATS server's URL and a JetStream client of it.
func server(t testing.TB) (string, jetstream.JetStream) {
	t.Helper()
	raw := destinationtest.ServiceURL(t, "HOOKLATCH_TEST_NATS")
	nc, err := nats.Connect(raw)
	if err != nil {
		t.Fatalf("HOOKLATCH_TEST_NATS: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return raw, js
}

// newStream creates a stream of its own on a subject of its own, deleted
// after the test.
func newStream(t testing.TB, js jetstream.JetStream) (stream, subject string) {
	t.Helper()
	stream, subject = destinationtest.UniqueName("HOOKLATCH_TEST_"), destinationtest.UniqueName("hooklatch.test.")
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: stream, Subjects: []string{subject}, Duplicates: 10 * time.Minute}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), stream) })
	return stream, subject
}

func newDest(t testing.TB, cfg natsdest.Config) *natsdest.Destination {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	return destinationtest.Open(t, natsdest.New, cfg)
}

// observe reads the stream with an ordered JetStream consumer until the
// test ends.
func observe(t *testing.T, js jetstream.JetStream, stream string) *destinationtest.Recorder {
	t.Helper()
	rec := new(destinationtest.Recorder)
	cons, err := js.OrderedConsumer(t.Context(), stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatalf("consumer: %v", err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		rc := destinationtest.Received{Body: m.Data(), Metadata: map[string]string{}}
		for k, v := range m.Headers() {
			rc.Metadata[k] = v[0]
		}
		rc.EventID = m.Headers().Get(destination.MetaEventID)
		rec.Record(rc)
	})
	if err != nil {
		t.Fatalf("consume: %v", err)
	}
	t.Cleanup(cc.Stop)
	return rec
}

func TestConformance(t *testing.T) {
	t.Parallel()
	raw, js := server(t)
	u, _ := url.Parse(raw)
	destinationtest.RunBroker(t, destinationtest.BrokerHarness{
		Addr:    u.Host,
		Dedupes: true,
		New: func(t *testing.T, addr string) (destination.Destination, destinationtest.Observer) {
			stream, subject := newStream(t, js)
			return newDest(t, natsdest.Config{URL: destinationtest.Via(t, raw, addr), Subject: subject, Stream: stream}), observe(t, js, stream)
		},
		NewRefusing: func(t *testing.T) destination.Destination {
			// The subject is stored by one stream; the destination expects
			// another.
			_, subject := newStream(t, js)
			other, _ := newStream(t, js)
			return newDest(t, natsdest.Config{URL: raw, Subject: subject, Stream: other})
		},
	})
}

// With a stream that does not exist, the first delivery creates it, on the
// subject, with the dedupe window; a retry is then dropped as a duplicate.
func TestCreatesTheStream(t *testing.T) {
	t.Parallel()
	raw, js := server(t)
	stream, subject := destinationtest.UniqueName("HOOKLATCH_TEST_"), destinationtest.UniqueName("hooklatch.test.")
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), stream) })
	d := newDest(t, natsdest.Config{URL: raw, Subject: subject, Stream: stream, DedupeWindow: 90 * time.Second})
	dl := destinationtest.NewDelivery(1)
	for attempt := 1; attempt <= 2; attempt++ {
		dl.Attempt = attempt
		if o := destination.Classify(d.Deliver(t.Context(), dl)); o.Err != nil {
			t.Fatalf("attempt %d: %s: %v", attempt, o.Class, o.Err)
		} else if attempt == 2 && !strings.Contains(o.Result.Response, "duplicate") {
			t.Errorf("the retry answered %q, want it called a duplicate", o.Result.Response)
		}
	}
	s, err := js.Stream(t.Context(), stream)
	if err != nil {
		t.Fatalf("the stream was not created: %v", err)
	}
	info := s.CachedInfo()
	if info.Config.Duplicates != 90*time.Second || len(info.Config.Subjects) != 1 || info.Config.Subjects[0] != subject {
		t.Errorf("created with subjects %v and window %s, want [%s] and 1m30s", info.Config.Subjects, info.Config.Duplicates, subject)
	}
	if info.State.Msgs != 1 {
		t.Errorf("stream holds %d messages after a retry, want 1", info.State.Msgs)
	}
	msg, err := s.GetMsg(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := msg.Header.Get(jetstream.MsgIDHeader); got != dl.Event.ID {
		t.Errorf("Nats-Msg-Id = %q, want the event ID %s", got, dl.Event.ID)
	}
}

// Without a stream that takes the subject, a delivery fails, temporarily:
// someone may yet create it, and the message says how.
func TestNoStreamIsTemporaryAndSaysWhy(t *testing.T) {
	t.Parallel()
	raw, _ := server(t)
	d := newDest(t, natsdest.Config{URL: raw, Subject: destinationtest.UniqueName("hooklatch.nostream.")})
	o := destination.Classify(d.Deliver(t.Context(), destinationtest.NewDelivery(1)))
	if o.Class != destination.Temporary || o.Err == nil || !strings.Contains(o.Err.Error(), "no stream answered") {
		t.Fatalf("classified %s (%v), want temporary saying no stream answered", o.Class, o.Err)
	}
}

func TestParseURL(t *testing.T) {
	t.Parallel()
	destinationtest.CheckURLs(t, natsdest.ParseURL, natsdest.New, []destinationtest.URLCase[natsdest.Config]{
		{URL: "nats://127.0.0.1:4222?subject=sent.events", Want: natsdest.Config{URL: "nats://127.0.0.1:4222", Subject: "sent.events"}},
		{URL: "nats://u:p@h:4222?subject=s&stream=S&dedupe_window=1h", Want: natsdest.Config{URL: "nats://u:p@h:4222", Subject: "s", Stream: "S", DedupeWindow: time.Hour}},
		{URL: "nats://h:4222", WantErr: "Subject: required"},
		{URL: "nats://h:4222?subject=s&streem=S", WantErr: "unknown query parameter streem"},
		{URL: "nats://h:4222?subject=s.*", WantErr: "wildcards"},
		{URL: "nats://h:4222?subject=s&stream=a.b", WantErr: "Stream"},
		{URL: "nats://h:4222?subject=s&dedupe_window=-1s", WantErr: "DedupeWindow"},
		{URL: "http://h:4222?subject=s", WantErr: "want nats://"},
	})
}
