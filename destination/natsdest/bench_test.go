package natsdest_test

import (
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
	"github.com/hooklatch/hooklatch/destination/natsdest"
)

// BenchmarkNATSDeliver publishes distinct events through a Destination,
// from many goroutines, each waiting for the stream's acknowledgement.
func BenchmarkNATSDeliver(b *testing.B) {
	raw, js := server(b)
	stream, subject := newStream(b, js)
	d := newDest(b, natsdest.Config{URL: raw, Subject: subject, Stream: stream})
	next := destinationtest.Distinct()
	destinationtest.RunParallel(b, func() error { return destinationtest.Delivered(b, d, next()) })
}

// BenchmarkNATSBarePublish publishes the same messages with a plain
// synchronous JetStream publish from nats.go: the baseline
// BenchmarkNATSDeliver is measured against.
func BenchmarkNATSBarePublish(b *testing.B) {
	_, js := server(b)
	_, subject := newStream(b, js)
	next := destinationtest.Distinct()
	destinationtest.RunParallel(b, func() error {
		dl := next()
		msg := &nats.Msg{Subject: subject, Data: dl.Event.Body, Header: nats.Header{}}
		for _, f := range destination.Metadata(dl) {
			msg.Header[f.Name] = []string{f.Value}
		}
		_, err := js.PublishMsg(b.Context(), msg, jetstream.WithMsgID(dl.Event.ID))
		return err
	})
}
