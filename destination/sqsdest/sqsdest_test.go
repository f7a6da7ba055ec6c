package sqsdest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
	"github.com/hooklatch/hooklatch/destination/sqsdest"
)

// goawsVersion is the SQS emulator the tests run: goaws, which speaks
// SQS's JSON protocol (the one current SDK releases use) from v0.5.
const goawsVersion = "v0.5.4"

const account = "100010001000"

var (
	emulatorOnce sync.Once
	emulatorAddr string
	emulatorErr  error
)

func TestMain(m *testing.M) {
	// The SDK's default chain finds these; the emulator checks none.
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"} {
		if os.Getenv(k) == "" {
			os.Setenv(k, v)
		}
	}
	code := m.Run()
	stopEmulator()
	os.Exit(code)
}

var emulator *exec.Cmd

func stopEmulator() {
	if emulator != nil {
		_ = emulator.Process.Kill()
		_ = emulator.Wait()
	}
}

// startEmulator builds goaws from the Go module proxy (once; the build is
// cached) and starts it on a free port.
func startEmulator() (string, error) {
	dir, err := os.MkdirTemp("", "hooklatch-goaws")
	if err != nil {
		return "", err
	}
	build := exec.Command("go", "install", "github.com/Admiral-Piett/goaws/app/cmd@"+goawsVersion)
	build.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building goaws %s: %v: %s", goawsVersion, err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	ln.Close()
	config := filepath.Join(dir, "goaws.yaml")
	yaml := fmt.Sprintf("Local:\n  Host: 127.0.0.1\n  Port: %s\n  Region: us-east-1\n  AccountId: \"%s\"\n  EnableDuplicates: true\n  QueueAttributeDefaults:\n    VisibilityTimeout: 30\n    MaximumMessageSize: 262144\n  Queues: []\n  Topics: []\n", port, account)
	if err := os.WriteFile(config, []byte(yaml), 0o644); err != nil {
		return "", err
	}
	emulator = exec.Command(filepath.Join(dir, "cmd"), "-config", config, "-loglevel", "error")
	if err := emulator.Start(); err != nil {
		return "", err
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr, nil
		}
	}
	return "", fmt.Errorf("goaws did not listen on %s", addr)
}

// server returns the emulator's address and an SDK client of it.
func server(t testing.TB) (string, *sqs.Client) {
	t.Helper()
	emulatorOnce.Do(func() { emulatorAddr, emulatorErr = startEmulator() })
	if emulatorErr != nil {
		if os.Getenv("HOOKLATCH_REQUIRE_SERVICES") == "1" {
			t.Fatalf("the SQS emulator: %v", emulatorErr)
		}
		t.Skipf("skipped: the SQS emulator: %v", emulatorErr)
	}
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return emulatorAddr, sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String("http://" + emulatorAddr) })
}

// newQueue creates a queue no other test uses, a FIFO one when fifo is
// set, and returns its URL.
func newQueue(t testing.TB, c *sqs.Client, fifo bool) string {
	t.Helper()
	name := destinationtest.UniqueName("hooklatch-test-")
	in := &sqs.CreateQueueInput{QueueName: aws.String(name)}
	if fifo {
		in.QueueName = aws.String(name + ".fifo")
		in.Attributes = map[string]string{"FifoQueue": "true"}
	}
	out, err := c.CreateQueue(t.Context(), in)
	if err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	url := aws.ToString(out.QueueUrl)
	t.Cleanup(func() { c.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}) })
	return url
}

func newDest(t testing.TB, queueURL, addr string) *sqsdest.Destination {
	t.Helper()
	d, err := sqsdest.New(t.Context(), sqsdest.Config{QueueURL: queueURL, Endpoint: "http://" + addr, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// receive consumes the queue with ReceiveMessage, as a worker would, until
// the test ends. It deletes what it received from a standard queue; from a
// FIFO queue it keeps it, hidden for an hour: the emulator forgets a
// deduplication id when its message is deleted, where SQS remembers it for
// five minutes whatever happens to the message, and the tests of retries
// need SQS's behaviour. It asks for one message a call: asked for several,
// the emulator (goaws v0.5.4) marks some received that it does not return.
func receive(t *testing.T, c *sqs.Client, queueURL string) *destinationtest.Recorder {
	fifo := strings.HasSuffix(queueURL, ".fifo")
	rec := new(destinationtest.Recorder)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
				QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 1, WaitTimeSeconds: 1,
				MessageAttributeNames: []string{"All"}, VisibilityTimeout: 3600,
			})
			if err != nil {
				if ctx.Err() == nil {
					t.Logf("ReceiveMessage: %v", err)
				}
				time.Sleep(50 * time.Millisecond)
				continue
			}
			for _, m := range out.Messages {
				rec.Record(received(m))
				if !fifo {
					c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle})
				}
			}
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return rec
}

// received reads a message as the far end sees it. An attribute left out
// for an empty value (SQS refuses empty ones) reads as empty.
func received(m types.Message) destinationtest.Received {
	rc := destinationtest.Received{Body: []byte(aws.ToString(m.Body)), Metadata: map[string]string{}}
	for _, name := range destination.MetadataNames {
		rc.Metadata[name] = ""
	}
	for k, v := range m.MessageAttributes {
		rc.Metadata[k] = aws.ToString(v.StringValue)
	}
	rc.EventID = rc.Metadata[destination.MetaEventID]
	return rc
}

// runConformance runs the broker conformance suite on a queue, standard or
// FIFO (which dedupes).
func runConformance(t *testing.T, fifo bool) {
	addr, c := server(t)
	destinationtest.RunBroker(t, destinationtest.BrokerHarness{
		Addr:    addr,
		Dedupes: fifo,
		New: func(t *testing.T, via string) (destination.Destination, destinationtest.Observer) {
			q := newQueue(t, c, fifo)
			return newDest(t, q, via), receive(t, c, q)
		},
		NewRefusing: func(t *testing.T) destination.Destination {
			// A queue that does not exist: every send is refused for good.
			return newDest(t, "http://"+addr+"/"+account+"/"+destinationtest.UniqueName("missing-"), addr)
		},
	})
}

func TestStandardQueueConformance(t *testing.T) {
	t.Parallel()
	runConformance(t, false)
}

func TestFIFOQueueConformance(t *testing.T) {
	t.Parallel()
	runConformance(t, true)
}

// On a FIFO queue each message's group is the event's subject and its
// deduplication id the event's id. The emulator keeps both but does not
// return them, so the test reads the SDK's request on its way there.
func TestFIFOGroupsBySubject(t *testing.T) {
	t.Parallel()
	addr, c := server(t)
	q := newQueue(t, c, true)
	var mu sync.Mutex
	var bodies []string
	target, _ := url.Parse("http://" + addr)
	proxy := httputil.NewSingleHostReverseProxy(target)
	rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, r.Header.Get("X-Amz-Target")+" "+string(b))
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		proxy.ServeHTTP(w, r)
	}))
	defer rec.Close()
	d := newDest(t, q, strings.TrimPrefix(rec.URL, "http://"))
	dl := destinationtest.NewDelivery(7)
	for range 2 { // the second, a retry, is dropped by SQS
		if err := destination.Classify(d.Deliver(t.Context(), dl)).Err; err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, b := range bodies {
		var in struct{ MessageGroupId, MessageDeduplicationId string }
		target, body, _ := strings.Cut(b, " ")
		if target != "AmazonSQS.SendMessage" || json.Unmarshal([]byte(body), &in) != nil {
			t.Fatalf("the SDK sent %s", b)
		}
		if in.MessageGroupId != dl.Event.Subject || in.MessageDeduplicationId != dl.Event.ID {
			t.Errorf("group %q, dedupe id %q; want the subject %q and the event id %q",
				in.MessageGroupId, in.MessageDeduplicationId, dl.Event.Subject, dl.Event.ID)
		}
	}
	out, err := c.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil || out.Attributes["ApproximateNumberOfMessages"] != "1" {
		t.Errorf("the queue holds %v messages (%v), want 1", out.Attributes, err)
	}
}

func TestParseURL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		url  string
		want sqsdest.Config
		err  string
	}{
		{url: "sqs://sqs.eu-west-1.amazonaws.com/123456789012/events",
			want: sqsdest.Config{QueueURL: "https://sqs.eu-west-1.amazonaws.com/123456789012/events"}},
		{url: "sqs://127.0.0.1:4100/100010001000/q.fifo?region=us-east-1&endpoint=http://127.0.0.1:4100",
			want: sqsdest.Config{QueueURL: "https://127.0.0.1:4100/100010001000/q.fifo", Region: "us-east-1", Endpoint: "http://127.0.0.1:4100"}},
		{url: "sqs://sqs.eu-west-1.amazonaws.com/1/q?queue=x", err: "unknown query parameter queue"},
		{url: "https://sqs.eu-west-1.amazonaws.com/1/q", err: "sqs://sqs.REGION.amazonaws.com/ACCOUNT/NAME"},
	} {
		got, err := sqsdest.ParseURL(tt.url)
		if tt.err != "" {
			if err == nil || !contains(err.Error(), tt.err) {
				t.Errorf("ParseURL(%q) = %v; want an error mentioning %q", tt.url, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", tt.url, got, err, tt.want)
		}
	}
	for _, cfg := range []struct {
		c   sqsdest.Config
		err string
	}{
		{sqsdest.Config{}, "QueueURL: required"},
		{sqsdest.Config{QueueURL: "https://sqs.eu-west-1.amazonaws.com/123456789012/"}, "names no queue"},
		{sqsdest.Config{QueueURL: "https://sqs.eu-west-1.amazonaws.com/1/q", Endpoint: "localhost"}, "Endpoint"},
	} {
		if _, err := sqsdest.New(t.Context(), cfg.c); err == nil || !contains(err.Error(), cfg.err) {
			t.Errorf("New(%+v) = %v; want an error mentioning %q", cfg.c, err, cfg.err)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// A message with every metadata value set and a traceparent carries them
// all, its source among them, within SQS's 10 attributes a message.
func TestEveryAttributeFits(t *testing.T) {
	t.Parallel()
	addr, c := server(t)
	q := newQueue(t, c, false)
	rec := receive(t, c, q)
	dl := destinationtest.NewDelivery(9)
	dl.Stale, dl.SubjectStatus, dl.Event.Source = true, "READ", "payments"
	dl.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	if err := destination.Classify(newDest(t, q, addr).Deliver(t.Context(), dl)).Err; err != nil {
		t.Fatal(err)
	}
	got, err := rec.Received(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	md := got[0].Metadata
	if len(md) > 10 {
		t.Errorf("%d attributes, SQS takes at most 10: %v", len(md), md)
	}
	for _, f := range destination.Metadata(dl) {
		if md[f.Name] != f.Value || f.Value == "" {
			t.Errorf("attribute %s = %q, want %q", f.Name, md[f.Name], f.Value)
		}
	}
	if md["hooklatch-source"] != "payments" || md[destination.MetaTraceParent] != dl.TraceParent {
		t.Errorf("hooklatch-source %q, traceparent %q; want payments, %s", md["hooklatch-source"], md[destination.MetaTraceParent], dl.TraceParent)
	}
}
