package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/destination/redisdest"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/server"
	"github.com/hooklatch/hooklatch/signature"
)

// The sender's trace, as Sent would propagate it.
const (
	senderTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	senderSpanID  = "00f067aa0ba902b7"
	senderParent  = "00-" + senderTraceID + "-" + senderSpanID + "-01"
)

// app is the receiving application: an httptest server that answers the
// first `failures` requests 503 and the rest 200, and keeps the traceparent
// header of each request (or "none").
type app struct {
	*httptest.Server
	mu       sync.Mutex
	failures int
	parents  []string
}

func newApp(t *testing.T, failures int) *app {
	a := &app{failures: failures}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		a.mu.Lock()
		defer a.mu.Unlock()
		tp := r.Header.Get("Traceparent")
		if _, ok := r.Header["Traceparent"]; !ok {
			tp = "none"
		}
		a.parents = append(a.parents, tp)
		if len(a.parents) <= a.failures {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *app) received() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.parents)
}

// sendTraced posts a signed webhook carrying traceparent (none when empty)
// and returns the event id answered.
func sendTraced(t *testing.T, srv *server.Server, traceparent string, body []byte) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+srv.Addr()+"/webhooks/sent", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = signature.Sign(signature.V1, testSecrets(t)[0], body, signature.SignOptions{})
	req.Header.Set("Content-Type", "application/json")
	if traceparent != "" {
		req.Header.Set("Traceparent", traceparent)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook answered %d", resp.StatusCode)
	}
	return resp.Header.Get("Hooklatch-Event-Id")
}

// tracer returns a tracer provider that hands every span, once ended, to
// an in-memory exporter.
func tracer(t *testing.T) (*sdktrace.TracerProvider, *tracetest.InMemoryExporter) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	return tp, exp
}

// spansOf returns the ended spans of kind k, oldest first.
func spansOf(exp *tracetest.InMemoryExporter, k trace.SpanKind) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.SpanKind == k {
			out = append(out, s)
		}
	}
	return out
}

func attr(s tracetest.SpanStub, key string) (attribute.Value, bool) {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

func wantAttr(t *testing.T, s tracetest.SpanStub, key string, want any) {
	t.Helper()
	v, ok := attr(s, key)
	if !ok {
		t.Errorf("span %q has no %s; attributes %v", s.Name, key, s.Attributes)
		return
	}
	if got := v.AsInterface(); got != want {
		t.Errorf("span %q: %s = %v (%T), want %v (%T)", s.Name, key, got, got, want, want)
	}
}

func traceparentOf(sc trace.SpanContext) string {
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String()
}

// One webhook, followed from the sender's request to the app's answer: the
// SERVER span continues the sender's trace, the append is its child and
// its context is stored with the event, and each delivery attempt is a
// CLIENT span, child of and linked to that context, whose traceparent the
// app receives (the sender's trace id); the retry says its resend count.
func TestTracingFollowsAWebhookToTheApp(t *testing.T) {
	t.Parallel()
	tp, exp := tracer(t)
	a := newApp(t, 1)
	dest, err := httpdest.New(httpdest.Config{URL: a.URL + "/hooks?token=secret"})
	if err != nil {
		t.Fatal(err)
	}
	srv := start(t, server.Config{TracerProvider: tp, Routes: []dispatch.Route{{
		Name: "app", Destination: dest,
		Policy: dispatch.Policy{MaxAttempts: 3, Retry: dispatch.Backoff{Initial: time.Millisecond, Max: time.Millisecond}},
	}}})

	id := sendTraced(t, srv, senderParent, messageBody("message.delivered", "msg-trace-1"))
	waitFor(t, "two attempts traced", func() bool { return len(spansOf(exp, trace.SpanKindClient)) == 2 })

	servers := spansOf(exp, trace.SpanKindServer)
	if len(servers) != 1 {
		t.Fatalf("%d server spans, want 1", len(servers))
	}
	srvSpan := servers[0]
	if srvSpan.Name != "POST /webhooks/sent" || srvSpan.SpanContext.TraceID().String() != senderTraceID ||
		srvSpan.Parent.SpanID().String() != senderSpanID || !srvSpan.Parent.IsRemote() {
		t.Errorf("server span %q in trace %s, parent %s: want POST /webhooks/sent continuing %s",
			srvSpan.Name, srvSpan.SpanContext.TraceID(), srvSpan.Parent.SpanID(), senderParent)
	}
	wantAttr(t, srvSpan, "http.request.method", "POST")
	wantAttr(t, srvSpan, "http.route", "/webhooks/sent")
	wantAttr(t, srvSpan, "http.response.status_code", int64(200))
	wantAttr(t, srvSpan, "hooklatch.event.id", id)

	var appendSpan tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == "append" {
			appendSpan = s
		}
	}
	if appendSpan.Parent.SpanID() != srvSpan.SpanContext.SpanID() || appendSpan.SpanContext.TraceID() != srvSpan.SpanContext.TraceID() {
		t.Fatalf("append span %+v is not the server span's child", appendSpan.SpanContext)
	}
	ev, err := srv.Store().GetEvent(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if want := traceparentOf(appendSpan.SpanContext); ev.TraceParent != want {
		t.Errorf("stored creation context %q, want the append span's %q", ev.TraceParent, want)
	}

	attempts := spansOf(exp, trace.SpanKindClient)
	got := a.received()
	if len(got) != 2 {
		t.Fatalf("the app received %d requests, want 2: %v", len(got), got)
	}
	for i, s := range attempts {
		if s.Name != "POST" || s.Parent.SpanID() != appendSpan.SpanContext.SpanID() ||
			s.SpanContext.TraceID().String() != senderTraceID {
			t.Errorf("attempt %d: span %q with parent %s in trace %s, want POST, child of the append span %s in the sender's trace",
				i+1, s.Name, s.Parent.SpanID(), s.SpanContext.TraceID(), appendSpan.SpanContext.SpanID())
		}
		if len(s.Links) != 1 || !s.Links[0].SpanContext.Equal(appendSpan.SpanContext.WithRemote(true)) {
			t.Errorf("attempt %d links to %v, want the creation context %v", i+1, s.Links, appendSpan.SpanContext)
		}
		wantAttr(t, s, "url.full", a.URL+"/hooks")
		wantAttr(t, s, "hooklatch.event.id", id)
		if want := traceparentOf(s.SpanContext); got[i] != want {
			t.Errorf("the app's request %d carried traceparent %q, want the attempt's %q", i+1, got[i], want)
		}
	}
	if _, ok := attr(attempts[0], "http.request.resend_count"); ok {
		t.Error("the first attempt has http.request.resend_count")
	}
	wantAttr(t, attempts[0], "http.response.status_code", int64(503))
	wantAttr(t, attempts[0], "error.type", "503")
	if attempts[0].Status.Code != codes.Error {
		t.Errorf("the failed attempt's status is %v, want Error", attempts[0].Status)
	}
	wantAttr(t, attempts[1], "http.request.resend_count", int64(1))
	wantAttr(t, attempts[1], "http.response.status_code", int64(200))
}

// With tracing off (no TracerProvider), nothing is passed on and nothing is
// stored, even when the sender sent a traceparent.
func TestTracingOffPassesNothingOn(t *testing.T) {
	t.Parallel()
	a := newApp(t, 0)
	dest, err := httpdest.New(httpdest.Config{URL: a.URL})
	if err != nil {
		t.Fatal(err)
	}
	srv := start(t, server.Config{Routes: []dispatch.Route{{Name: "app", Destination: dest}}})
	id := sendTraced(t, srv, senderParent, messageBody("message.delivered", "msg-trace-off"))
	waitFor(t, "the delivery", func() bool { return len(a.received()) == 1 })
	if got := a.received()[0]; got != "none" {
		t.Errorf("the app received traceparent %q with tracing off, want none", got)
	}
	ev, err := srv.Store().GetEvent(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if ev.TraceParent != "" {
		t.Errorf("stored creation context %q with tracing off, want none", ev.TraceParent)
	}
}

// A broker message (a real Redis stream) carries the traceparent of the
// attempt's PRODUCER span, which follows the messaging conventions and
// lies in the sender's trace, linked to the creation context.
func TestTracingCarriesTraceparentToRedis(t *testing.T) {
	t.Parallel()
	raw := destinationtest.ServiceURL(t, "HOOKLATCH_TEST_REDIS")
	opts, err := redis.ParseURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	stream := destinationtest.UniqueName("hooklatch-trace-")
	t.Cleanup(func() { client.Del(context.Background(), stream) })
	dest, err := redisdest.New(redisdest.Config{URL: raw, Stream: stream, DedupeWindow: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	tp, exp := tracer(t)
	srv := start(t, server.Config{TracerProvider: tp, Routes: []dispatch.Route{{Name: "queue", Destination: dest}}})

	id := sendTraced(t, srv, senderParent, messageBody("message.delivered", "msg-trace-redis"))
	waitFor(t, "the send span", func() bool { return len(spansOf(exp, trace.SpanKindProducer)) == 1 })
	send := spansOf(exp, trace.SpanKindProducer)[0]

	entries, err := client.XRange(context.Background(), stream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("%d entries in the stream, want 1", len(entries))
	}
	if got, want := entries[0].Values[destination.MetaTraceParent], traceparentOf(send.SpanContext); got != want {
		t.Errorf("the message's %s = %v, want the send span's %q", destination.MetaTraceParent, got, want)
	}
	if entries[0].Values[destination.MetaEventID] != id {
		t.Errorf("the message's event id = %v, want %s", entries[0].Values[destination.MetaEventID], id)
	}
	if send.Name != "send "+stream || send.SpanContext.TraceID().String() != senderTraceID || len(send.Links) != 1 ||
		send.Parent.SpanID() != send.Links[0].SpanContext.SpanID() {
		t.Errorf("send span %q in trace %s, parent %s, links %v: want send %s in the sender's trace, child of and linked to the creation context",
			send.Name, send.SpanContext.TraceID(), send.Parent.SpanID(), send.Links, stream)
	}
	wantAttr(t, send, "messaging.system", "redis")
	wantAttr(t, send, "messaging.destination.name", stream)
	wantAttr(t, send, "messaging.operation.type", "send")
	wantAttr(t, send, "messaging.message.id", id)
}
