// Package tracing turns OpenTelemetry tracing on from the standard OTEL_*
// environment variables, and holds what the receiver and the dispatcher
// share to write a W3C traceparent and read one back.
//
// Tracing is off unless the environment asks for it (see FromEnv). Off,
// FromEnv returns a nil *Provider, the receiver and the dispatcher are
// given no TracerProvider, and they skip every tracing step: no span, no
// header read, nothing stored. On, spans go through the official SDK's
// batch processor to an OTLP exporter (HTTP by default, gRPC when
// OTEL_EXPORTER_OTLP_PROTOCOL=grpc), which the SDK configures from the
// OTEL_EXPORTER_OTLP_* variables itself.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Name is the instrumentation scope of hooklatch's spans.
const Name = "github.com/hooklatch/hooklatch"

// Attributes of hooklatch's own, on its spans beside the semantic
// conventions' (docs/tracing.md lists them).
const (
	AttrEventID      = attribute.Key("hooklatch.event.id")
	AttrEventType    = attribute.Key("hooklatch.event.type")
	AttrOutcome      = attribute.Key("hooklatch.outcome")
	AttrDuplicate    = attribute.Key("hooklatch.duplicate")
	AttrDestinations = attribute.Key("hooklatch.destinations")
	AttrDestination  = attribute.Key("hooklatch.destination")
	AttrDeliveryID   = attribute.Key("hooklatch.delivery.id")
	AttrAttempt      = attribute.Key("hooklatch.attempt")
)

// DefaultServiceName is service.name unless OTEL_SERVICE_NAME or
// OTEL_RESOURCE_ATTRIBUTES say otherwise.
const DefaultServiceName = "hooklatch"

// Propagator reads and writes the W3C traceparent (and tracestate)
// headers: the only propagation hooklatch does.
var Propagator = propagation.TraceContext{}

// Provider is the SDK's tracer provider, built from the environment.
type Provider struct {
	sdk *sdktrace.TracerProvider
	// Why says which variable turned tracing on, for the start-up line.
	Why string
}

// TracerProvider is what the receiver and the dispatcher trace with.
func (p *Provider) TracerProvider() trace.TracerProvider { return p.sdk }

// Shutdown exports the spans still buffered and stops the exporter. Call
// it once the server has stopped.
func (p *Provider) Shutdown(ctx context.Context) error { return p.sdk.Shutdown(ctx) }

// protocol is the OTLP protocol asked for: the traces' own variable when
// set, else the general one; http/protobuf when neither is.
func protocol(getenv func(string) string) (string, error) {
	name := "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	if strings.TrimSpace(getenv(name)) == "" {
		name = "OTEL_EXPORTER_OTLP_PROTOCOL"
	}
	switch p := strings.TrimSpace(getenv(name)); p {
	case "":
		return "http/protobuf", nil
	case "http/protobuf", "http/json", "grpc":
		return p, nil
	default:
		return "", fmt.Errorf("%s=%s: hooklatch exports traces with OTLP over http/protobuf (the default), http/json or grpc", name, p)
	}
}

// Enabled says whether the environment turns tracing on, and which
// variable does: OTEL_TRACES_EXPORTER=otlp, or else
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT set.
// OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none keep it off
// whatever else is set. Any other exporter, or an OTLP protocol other than
// http/protobuf, http/json or grpc, is an error: the operator asked for
// something hooklatch does not do.
func Enabled(getenv func(string) string) (why string, err error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return "", nil
	}
	exporter := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")))
	switch exporter {
	case "none":
		return "", nil
	case "", "otlp":
	default:
		return "", fmt.Errorf("OTEL_TRACES_EXPORTER=%s: hooklatch exports traces with otlp only (or none)", exporter)
	}
	switch {
	case exporter == "otlp":
		why = "OTEL_TRACES_EXPORTER=otlp"
	case getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "":
		why = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	case getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "":
		why = "OTEL_EXPORTER_OTLP_ENDPOINT"
	default:
		return "", nil
	}
	if _, err := protocol(getenv); err != nil {
		return "", err
	}
	return why, nil
}

// FromEnv builds the tracer provider the environment asks for, or returns
// nil when tracing is off (see Enabled). The SDK reads the rest of the
// OTEL_* variables itself: the exporter's endpoint, headers, timeout,
// compression and certificates (OTEL_EXPORTER_OTLP_*), the sampler
// (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG; parentbased_always_on by
// default), the batch processor (OTEL_BSP_*) and the resource
// (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES). version is reported as
// service.version.
func FromEnv(ctx context.Context, getenv func(string) string, version string) (*Provider, error) {
	why, err := Enabled(getenv)
	if err != nil || why == "" {
		return nil, err
	}
	proto, _ := protocol(getenv)
	var exp sdktrace.SpanExporter
	if proto == "grpc" {
		exp, err = otlptracegrpc.New(ctx)
	} else {
		exp, err = otlptracehttp.New(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing (%s): %w", why, err)
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", DefaultServiceName)}
	if version != "" {
		attrs = append(attrs, attribute.String("service.version", version))
	}
	// Later detectors win: the environment's service name over the default.
	res, err := resource.New(ctx, resource.WithAttributes(attrs...), resource.WithTelemetrySDK(), resource.WithFromEnv())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("tracing: OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Provider{sdk: tp, Why: why}, nil
}

// Traceparent writes sc as a W3C traceparent header value; "" when sc is
// not valid.
func Traceparent(sc trace.SpanContext) string {
	if !sc.IsValid() {
		return ""
	}
	tid, sid := sc.TraceID(), sc.SpanID()
	return "00-" + tid.String() + "-" + sid.String() + "-" + sc.TraceFlags().String()
}

// Parse reads a traceparent written by Traceparent (or sent by anyone) back
// into a remote span context; ok is false when s is empty or malformed.
func Parse(s string) (sc trace.SpanContext, ok bool) {
	if s == "" {
		return trace.SpanContext{}, false
	}
	ctx := Propagator.Extract(context.Background(), traceparentCarrier(s))
	sc = trace.SpanContextFromContext(ctx)
	return sc, sc.IsValid()
}

// traceparentCarrier carries one traceparent and nothing else.
type traceparentCarrier string

func (c traceparentCarrier) Get(key string) string {
	if key == "traceparent" {
		return string(c)
	}
	return ""
}
func (c traceparentCarrier) Set(string, string) {}
func (c traceparentCarrier) Keys() []string     { return []string{"traceparent"} }
