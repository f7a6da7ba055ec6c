package hooklatch_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/hooklatch/hooklatch"
	"github.com/hooklatch/hooklatch/event"
)

// With Config.TracerProvider the relay traces as serve does: the handler's
// ctx carries the span of its call, in the trace the sender started, and
// the webhook's server span continues the sender's traceparent.
func TestRelayTracesIntoTheHandler(t *testing.T) {
	t.Parallel()
	const senderTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())

	got := make(chan trace.SpanContext, 1)
	relay, err := hooklatch.New(hooklatch.Config{
		Secrets: []string{secret}, Store: filepath.Join(t.TempDir(), "h.db"), Logger: slog.New(slog.DiscardHandler),
		TracerProvider: tp,
		Handlers: []hooklatch.Route{{Name: "app", Handler: hooklatch.HandlerFunc(func(ctx context.Context, _ *hooklatch.Event) error {
			got <- trace.SpanContextFromContext(ctx)
			return nil
		})}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	srv := httptest.NewServer(relay.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()
	defer func() { cancel(); <-done }()

	body, _ := event.Sample("message.delivered", event.SampleOptions{})
	req := signedRequest(t, srv.URL, body)
	req.Header.Set("Traceparent", "00-"+senderTrace+"-00f067aa0ba902b7-01")
	sendRequest(t, req)

	var sc trace.SpanContext
	select {
	case sc = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler was not called")
	}
	if !sc.IsValid() || sc.TraceID().String() != senderTrace {
		t.Errorf("the handler's ctx carries span context %v, want one in the sender's trace %s", sc, senderTrace)
	}
	kinds := map[trace.SpanKind]int{}
	for _, span := range exp.GetSpans() {
		if span.SpanContext.TraceID().String() == senderTrace {
			kinds[span.SpanKind]++
		}
	}
	if kinds[trace.SpanKindServer] != 1 {
		t.Errorf("spans in the sender's trace by kind: %v, want one server span", kinds)
	}
}
