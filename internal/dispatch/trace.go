package dispatch

import (
	"context"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/internal/tracing"
)

// spanShape is how a route's attempts are traced, worked out once: the
// span's name, kind and the attributes every attempt shares.
type spanShape struct {
	name  string
	kind  trace.SpanKind
	attrs []attribute.KeyValue
	http  bool // an HTTP endpoint: resend counts and status codes apply
}

// shapeOf describes the attempts of route r: a CLIENT span for an HTTP
// endpoint, a PRODUCER span for a broker (messaging conventions, operation
// send), an INTERNAL one for anything else.
func shapeOf(r *Route) spanShape {
	t, ok := r.Destination.(destination.Traced)
	if !ok {
		return spanShape{name: "deliver " + r.Name, kind: trace.SpanKindInternal,
			attrs: []attribute.KeyValue{tracing.AttrDestination.String(r.Name)}}
	}
	tt := t.TraceTarget()
	s := spanShape{attrs: []attribute.KeyValue{tracing.AttrDestination.String(r.Name)}}
	if tt.ServerAddress != "" {
		s.attrs = append(s.attrs, semconv.ServerAddress(tt.ServerAddress))
		if tt.ServerPort > 0 {
			s.attrs = append(s.attrs, semconv.ServerPort(tt.ServerPort))
		}
	}
	if tt.System == "" {
		s.name, s.kind, s.http = tt.Method, trace.SpanKindClient, true
		s.attrs = append(s.attrs, semconv.HTTPRequestMethodKey.String(tt.Method), semconv.URLFull(tt.URL))
		return s
	}
	s.name, s.kind = "send "+tt.Destination, trace.SpanKindProducer
	s.attrs = append(s.attrs,
		semconv.MessagingSystemKey.String(tt.System),
		semconv.MessagingDestinationName(tt.Destination),
		semconv.MessagingOperationTypeSend,
		semconv.MessagingOperationName("send"),
	)
	return s
}

// startAttempt starts the span of one attempt and gives dl its traceparent
// to pass on. The span is a child of the event's creation context (the
// span that stored it, in the trace of its receipt) and links to it, as
// OpenTelemetry's messaging conventions ask of a send: so the endpoint, or
// the broker's consumer, continues the trace that the webhook's sender
// started. An event stored while tracing was off starts a trace of its
// own. Only called while tracing is on.
func (d *Dispatcher) startAttempt(ctx context.Context, r *route, dl *destination.Delivery) (context.Context, trace.Span) {
	opts := make([]trace.SpanStartOption, 0, 4)
	opts = append(opts, trace.WithSpanKind(r.shape.kind), trace.WithAttributes(r.shape.attrs...),
		trace.WithAttributes(tracing.AttrEventID.String(dl.Event.ID), tracing.AttrDeliveryID.Int64(dl.ID), tracing.AttrAttempt.Int(dl.Attempt)))
	if created, ok := tracing.Parse(dl.Event.TraceParent); ok {
		ctx = trace.ContextWithRemoteSpanContext(ctx, created)
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: created}))
	} else {
		opts = append(opts, trace.WithNewRoot())
	}
	if r.shape.http && dl.Attempt > 1 {
		opts = append(opts, trace.WithAttributes(semconv.HTTPRequestResendCount(dl.Attempt-1)))
	} else if r.shape.kind == trace.SpanKindProducer {
		opts = append(opts, trace.WithAttributes(semconv.MessagingMessageID(dl.Event.ID)))
	}
	ctx, span := d.tracer.Start(ctx, r.shape.name, opts...)
	dl.TraceParent = tracing.Traceparent(span.SpanContext())
	return ctx, span
}

// endAttempt ends an attempt's span with its outcome.
func endAttempt(span trace.Span, r *route, o destination.Outcome) {
	span.SetAttributes(tracing.AttrOutcome.String(o.Class.String()))
	if r.shape.http && o.Result.StatusCode > 0 {
		span.SetAttributes(semconv.HTTPResponseStatusCode(o.Result.StatusCode))
	}
	if o.Err == nil {
		span.End()
		return
	}
	errType := "_OTHER"
	if r.shape.http && o.Result.StatusCode >= 400 {
		errType = strconv.Itoa(o.Result.StatusCode)
	}
	span.SetAttributes(semconv.ErrorTypeKey.String(errType))
	span.SetStatus(codes.Error, o.Err.Error())
	span.End()
}
