package kafkadest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
	"github.com/hooklatch/hooklatch/destination/kafkadest"
)

// No Kafka server can be installed on these machines: the tests run
// against franz-go's in-process cluster, kfake, and in CI kcat (built on
// librdkafka, an independent client) reads back what was produced.

// cluster is one in-process cluster and how to reach it past any proxy.
type cluster struct {
	c    *kfake.Cluster
	addr string // the address it advertises: a proxy's, or its own
	real string // its own listener's
}

func newCluster(t testing.TB, opts ...kfake.Opt) *cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.DefaultNumPartitions(3)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	return &cluster{c: c, addr: addr, real: addr}
}

// newProxiedCluster starts a cluster behind a Proxy that it advertises as
// its own address, so that clients, which learn broker addresses from the
// cluster, go through the proxy.
func newProxiedCluster(t *testing.T) (*cluster, *destinationtest.Proxy) {
	t.Helper()
	var p *destinationtest.Proxy
	var real string
	c := newCluster(t, kfake.ListenFn(func(network, address string) (net.Listener, error) {
		ln, err := net.Listen(network, address)
		if err != nil {
			return nil, err
		}
		real = ln.Addr().String()
		p = destinationtest.NewProxy(t, real)
		return advertised{ln, p}, nil
	}))
	c.real = real
	return c, p
}

// advertised is a listener that reports the proxy's address as its own.
type advertised struct {
	net.Listener
	p *destinationtest.Proxy
}

func (a advertised) Addr() net.Addr {
	addr, _ := net.ResolveTCPAddr("tcp", a.p.Addr())
	return addr
}

// client returns a client of c that reaches it directly, even when it
// advertises a proxy.
func (c *cluster) client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	dial := func(ctx context.Context, network, host string) (net.Conn, error) {
		if host == c.addr {
			host = c.real
		}
		return new(net.Dialer).DialContext(ctx, network, host)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.addr), kgo.Dialer(dial)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// newTopic creates a topic of the test's own on c, with three partitions.
func (c *cluster) newTopic(t testing.TB) string {
	t.Helper()
	name := destinationtest.UniqueName("hooklatch-test-")
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 3, 1
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(t.Context(), c.client(t))
	if err == nil && resp.Topics[0].ErrorCode != 0 {
		err = kerr.ErrorForCode(resp.Topics[0].ErrorCode)
	}
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	return name
}

// observe consumes the topic from its start, as a worker would, until the
// test ends.
func (c *cluster) observe(t *testing.T, topic string) *destinationtest.Recorder {
	t.Helper()
	cl := c.client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	rec := new(destinationtest.Recorder)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { rec.Record(received(r)) })
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return rec
}

func received(r *kgo.Record) destinationtest.Received {
	rc := destinationtest.Received{Body: r.Value, Metadata: map[string]string{}}
	for _, h := range r.Headers {
		rc.Metadata[h.Key] = string(h.Value)
	}
	rc.EventID = rc.Metadata[destination.MetaEventID]
	return rc
}

func newDest(t testing.TB, cfg kafkadest.Config) *kafkadest.Destination {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	return destinationtest.Open(t, kafkadest.New, cfg)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	shared := newCluster(t)
	var mu sync.Mutex
	clusters := map[string]*cluster{shared.addr: shared} // by the address destinations dial
	destinationtest.RunBroker(t, destinationtest.BrokerHarness{
		Addr: shared.addr,
		Proxy: func(t *testing.T) *destinationtest.Proxy {
			c, p := newProxiedCluster(t)
			mu.Lock()
			clusters[p.Addr()] = c
			mu.Unlock()
			return p
		},
		New: func(t *testing.T, addr string) (destination.Destination, destinationtest.Observer) {
			mu.Lock()
			c := clusters[addr]
			mu.Unlock()
			topic := c.newTopic(t)
			return newDest(t, kafkadest.Config{URL: "kafka://" + addr, Topic: topic}), c.observe(t, topic)
		},
		NewRefusing: func(t *testing.T) destination.Destination {
			// The cluster takes nothing as large as an event.
			c := newCluster(t, kfake.BrokerConfigs(map[string]string{"message.max.bytes": "200"}))
			return newDest(t, kafkadest.Config{URL: "kafka://" + c.addr, Topic: c.newTopic(t)})
		},
	})
}

// Records are keyed by the event's subject, so that one message's
// statuses land on one partition, in order.
func TestKeyedBySubject(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	topic := c.newTopic(t)
	d := newDest(t, kafkadest.Config{URL: "kafka://" + c.addr, Topic: topic})
	const statuses = 6
	for i := range statuses {
		dl := destinationtest.NewDelivery(100 + i)
		dl.Event.Subject = "the-same-message"
		if o := destination.Classify(d.Deliver(t.Context(), dl)); o.Err != nil {
			t.Fatalf("Deliver: %s: %v", o.Class, o.Err)
		}
	}
	cl := c.client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []*kgo.Record
	for len(got) < statuses {
		cl.PollFetches(t.Context()).EachRecord(func(r *kgo.Record) { got = append(got, r) })
	}
	for i, r := range got {
		if string(r.Key) != "the-same-message" || r.Partition != got[0].Partition {
			t.Fatalf("record %d: key %q on partition %d, want the subject on partition %d", i, r.Key, r.Partition, got[0].Partition)
		}
		if want := destinationtest.NewDelivery(100 + i).Event.ID; received(r).EventID != want {
			t.Errorf("record %d is event %s, want %s: out of order", i, received(r).EventID, want)
		}
	}
}

// kcat, built on librdkafka rather than franz-go, reads back the body byte
// for byte and the metadata headers.
func TestKcatReadsWhatWasProduced(t *testing.T) {
	t.Parallel()
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("HOOKLATCH_REQUIRE_SERVICES") == "1" {
			t.Fatal("kcat is not installed (apt-get install -y kcat), and HOOKLATCH_REQUIRE_SERVICES=1 requires it")
		}
		t.Skip("skipped: kcat is not installed")
	}
	c := newCluster(t)
	topic := c.newTopic(t)
	d := newDest(t, kafkadest.Config{URL: "kafka://" + c.addr, Topic: topic})
	dl := destinationtest.NewDelivery(7)
	dl.Attempt, dl.ID = 2, 1<<62+7
	if o := destination.Classify(d.Deliver(t.Context(), dl)); o.Err != nil {
		t.Fatalf("Deliver: %s: %v", o.Class, o.Err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, kcat, "-C", "-b", c.addr, "-t", topic, "-o", "beginning", "-e", "-q", "-J").Output()
	if err != nil {
		t.Fatalf("kcat: %v\n%s", err, out)
	}
	var msg struct {
		Key     string   `json:"key"`
		Payload string   `json:"payload"`
		Headers []string `json:"headers"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &msg); err != nil {
		t.Fatalf("kcat printed %q: %v", out, err)
	}
	if !bytes.Equal([]byte(msg.Payload), dl.Event.Body) {
		t.Errorf("kcat read the body %q, want %q", msg.Payload, dl.Event.Body)
	}
	if msg.Key != dl.Event.Subject {
		t.Errorf("kcat read the key %q, want the subject %s", msg.Key, dl.Event.Subject)
	}
	headers := map[string]string{}
	for i := 0; i+1 < len(msg.Headers); i += 2 {
		headers[msg.Headers[i]] = msg.Headers[i+1]
	}
	for _, f := range destination.Metadata(dl) {
		if headers[f.Name] != f.Value {
			t.Errorf("kcat read %s = %q, want %q", f.Name, headers[f.Name], f.Value)
		}
	}
}

func TestParseURL(t *testing.T) {
	t.Parallel()
	destinationtest.CheckURLs(t, kafkadest.ParseURL, kafkadest.New, []destinationtest.URLCase[kafkadest.Config]{
		{URL: "kafka://127.0.0.1:9092?topic=sent-events", Want: kafkadest.Config{URL: "kafka://127.0.0.1:9092", Topic: "sent-events"}},
		{URL: "kafka://a:9092,b:9093?topic=t", Want: kafkadest.Config{URL: "kafka://a:9092,b:9093", Topic: "t"}},
		{URL: "kafka://a:9092", WantErr: "Topic: required"},
		{URL: "kafka://a:9092?topic=t&acks=1", WantErr: "unknown query parameter acks"},
		{URL: "kafka://a:9092?topic=not%20a%20topic", WantErr: "Topic"},
		{URL: "kafka://a?topic=t", WantErr: "host:port"},
		{URL: "http://a:9092?topic=t", WantErr: "want kafka://"},
	})
}
