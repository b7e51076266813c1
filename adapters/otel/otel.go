// Package otel is the tracing adapter: core.Tracer over the OpenTelemetry
// SDK, exporting spans over OTLP/HTTP (protobuf). cmd builds it only when
// OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise core uses its no-op tracer
// and tracing costs nothing.
package otel

import (
	"context"
	"errors"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/cueapi/cueapi/core"
)

// Config configures the exporter.
type Config struct {
	// Endpoint is OTEL_EXPORTER_OTLP_ENDPOINT, the collector's base URL
	// (http://host:4318); spans go to Endpoint + "/v1/traces".
	Endpoint string
	// Headers are sent with every export (OTEL_EXPORTER_OTLP_HEADERS).
	Headers map[string]string
	// ServiceName and Version describe this process.
	ServiceName, Version string
	// InstanceID names this replica.
	InstanceID string
}

// Tracer records spans and exports them in batches. Safe for concurrent
// use.
type Tracer struct {
	tp   *sdktrace.TracerProvider
	tr   trace.Tracer
	prop propagation.TraceContext
}

var _ core.Tracer = (*Tracer)(nil)

// New starts the exporter. Shutdown flushes and stops it.
func New(ctx context.Context, cfg Config) (*Tracer, error) {
	ep := strings.TrimRight(cfg.Endpoint, "/")
	if !strings.HasPrefix(ep, "http://") && !strings.HasPrefix(ep, "https://") {
		return nil, errors.New("OTEL_EXPORTER_OTLP_ENDPOINT: must be an http:// or https:// URL")
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(ep + "/v1/traces")}
	if len(cfg.Headers) > 0 {
		opts = append(opts, otlptracehttp.WithHeaders(cfg.Headers))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, err
	}
	if cfg.ServiceName == "" {
		cfg.ServiceName = "cueapi"
	}
	res := resource.NewSchemaless(
		attribute.String("service.name", cfg.ServiceName),
		attribute.String("service.version", cfg.Version),
		attribute.String("service.instance.id", cfg.InstanceID),
	)
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Tracer{tp: tp, tr: tp.Tracer("github.com/cueapi/cueapi")}, nil
}

// Start implements core.Tracer: the span is a child of ctx's W3C trace
// context (a new root without one), and the returned context carries the
// span's own traceparent.
func (t *Tracer) Start(ctx context.Context, name string, kind core.SpanKind, attrs ...core.SpanAttr) (context.Context, func(error)) {
	parent := ctx
	if tc, ok := core.TraceFrom(ctx); ok && !trace.SpanContextFromContext(ctx).IsValid() {
		parent = t.prop.Extract(ctx, propagation.MapCarrier{"traceparent": tc.TraceParent, "tracestate": tc.TraceState})
	}
	kv := make([]attribute.KeyValue, len(attrs))
	for i, a := range attrs {
		kv[i] = attribute.String(a.Key, a.Value)
	}
	sctx, span := t.tr.Start(parent, name, trace.WithSpanKind(spanKind(kind)), trace.WithAttributes(kv...))
	carrier := propagation.MapCarrier{}
	t.prop.Inject(sctx, carrier)
	if tp := carrier["traceparent"]; tp != "" {
		sctx = core.WithTrace(sctx, core.TraceContext{TraceParent: tp, TraceState: carrier["tracestate"]})
	}
	return sctx, func(err error) {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

func spanKind(k core.SpanKind) trace.SpanKind {
	switch k {
	case core.SpanServer:
		return trace.SpanKindServer
	case core.SpanClient:
		return trace.SpanKindClient
	}
	return trace.SpanKindInternal
}

// Shutdown exports what is buffered and stops the exporter.
func (t *Tracer) Shutdown(ctx context.Context) error { return t.tp.Shutdown(ctx) }

// ParseHeaders reads OTEL_EXPORTER_OTLP_HEADERS ("k1=v1,k2=v2").
func ParseHeaders(s string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		if ok && strings.TrimSpace(k) != "" {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}
