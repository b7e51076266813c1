package otel_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/adapters/otel"
	"github.com/cueapi/cueapi/adapters/otel/oteltest"
	"github.com/cueapi/cueapi/core"
)

func TestSpansContinueTheIncomingTraceAndReachTheCollector(t *testing.T) {
	t.Parallel()
	col := oteltest.Start(t)
	tr, err := otel.New(context.Background(), otel.Config{Endpoint: col.URL, Version: "v1.2.3", InstanceID: "test"})
	require.NoError(t, err)
	in, ok := core.ParseTraceParent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "")
	require.True(t, ok)
	ctx, endReq := tr.Start(core.WithTrace(context.Background(), in), "POST /v1/cues/{cue_id}/fire", core.SpanServer, core.SpanAttr{Key: "http.route", Value: "/v1/cues/{cue_id}/fire"})
	reqTrace, ok := core.TraceFrom(ctx)
	require.True(t, ok)
	require.Equal(t, in.TraceID(), reqTrace.TraceID())
	require.NotEqual(t, in.TraceParent, reqTrace.TraceParent, "the context names the new span")
	_, endDel := tr.Start(ctx, "webhook.deliver", core.SpanClient)
	endDel(nil)
	endReq(nil)
	require.NoError(t, tr.Shutdown(context.Background()))

	spans := col.Spans()
	require.Len(t, spans, 2)
	byName := map[string]oteltest.Span{}
	for _, s := range spans {
		byName[s.Name] = s
		require.Equal(t, in.TraceID(), s.TraceID)
		require.Equal(t, "cueapi", s.Resource["service.name"])
		require.Equal(t, "v1.2.3", s.Resource["service.version"])
	}
	req, del := byName["POST /v1/cues/{cue_id}/fire"], byName["webhook.deliver"]
	require.Equal(t, "00f067aa0ba902b7", req.ParentSpanID)
	require.Equal(t, req.SpanID, del.ParentSpanID)
	require.Equal(t, "/v1/cues/{cue_id}/fire", req.Attrs["http.route"])
}

func TestEndpointMustBeHTTP(t *testing.T) {
	t.Parallel()
	_, err := otel.New(context.Background(), otel.Config{Endpoint: "collector:4318"})
	require.ErrorContains(t, err, "OTEL_EXPORTER_OTLP_ENDPOINT")
	require.Equal(t, map[string]string{"a": "1", "b": "x=y"}, otel.ParseHeaders("a=1, b=x=y,junk"))
}
