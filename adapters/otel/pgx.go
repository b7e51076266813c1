package otel

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// QueryTracer records a span per PostgreSQL query made inside a traced
// operation (a request or a delivery); queries of untraced background loops
// record nothing. The span is named after the sqlc query ("db
// ExecutionClaimDeliveries"); arguments are never recorded.
func (t *Tracer) QueryTracer() pgx.QueryTracer { return queryTracer{t} }

type queryTracer struct{ t *Tracer }

type spanKey struct{}

func (q queryTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	name := queryName(data.SQL)
	ctx, span := q.t.tr.Start(ctx, "db "+name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", "postgresql"), attribute.String("db.operation.name", name)))
	return context.WithValue(ctx, spanKey{}, span)
}

func (queryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	span, ok := ctx.Value(spanKey{}).(trace.Span)
	if !ok {
		return
	}
	if data.Err != nil {
		span.SetStatus(codes.Error, "query failed")
	}
	span.End()
}

// queryName is sqlc's "-- name: X :one" header, else the SQL verb.
func queryName(sql string) string {
	s := strings.TrimSpace(sql)
	if rest, ok := strings.CutPrefix(s, "-- name: "); ok {
		if f := strings.Fields(rest); len(f) > 0 {
			return f[0]
		}
	}
	if f := strings.Fields(s); len(f) > 0 {
		return strings.ToUpper(f[0])
	}
	return "query"
}
