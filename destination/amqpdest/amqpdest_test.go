package amqpdest_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/amqpdest"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
)

// server returns the test broker's URL and a channel on it.
func server(t testing.TB) (string, *amqp.Channel) {
	t.Helper()
	raw := destinationtest.ServiceURL(t, "HOOKLATCH_TEST_AMQP")
	conn, err := amqp.Dial(raw)
	if err != nil {
		t.Fatalf("HOOKLATCH_TEST_AMQP: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return raw, ch
}

func newDest(t testing.TB, cfg amqpdest.Config) *amqpdest.Destination {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	return destinationtest.Open(t, amqpdest.New, cfg)
}

// newExchange declares an exchange of the test's own, with a queue bound
// to it by the routing key "events", and consumes the queue as a worker
// would, until the test ends.
func newExchange(t *testing.T, ch *amqp.Channel) (string, *destinationtest.Recorder) {
	t.Helper()
	name := destinationtest.UniqueName("hooklatch-test-")
	if err := ch.ExchangeDeclare(name, "direct", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare(name, false, true, false, false, nil)
	if err == nil {
		err = ch.QueueBind(q.Name, "events", name, false, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = ch.QueueDelete(name, false, false, false); _ = ch.ExchangeDelete(name, false, false) })
	msgs, err := ch.Consume(q.Name, "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := new(destinationtest.Recorder)
	go func() {
		for m := range msgs {
			rec.Record(received(m))
		}
	}()
	return name, rec
}

func received(m amqp.Delivery) destinationtest.Received {
	rc := destinationtest.Received{Body: m.Body, Metadata: map[string]string{}}
	for k, v := range m.Headers {
		rc.Metadata[k], _ = v.(string)
	}
	rc.EventID = rc.Metadata[destination.MetaEventID]
	return rc
}

func TestConformance(t *testing.T) {
	t.Parallel()
	raw := destinationtest.ServiceURL(t, "HOOKLATCH_TEST_AMQP")
	u, _ := url.Parse(raw)
	destinationtest.RunBroker(t, destinationtest.BrokerHarness{
		Addr: u.Host,
		New: func(t *testing.T, addr string) (destination.Destination, destinationtest.Observer) {
			// Each test its own consuming channel: a consumer's channel is
			// not to be shared with declarations.
			_, ch := server(t)
			exchange, rec := newExchange(t, ch)
			return newDest(t, amqpdest.Config{URL: destinationtest.Via(t, raw, addr), Exchange: exchange, RoutingKey: "events"}), rec
		},
		NewRefusing: func(t *testing.T) destination.Destination {
			// amq.direct exists, and no queue is bound with this key: the
			// broker returns the mandatory message.
			return newDest(t, amqpdest.Config{URL: raw, Exchange: "amq.direct", RoutingKey: destinationtest.UniqueName("nobody-")})
		},
	})
}

// With exchange_type and queue, the destination declares both, durable,
// and binds them; the message is persistent, with the event's ID as
// message_id.
func TestDeclaresAndPublishesPersistent(t *testing.T) {
	t.Parallel()
	raw, ch := server(t)
	exchange, queue := destinationtest.UniqueName("hooklatch-test-"), destinationtest.UniqueName("hooklatch-test-")
	t.Cleanup(func() {
		_, _ = ch.QueueDelete(queue, false, false, false)
		_ = ch.ExchangeDelete(exchange, false, false)
	})
	d := newDest(t, amqpdest.Config{URL: raw, Exchange: exchange, ExchangeType: "topic", Queue: queue, RoutingKey: "sent.#"})
	dl := destinationtest.NewDelivery(1)
	if o := destination.Classify(d.Deliver(t.Context(), dl)); o.Err != nil {
		t.Fatalf("Deliver: %s: %v", o.Class, o.Err)
	}
	m, ok, err := ch.Get(queue, true)
	if err != nil || !ok {
		t.Fatalf("the declared queue holds nothing: %v", err)
	}
	if m.DeliveryMode != amqp.Persistent || m.MessageId != dl.Event.ID || m.ContentType != "application/json; charset=utf-8" || m.Type != "message.delivered" {
		t.Errorf("delivery mode %d, message_id %q, content type %q, type %q; want persistent, %s, the stored content type, message.delivered",
			m.DeliveryMode, m.MessageId, m.ContentType, m.Type, dl.Event.ID)
	}
	if string(m.Body) != string(dl.Event.Body) {
		t.Errorf("body %q, want %q", m.Body, dl.Event.Body)
	}
	if err := ch.ExchangeDeclarePassive(exchange, "topic", true, false, false, false, nil); err != nil {
		t.Errorf("the exchange is not durable and of type topic: %v", err)
	}
}

// Publishing to an exchange that does not exist is permanent, and the
// destination recovers its channel for the next delivery.
func TestMissingExchangeIsPermanent(t *testing.T) {
	t.Parallel()
	raw := destinationtest.ServiceURL(t, "HOOKLATCH_TEST_AMQP")
	d := newDest(t, amqpdest.Config{URL: raw, Exchange: destinationtest.UniqueName("no-such-exchange-"), RoutingKey: "k"})
	for i := range 2 {
		o := destination.Classify(d.Deliver(t.Context(), destinationtest.NewDelivery(i)))
		if o.Class != destination.PermanentFailure || !strings.Contains(o.Err.Error(), "NOT_FOUND") {
			t.Fatalf("delivery %d: classified %s (%v), want permanent NOT_FOUND", i, o.Class, o.Err)
		}
	}
}

// An unroutable message is permanent and says why, in the broker's words.
func TestUnroutableSaysWhy(t *testing.T) {
	t.Parallel()
	raw := destinationtest.ServiceURL(t, "HOOKLATCH_TEST_AMQP")
	key := destinationtest.UniqueName("nobody-")
	d := newDest(t, amqpdest.Config{URL: raw, Exchange: "amq.direct", RoutingKey: key})
	o := destination.Classify(d.Deliver(t.Context(), destinationtest.NewDelivery(1)))
	if o.Class != destination.PermanentFailure || !strings.Contains(o.Err.Error(), "NO_ROUTE") || !strings.Contains(o.Err.Error(), key) {
		t.Fatalf("classified %s (%v), want permanent NO_ROUTE naming the key", o.Class, o.Err)
	}
}

func TestParseURL(t *testing.T) {
	t.Parallel()
	destinationtest.CheckURLs(t, amqpdest.ParseURL, amqpdest.New, []destinationtest.URLCase[amqpdest.Config]{
		{URL: "amqp://guest:guest@127.0.0.1:5672/?exchange=sent&routing_key=events",
			Want: amqpdest.Config{URL: "amqp://guest:guest@127.0.0.1:5672/", Exchange: "sent", RoutingKey: "events"}},
		{URL: "amqp://u:p@h:5672/vh?exchange=x&exchange_type=topic&queue=q&routing_key=sent.%23&heartbeat=5",
			Want: amqpdest.Config{URL: "amqp://u:p@h:5672/vh?heartbeat=5", Exchange: "x", ExchangeType: "topic", Queue: "q", RoutingKey: "sent.#"}},
		{URL: "amqp://h:5672/?queue=q", Want: amqpdest.Config{URL: "amqp://h:5672/", Queue: "q"}},
		{URL: "amqp://h:5672/?exchange=x", WantErr: "RoutingKey: required"},
		{URL: "amqp://h:5672/?exchange=x&routing_key=k&routingkey=k", WantErr: "unknown query parameter routingkey"},
		{URL: "amqp://h:5672/?exchange=x&routing_key=k&exchange_type=fan", WantErr: "ExchangeType"},
		{URL: "amqp://h:5672/?routing_key=k&exchange_type=topic", WantErr: "give its name too"},
		{URL: "amqq://h:5672/?routing_key=k", WantErr: "URL"},
		{URL: "amqp://h:5672/?exchange=x&routing_key=sent.#", WantErr: "write a # in a routing key as %23"},
	})
}

// A publish awaiting its confirmation when the connection drops fails at
// once, as temporary, rather than at its deadline: the dispatcher retries
// it without waiting out the attempt.
func TestDroppedConnectionFailsWhatAwaitsConfirmation(t *testing.T) {
	t.Parallel()
	raw, ch := server(t)
	exchange, rec := newExchange(t, ch)
	u, _ := url.Parse(raw)
	proxy := destinationtest.NewProxy(t, u.Host)
	d := newDest(t, amqpdest.Config{URL: destinationtest.Via(t, raw, proxy.Addr()), Exchange: exchange, RoutingKey: "events", Timeout: time.Minute})
	if o := destination.Classify(d.Deliver(t.Context(), destinationtest.NewDelivery(1))); o.Err != nil {
		t.Fatalf("Deliver: %s: %v", o.Class, o.Err)
	}

	proxy.DropReplies()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Deliver(ctx, destinationtest.NewDelivery(2)) }()
	if _, err := rec.Received(t.Context(), 2); err != nil { // stored; its confirmation lost
		t.Fatal(err)
	}
	proxy.Cut()
	err := <-done
	if ctx.Err() != nil {
		t.Fatal("Deliver waited for its deadline after the connection dropped")
	}
	if o := destination.Classify(err); o.Class != destination.Temporary || !strings.Contains(err.Error(), "connection closed before the broker confirmed") {
		t.Errorf("classified %s (%v), want temporary, saying the connection closed before the confirmation", o.Class, err)
	}
}
