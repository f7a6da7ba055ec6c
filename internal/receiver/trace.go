package receiver

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/hooklatch/hooklatch/internal/tracing"
	"github.com/hooklatch/hooklatch/store"
)

// startServer starts the SERVER span of a webhook request, continuing the
// sender's traceparent when it sent one (a trace of its own otherwise),
// and returns the request carrying it. Only called while tracing is on.
func (r *Receiver) startServer(req *http.Request, start time.Time) (*http.Request, trace.Span) {
	ctx := tracing.Propagator.Extract(req.Context(), propagation.HeaderCarrier(req.Header))
	route := req.Pattern
	if i := strings.IndexByte(route, '/'); i >= 0 {
		route = route[i:] // a pattern's method and host are not the route
	}
	name := req.Method
	if route != "" {
		name += " " + route
	}
	attrs := make([]attribute.KeyValue, 0, 10)
	attrs = append(attrs,
		semconv.HTTPRequestMethodKey.String(req.Method),
		semconv.URLPath(req.URL.Path),
		semconv.URLScheme(scheme(req)),
		semconv.NetworkProtocolVersion(strings.TrimPrefix(req.Proto, "HTTP/")),
	)
	if route != "" {
		attrs = append(attrs, semconv.HTTPRoute(route))
	}
	if host, port, err := net.SplitHostPort(req.Host); err == nil {
		attrs = append(attrs, semconv.ServerAddress(host))
		if p, err := strconv.Atoi(port); err == nil {
			attrs = append(attrs, semconv.ServerPort(p))
		}
	} else if req.Host != "" {
		attrs = append(attrs, semconv.ServerAddress(req.Host))
	}
	if host, _, err := net.SplitHostPort(req.RemoteAddr); err == nil {
		attrs = append(attrs, semconv.ClientAddress(host))
	}
	if ua := req.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginal(ua))
	}
	ctx, span := r.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(start), trace.WithAttributes(attrs...))
	return req.WithContext(ctx), span
}

func scheme(req *http.Request) string {
	if req.TLS != nil {
		return "https"
	}
	return "http"
}

// endServer ends the SERVER span with the answer: a 5xx marks it failed.
func endServer(span trace.Span, o outcome, obs *Observation) {
	status := outcomes[o].status
	span.SetAttributes(semconv.HTTPResponseStatusCode(status), tracing.AttrOutcome.String(outcomes[o].label))
	if obs.Result.EventID != "" {
		span.SetAttributes(tracing.AttrEventID.String(obs.Result.EventID))
	}
	if status >= 500 {
		span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(status)))
		span.SetStatus(codes.Error, outcomes[o].label)
	}
	span.End()
}

// startAppend starts the span of the store append, a child of the
// request's, and writes its context into ev as the event's creation
// context: each delivery attempt links to it. Only called while tracing
// is on.
func (r *Receiver) startAppend(ctx context.Context, ev *store.NewEvent) (context.Context, trace.Span) {
	ctx, span := r.tracer.Start(ctx, "append", trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(tracing.AttrEventID.String(ev.ID), tracing.AttrEventType.String(ev.Type),
			tracing.AttrDestinations.StringSlice(ev.Destinations)))
	ev.TraceParent = tracing.Traceparent(span.SpanContext())
	return ctx, span
}

// endAppend ends the append's span with what the store did.
func endAppend(span trace.Span, ev *store.NewEvent, ar store.AppendResult, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "the event could not be stored")
	} else {
		span.SetAttributes(tracing.AttrDuplicate.Bool(ar.Duplicate))
		if ar.Duplicate {
			// Nothing was stored: the first event keeps its own context.
			span.SetAttributes(tracing.AttrEventID.String(ar.EventID))
			ev.TraceParent = ""
		}
	}
	span.End()
}
