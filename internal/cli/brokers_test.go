package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
	"github.com/hooklatch/hooklatch/internal/cli"
)

// brokerCheck is one broker a test forwards to: the --forward-to URL, and
// how to read back, with the broker's own client, the body and event ID of
// the message that arrived.
type brokerCheck struct {
	name string
	url  string
	read func(t *testing.T) (body []byte, meta map[string]string)
}

// redisStream returns the test Redis's URL, a client of it and a stream
// of the test's own, deleted after it.
func redisStream(t *testing.T) (string, *redis.Client, string) {
	t.Helper()
	raw := destinationtest.ServiceURL(t, "HOOKLATCH_TEST_REDIS")
	opts, err := redis.ParseURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	stream := destinationtest.UniqueName("hooklatch-cli-")
	t.Cleanup(func() { c.Del(context.Background(), stream); c.Close() })
	return raw, c, stream
}

func redisCheck(t *testing.T) brokerCheck {
	raw, c, stream := redisStream(t)
	return brokerCheck{name: "redis", url: raw + "?stream=" + stream, read: func(t *testing.T) ([]byte, map[string]string) {
		res, err := c.XRead(t.Context(), &redis.XReadArgs{Streams: []string{stream, "0"}, Block: 10 * time.Second}).Result()
		if err != nil {
			t.Fatalf("XREAD %s: %v", stream, err)
		}
		meta := map[string]string{}
		for k, v := range res[0].Messages[0].Values {
			meta[k], _ = v.(string)
		}
		return []byte(meta["body"]), meta
	}}
}

func natsCheck(t *testing.T) brokerCheck {
	raw := destinationtest.ServiceURL(t, "HOOKLATCH_TEST_NATS")
	nc, err := nats.Connect(raw)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream := destinationtest.UniqueName("HOOKLATCH_CLI_")
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), stream); nc.Close() })
	// hooklatch creates the stream, as stream= asks.
	return brokerCheck{name: "nats", url: raw + "?subject=" + strings.ToLower(stream) + "&stream=" + stream, read: func(t *testing.T) ([]byte, map[string]string) {
		cons, err := js.OrderedConsumer(t.Context(), stream, jetstream.OrderedConsumerConfig{})
		for deadline := time.Now().Add(10 * time.Second); errors.Is(err, jetstream.ErrStreamNotFound) && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond) // the first delivery creates it
			cons, err = js.OrderedConsumer(t.Context(), stream, jetstream.OrderedConsumerConfig{})
		}
		if err != nil {
			t.Fatalf("consumer of %s: %v", stream, err)
		}
		m, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			t.Fatalf("next message of %s: %v", stream, err)
		}
		meta := map[string]string{}
		for k, v := range m.Headers() {
			meta[k] = v[0]
		}
		return m.Data(), meta
	}}
}

func amqpCheck(t *testing.T) brokerCheck {
	raw := destinationtest.ServiceURL(t, "HOOKLATCH_TEST_AMQP")
	conn, err := amqp.Dial(raw)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	queue := destinationtest.UniqueName("hooklatch-cli-")
	t.Cleanup(func() { _, _ = ch.QueueDelete(queue, false, false, false); conn.Close() })
	// hooklatch declares the durable queue, as queue= asks, and publishes
	// to it through the default exchange.
	return brokerCheck{name: "amqp", url: raw + "?queue=" + queue, read: func(t *testing.T) ([]byte, map[string]string) {
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			m, ok, err := ch.Get(queue, true)
			if err != nil && !strings.Contains(err.Error(), "NOT_FOUND") {
				t.Fatalf("get from %s: %v", queue, err)
			}
			if err != nil { // not declared yet: the channel closed
				if ch, err = conn.Channel(); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if ok {
				meta := map[string]string{}
				for k, v := range m.Headers {
					meta[k], _ = v.(string)
				}
				return m.Body, meta
			}
		}
		t.Fatalf("nothing arrived in %s", queue)
		return nil, nil
	}}
}

// kafkaCheck forwards to franz-go's in-process cluster: no Kafka server
// runs on these machines.
func kafkaCheck(t *testing.T) brokerCheck {
	topic := destinationtest.UniqueName("hooklatch-cli-")
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	return brokerCheck{name: "kafka", url: "kafka://" + addr + "?topic=" + topic, read: func(t *testing.T) ([]byte, map[string]string) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		for {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("nothing arrived in %s", topic)
			}
			if recs := fs.Records(); len(recs) > 0 {
				meta := map[string]string{}
				for _, h := range recs[0].Headers {
					meta[h.Key] = string(h.Value)
				}
				return recs[0].Value, meta
			}
		}
	}}
}

// serve --forward-to, repeated, delivers each event to an app and to every
// broker, the same bytes to each.
func TestServeForwardsToEveryBroker(t *testing.T) {
	t.Parallel()
	checks := []brokerCheck{redisCheck(t), natsCheck(t), amqpCheck(t), kafkaCheck(t)}
	got := make(chan []byte, 1)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- b
	}))
	defer app.Close()

	args := []string{"serve", "--secret", v1Secret, "--store", filepath.Join(t.TempDir(), "h.db"),
		"--admin-addr", "off", "--log-level", "error", "--forward-to", app.URL}
	for _, c := range checks {
		args = append(args, "--forward-to", c.url)
	}
	_, stop := startCLIServe(t, args, "message.delivered")
	defer stop()

	appBody := <-got
	for _, c := range checks {
		body, meta := c.read(t)
		if !bytes.Equal(body, appBody) {
			t.Errorf("%s: body %q, the app got %q", c.name, body, appBody)
		}
		for _, name := range destination.MetadataNames {
			if _, ok := meta[name]; !ok {
				t.Errorf("%s: no %s in %v", c.name, name, meta)
			}
		}
		if meta[destination.MetaEventType] != "message.delivered" {
			t.Errorf("%s: %s = %q, want message.delivered", c.name, destination.MetaEventType, meta[destination.MetaEventType])
		}
	}
}

// startCLIServe runs `hooklatch serve` with args (and --addr) in-process,
// sends it an event of each of types once it listens, and returns its
// webhook URL and a function that stops it and checks it exited cleanly.
func startCLIServe(t *testing.T, args []string, types ...string) (url string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result, 1)
	go func() {
		var o, e bytes.Buffer
		code := cli.Main(ctx, append(args, "--addr", addr),
			cli.Env{Stdin: strings.NewReader(""), Stdout: &o, Stderr: &e, Getenv: func(string) string { return "" }})
		done <- result{code, o.String(), e.String()}
	}()
	url = "http://" + addr + "/webhooks/sent"
	for {
		r := run(t, map[string]string{"SENT_WEBHOOK_SECRET": v1Secret}, "", append([]string{"trigger", "--to", url}, types...)...)
		if r.code == 0 {
			break
		}
		select {
		case r := <-done:
			t.Fatalf("serve exited %d: %s", r.code, r.stderr)
		case <-time.After(20 * time.Millisecond): // not listening yet
		}
	}
	return url, func() {
		cancel()
		if r := <-done; r.code != 0 {
			t.Errorf("serve exited %d: %s", r.code, r.stderr)
		}
	}
}

// A broker URL's mistakes are usage errors in the flag's or the config
// file's terms.
func TestBrokerSettingErrors(t *testing.T) {
	t.Parallel()
	serve := func(to ...string) []string {
		args := []string{"serve", "--secret", v1Secret, "--addr", "127.0.0.1:0", "--admin-addr", "off"}
		for _, u := range to {
			args = append(args, "--forward-to", u)
		}
		return args
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"redis without stream", serve("redis://127.0.0.1:6379/0"), "--forward-to stream=: required"},
		{"redis unknown parameter", serve("redis://127.0.0.1:6379/0?stream=s&strem=t"), "unknown query parameter strem"},
		{"redis bad maxlen", serve("redis://127.0.0.1:6379/0?stream=s&maxlen=lots"), "--forward-to maxlen="},
		{"nats without subject", serve("nats://127.0.0.1:4222?stream=S"), "--forward-to subject=: required"},
		{"nats unknown parameter", serve("nats://127.0.0.1:4222?subject=s&topic=t"), "unknown query parameter topic"},
		{"amqp without routing key", serve("amqp://guest:guest@127.0.0.1:5672/?exchange=x"), "--forward-to routing_key=: required"},
		{"amqp unknown parameter", serve("amqp://guest:guest@127.0.0.1:5672/?exchange=x&key=k"), "unknown query parameter key"},
		{"kafka without topic", serve("kafka://127.0.0.1:9092"), "--forward-to topic=: required"},
		{"kafka unknown parameter", serve("kafka://127.0.0.1:9092?topic=t&acks=1"), "unknown query parameter acks"},
		{"second forward-to bad", serve("http://127.0.0.1:1/", "redis://127.0.0.1:6379/0"), "stream=: required"},
		{"secret with a broker", append(serve("redis://127.0.0.1:6379/0?stream=s"), "--forward-secret", v1Secret), "--forward-secret signs HTTP requests"},
		{"celery unknown parameter", serve("celery+amqp://guest:guest@127.0.0.1:5672/?task=t&tsak=u"), `unknown parameter "tsak"`},
		{"celery password never shown", serve("celery+redis://:hunter2@127.0.0.1:6379/0?qeue=x"), "qeue"},
		{"bullmq unknown parameter", serve("bullmq://127.0.0.1:6379/0?queue=q&attempt=3"), `unknown parameter "attempt"`},
		{"bullmq bad backoff", serve("bullmq://127.0.0.1:6379/0?backoff=soon"), "backoff is fixed:DURATION or exponential:DURATION"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, nil, "", c.args...)
			if r.code != cli.ExitUsage || !strings.Contains(r.stderr, c.want) || strings.Contains(r.stderr, "Config.") || strings.Contains(r.stderr, "hunter2") {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", r.code, r.stderr, cli.ExitUsage, c.want)
			}
		})
	}
}

// A config file's broker blocks take the same fields as the URLs, and
// their mistakes are named by key.
func TestConfigFileBrokerErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, block, want string
	}{
		{"redis without stream", "redis: {url: redis://127.0.0.1:6379/0}", "destinations[0] (b): redis.stream: required"},
		{"redis bad window", "redis: {url: redis://127.0.0.1:6379/0, stream: s, dedupe_window: soon}", "is not a duration"},
		{"nats wildcard subject", "nats: {url: nats://127.0.0.1:4222, subject: a.*}", "nats.subject: \"a.*\": a subject to publish on has no spaces or wildcards"},
		{"amqp bad exchange type", "amqp: {url: \"amqp://127.0.0.1:5672/\", exchange: x, routing_key: k, exchange_type: fan}", "amqp.exchange_type: \"fan\""},
		{"kafka bad topic", "kafka: {url: \"kafka://127.0.0.1:9092\", topic: \"a b\"}", "kafka.topic: \"a b\""},
		{"redis stream in the url", "redis: {url: \"redis://127.0.0.1:6379/0?stream=s\"}", "redis.stream: set it here, not as stream= in the URL"},
		{"redis-list key in the url", "redis-list: {url: \"redis://127.0.0.1:6379/0?key=q\"}", "redis-list.key: set it here, not as key= in the URL"},
		{"redis-list bad push", "redis-list: {url: redis://127.0.0.1:6379/0, key: q, push: up}", "redis-list.push: \"up\": want lpush or rpush"},
		{"nats stream in the url", "nats: {url: \"nats://127.0.0.1:4222?stream=S\", subject: s}", "nats.stream: set it here, not as stream= in the URL"},
		{"amqp exchange in the url", "amqp: {url: \"amqp://127.0.0.1:5672/?exchange=x\", routing_key: k}", "amqp.exchange: set it here, not as exchange= in the URL"},
		{"amqp unknown in the url", "amqp: {url: \"amqp://127.0.0.1:5672/?exhange=x\", routing_key: k}", "amqp.url: unknown query parameter exhange"},
		{"kafka topic in the url", "kafka: {url: \"kafka://127.0.0.1:9092?topic=t\"}", "kafka.topic: set it here, not as topic= in the URL"},
		{"two kinds", "redis: {url: redis://127.0.0.1:6379/0, stream: s}\n    log: {}", "give exactly one of"},
		{"celery block, bullmq url", "celery: {url: \"bullmq://127.0.0.1:6379/0\"}", "destinations[0] (b): a Celery destination looks like celery+amqp://"},
		{"bullmq block, unknown parameter", "bullmq: {url: \"bullmq://127.0.0.1:6379/0?queue=q&attempt=2\"}", `unknown parameter "attempt"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			config := filepath.Join(t.TempDir(), "hooklatch.yaml")
			if err := os.WriteFile(config, []byte("secret: "+v1Secret+"\nadmin_addr: \"off\"\ndestinations:\n  - name: b\n    "+c.block+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			r := run(t, nil, "", "serve", "--config", config, "--addr", "127.0.0.1:0")
			if r.code != cli.ExitUsage || !strings.Contains(r.stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", r.code, r.stderr, cli.ExitUsage, c.want)
			}
		})
	}
}

// Through the whole of serve: Redis stores an event but its answer is
// lost, so the first attempt times out; once answers come through again,
// the dispatcher's retry succeeds, and the stream still holds the event
// once.
func TestServeRetriesALostRedisAnswerWithoutDuplicates(t *testing.T) {
	t.Parallel()
	raw, c, stream := redisStream(t)
	proxy := destinationtest.NewProxy(t, c.Options().Addr)
	xlen := func() int64 { return c.XLen(t.Context(), stream).Val() }

	path := filepath.Join(t.TempDir(), "h.db")
	url, stop := startCLIServe(t, []string{"serve", "--secret", v1Secret, "--store", path, "--admin-addr", "off", "--log-level", "error",
		"--forward-timeout", "1s", "--forward-to", destinationtest.Via(t, raw, proxy.Addr()) + "?stream=" + stream}, "message.queued")
	waitUntil(t, "the first event reaches the stream", func() bool { return xlen() == 1 })
	// And its answer reached serve, so that serve keeps a connection that
	// works: an answer later than the 1 s timeout closes the connection,
	// and one opened while replies are dropped never finishes its
	// handshake, so the second event would never reach the stream.
	waitUntil(t, "the first delivery succeeds", func() bool {
		r := run(t, nil, "", "events", "ls", "--store", path, "--status", "succeeded", "--json")
		return r.code == 0 && strings.Count(r.stdout, "\n") == 1
	})

	proxy.DropReplies()
	if r := run(t, map[string]string{"SENT_WEBHOOK_SECRET": v1Secret}, "", "trigger", "message.delivered", "--to", url); r.code != 0 {
		t.Fatalf("trigger: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	waitUntil(t, "the second event reaches the stream, its answer lost", func() bool { return xlen() == 2 })
	// go-redis itself retries on a fresh connection when the old one
	// breaks, which the script makes safe too; wait for the attempt to time
	// out so that the dispatcher's retry is what is tested.
	waitUntil(t, "the attempt times out", func() bool { return len(attempts(t, path, "message.delivered")) >= 1 })
	proxy.Restore()
	waitUntil(t, "both deliveries succeed", func() bool {
		r := run(t, nil, "", "events", "ls", "--store", path, "--status", "succeeded", "--json")
		return r.code == 0 && strings.Count(r.stdout, "\n") == 2
	})
	stop()

	if n := xlen(); n != 2 {
		t.Errorf("the stream holds %d entries for 2 events: the retry appended again", n)
	}
	got := attempts(t, path, "message.delivered")
	if len(got) < 2 || !strings.Contains(string(got[0]), "temporary") || !strings.Contains(string(got[len(got)-1]), "succeeded") {
		t.Errorf("attempts %s, want a temporary failure, then success", got)
	}
}

// attempts returns the attempts of the only event of type typ in the store
// at path, as `events show --json` prints them.
func attempts(t *testing.T, path, typ string) []json.RawMessage {
	t.Helper()
	r := run(t, nil, "", "events", "ls", "--store", path, "--type", typ, "--json")
	var ev struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &ev); err != nil {
		return nil // not stored yet
	}
	shown := run(t, nil, "", "events", "show", ev.ID, "--store", path, "--json")
	var out struct {
		Deliveries []struct {
			Attempts []json.RawMessage `json:"attempts"`
		} `json:"deliveries"`
	}
	if err := json.Unmarshal([]byte(shown.stdout), &out); err != nil || len(out.Deliveries) != 1 {
		return nil
	}
	return out.Deliveries[0].Attempts
}

// waitUntil polls cond until it holds, failing the test after 30s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}
