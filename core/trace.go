package core

import (
	"context"
	"strings"
	"sync"
	"time"
)

// TraceContext is a W3C Trace Context: the traceparent header
// ("00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>") and tracestate.
type TraceContext struct {
	TraceParent string
	TraceState  string
}

// TraceID returns the 32-hex trace id.
func (t TraceContext) TraceID() string {
	if len(t.TraceParent) < 35 {
		return ""
	}
	return t.TraceParent[3:35]
}

type traceKey struct{}

// WithTrace returns ctx carrying tc.
func WithTrace(ctx context.Context, tc TraceContext) context.Context {
	return context.WithValue(ctx, traceKey{}, tc)
}

// TraceFrom returns the trace context carried by ctx.
func TraceFrom(ctx context.Context) (TraceContext, bool) {
	tc, ok := ctx.Value(traceKey{}).(TraceContext)
	return tc, ok && tc.TraceParent != ""
}

// ParseTraceParent validates a traceparent header (version 00 layout; a
// higher version is accepted by its first four fields, as the
// recommendation asks). tracestate is kept only with a valid traceparent and
// when at most 512 bytes of printable ASCII.
func ParseTraceParent(traceparent, tracestate string) (TraceContext, bool) {
	s := strings.TrimSpace(traceparent)
	if len(s) < 55 || (len(s) > 55 && s[55] != '-') {
		return TraceContext{}, false
	}
	s = strings.ToLower(s[:55])
	if s[2] != '-' || s[35] != '-' || s[52] != '-' || !isHex(s[0:2]) || s[0:2] == "ff" ||
		!isHex(s[3:35]) || !isHex(s[36:52]) || !isHex(s[53:55]) ||
		s[3:35] == strings.Repeat("0", 32) || s[36:52] == strings.Repeat("0", 16) {
		return TraceContext{}, false
	}
	tc := TraceContext{TraceParent: "00" + s[2:]}
	if len(tracestate) <= 512 && printableASCII(tracestate) {
		tc.TraceState = strings.TrimSpace(tracestate)
	}
	return tc, true
}

// ChildTrace returns tc with a fresh parent id (a hop that does not record a
// span of its own still identifies itself as the caller).
func ChildTrace(tc TraceContext) TraceContext {
	return TraceContext{TraceParent: "00-" + tc.TraceID() + "-" + RandomHex(8) + "-" + tc.TraceParent[53:55], TraceState: tc.TraceState}
}

// ExecutionTrace is the trace of an execution that no request started (a
// scheduled run): its trace id is the execution id's 128 bits, so every
// attempt of one execution shares one trace and a receiver can tell which
// execution a trace belongs to.
func ExecutionTrace(id ExecutionID) TraceContext {
	h := strings.ReplaceAll(string(id), "-", "")
	if len(h) != 32 || !isHex(h) {
		h = RandomHex(16)
	}
	return TraceContext{TraceParent: "00-" + strings.ToLower(h) + "-" + RandomHex(8) + "-01"}
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Tracer records spans (the OpenTelemetry adapter). Start begins a span as
// a child of the ctx's trace context and returns a context whose
// TraceContext names the new span; end finishes it. NopTracer records
// nothing and costs nothing.
type Tracer interface {
	Start(ctx context.Context, name string, kind SpanKind, attrs ...SpanAttr) (context.Context, func(err error))
}

// SpanKind is the role of a span.
type SpanKind int

// Span kinds.
const (
	SpanInternal SpanKind = iota
	SpanServer
	SpanClient
)

// SpanAttr is one low-cardinality span attribute.
type SpanAttr struct {
	Key   string
	Value string
}

// NopTracer records nothing.
type NopTracer struct{}

// Start implements Tracer.
func (NopTracer) Start(ctx context.Context, _ string, _ SpanKind, _ ...SpanAttr) (context.Context, func(error)) {
	return ctx, func(error) {}
}

func tracerOr(t Tracer) Tracer {
	if t == nil {
		return NopTracer{}
	}
	return t
}

// TraceCarrier keeps the trace context of executions created by a request
// (manual fire, replay) until their delivery, so the webhook continues the
// caller's trace. It is in memory: a delivery made by another replica, or
// after a restart, starts the execution's own trace instead. Bounded; safe
// for concurrent use.
type TraceCarrier struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	items map[ExecutionID]carried
}

type carried struct {
	tc TraceContext
	at time.Time
}

// NewTraceCarrier keeps at most max entries, each for at most ttl.
func NewTraceCarrier(max int, ttl time.Duration) *TraceCarrier {
	return &TraceCarrier{max: max, ttl: ttl, items: make(map[ExecutionID]carried)}
}

// Put remembers the trace of an execution created now.
func (c *TraceCarrier) Put(id ExecutionID, tc TraceContext, now time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.items) >= c.max {
		for k, v := range c.items { // drop the expired, or one arbitrary entry
			if now.Sub(v.at) > c.ttl || len(c.items) >= c.max {
				delete(c.items, k)
			}
			if len(c.items) < c.max/2 {
				break
			}
		}
	}
	c.items[id] = carried{tc: tc, at: now}
}

// Get returns the trace of an execution, if one was carried.
func (c *TraceCarrier) Get(id ExecutionID, now time.Time) (TraceContext, bool) {
	if c == nil {
		return TraceContext{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.items[id]
	if !ok || now.Sub(v.at) > c.ttl {
		return TraceContext{}, false
	}
	return v.tc, true
}

// Forget drops an execution whose delivery finished.
func (c *TraceCarrier) Forget(id ExecutionID) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.items, id)
	c.mu.Unlock()
}

// Len returns how many traces are held.
func (c *TraceCarrier) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}
