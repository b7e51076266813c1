package api_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/api"
	"github.com/cueapi/cueapi/core"
)

// requestLog is a core.Observer recording the HTTP requests it is told of.
type requestLog struct {
	core.NopObserver
	mu   sync.Mutex
	seen []string
}

func (l *requestLog) HTTPRequest(method, route string, status int, _ time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen = append(l.seen, method+" "+route+" "+http.StatusText(status))
}

// TestObservedRequestStateIsThePipelines: with metrics on, the observing
// wrapper routes the request and starts its state; the pipeline fills that
// state in place (no second copy of the request) and the answer and the
// metric are those of the route.
func TestObservedRequestStateIsThePipelines(t *testing.T) {
	t.Parallel()
	obs := &requestLog{}
	e := newPipelineEnvWith(t, func(d *api.Deps) { d.Observer = obs })
	obs.seen = nil // the environment's own set-up requests

	for _, tc := range []struct {
		path   string
		status int
		route  string
	}{
		{"/v1/executions/00000000-0000-4000-8000-000000000000", http.StatusNotFound, "/v1/executions/{execution_id}"},
		{"/v1/cues?limit=1", http.StatusOK, "/v1/cues"},
		{"/v1/nowhere", http.StatusNotFound, "other"},
	} {
		req := httptest.NewRequest("GET", tc.path, nil)
		req.Header.Set("Authorization", "Bearer "+e.key)
		rec := httptest.NewRecorder()
		shared, id := api.ServeObservedForTest(e.handler, rec, req)
		require.Equal(t, tc.status, rec.Code, tc.path)
		require.True(t, shared, tc.path)
		require.NotEmpty(t, id)
		require.Equal(t, id, rec.Header().Get("X-Request-Id"), tc.path)
		require.NotEmpty(t, rec.Header().Get("X-RateLimit-Limit"), tc.path)
	}
	require.Equal(t, []string{
		"GET /v1/executions/{execution_id} Not Found",
		"GET /v1/cues OK",
		"GET other Not Found",
	}, obs.seen)
}
