package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/adapters/otel/oteltest"
	"github.com/cueapi/cueapi/core"
)

const incomingTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"

func fireTraced(t *testing.T, e *testEnv, key, cueID string) string {
	t.Helper()
	resp, body := e.raw("POST", "/v1/cues/"+cueID+"/fire", key, "", map[string]string{
		"traceparent": "00-" + incomingTraceID + "-00f067aa0ba902b7-01", "tracestate": "vendor=1",
	})
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	var out struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(body, &out))
	return out.ID
}

func TestTraceparentReachesTheWebhook(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			e := engineEnv(t, be) // tracing off: propagation still works
			key := e.register()
			rcv := newReceiver(t)
			c := e.createCue(key, fmt.Sprintf(`{"name":"traced","schedule":{"type":"once","at":"2027-01-01T00:00:00Z"},"callback":{"url":%q,"headers":{"traceparent":"00-ffffffffffffffffffffffffffffffff-ffffffffffffffff-01"}}}`, rcv.url("/")))

			fireTraced(t, e, key, c.ID)
			_, n := e.pump()
			require.Equal(t, 1, n)
			reqs := rcv.requests()
			require.Len(t, reqs, 1)
			require.Len(t, reqs[0].header.Values("traceparent"), 1, "the cue's own traceparent header is replaced")
			tc, ok := core.ParseTraceParent(reqs[0].header.Get("traceparent"), "")
			require.True(t, ok, reqs[0].header.Get("traceparent"))
			require.Equal(t, incomingTraceID, tc.TraceID(), "the receiver joins the caller's trace")
			require.Equal(t, "vendor=1", reqs[0].header.Get("tracestate"))

			// A run no request started traces under its execution id.
			due := testNow.Add(time.Minute)
			sched := e.createCue(key, fmt.Sprintf(`{"name":"sched","schedule":{"type":"once","at":%q},"callback":{"url":%q}}`,
				due.Format(time.RFC3339), rcv.url("/s")))
			e.clock.Set(due)
			_, n = e.pump()
			require.Equal(t, 1, n)
			ex := e.executions(key, sched.ID)
			require.Len(t, ex, 1)
			reqs = rcv.requests()
			require.Len(t, reqs, 2)
			tc, ok = core.ParseTraceParent(reqs[1].header.Get("traceparent"), "")
			require.True(t, ok)
			require.Equal(t, strings.ReplaceAll(ex[0].ID, "-", ""), tc.TraceID())
		})
	}
}

func TestSpansReachTheOTLPCollector(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			col := oteltest.Start(t)
			e := engineEnv(t, be)
			e.stop()
			e.cfg.OTLPEndpoint = col.URL
			e.start()
			key := e.register()
			rcv := newReceiver(t)
			c := e.createCue(key, fmt.Sprintf(`{"name":"otlp","schedule":{"type":"once","at":"2027-01-01T00:00:00Z"},"callback":{"url":%q}}`, rcv.url("/")))
			fireTraced(t, e, key, c.ID)
			_, n := e.pump()
			require.Equal(t, 1, n)
			got, ok := core.ParseTraceParent(rcv.requests()[0].header.Get("traceparent"), "")
			require.True(t, ok)
			require.Equal(t, incomingTraceID, got.TraceID())
			e.app.ops.close() // flush

			var server, client *oteltest.Span
			var queries []oteltest.Span
			for _, s := range col.Spans() {
				switch {
				case s.Name == "POST /v1/cues/{cue_id}/fire":
					server = &s
				case s.Name == "webhook.deliver":
					client = &s
				case strings.HasPrefix(s.Name, "db ") && s.TraceID == incomingTraceID:
					queries = append(queries, s)
				}
			}
			require.NotNil(t, server, "request span exported: %+v", col.Spans())
			require.NotNil(t, client, "delivery span exported: %+v", col.Spans())
			require.Equal(t, incomingTraceID, server.TraceID)
			require.Equal(t, "00f067aa0ba902b7", server.ParentSpanID)
			require.Equal(t, incomingTraceID, client.TraceID)
			require.Equal(t, client.SpanID, got.TraceParent[36:52], "the webhook names the delivery span as its parent")
			require.Equal(t, "/v1/cues/{cue_id}/fire", server.Attrs["http.route"])
			require.Equal(t, version, server.Resource["service.version"])
			if be == backendPostgres {
				// request -> store: the fire's queries are children of the request span.
				require.NotEmpty(t, queries, "query spans: %+v", col.Spans())
				names := map[string]bool{}
				for _, q := range queries {
					require.Equal(t, server.SpanID, q.ParentSpanID)
					names[q.Name] = true
				}
				require.True(t, names["db CueGet"], "%v", names)
			}
		})
	}
}
