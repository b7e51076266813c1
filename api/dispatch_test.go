package api

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"
)

// TestOperationHandlersCoverEverySpecOperation: every operation of the spec
// dispatches to its own generated handler, found by method and template, and
// a pattern the generated code does not register is a build error.
func TestOperationHandlersCoverEverySpecOperation(t *testing.T) {
	doc, err := Spec()
	require.NoError(t, err)
	m := newRecordingMux()
	served := map[string]bool{}
	for tmpl, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			key := method + " " + tmpl
			m.HandleFunc(key, func(http.ResponseWriter, *http.Request) { served[key] = true })
		}
	}
	ops, err := operationHandlers(doc, m)
	require.NoError(t, err)
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodGet, "/v1/cues/cue_abc", nil)
	route, params, err := router.FindRoute(r)
	require.NoError(t, err)
	p := &pipeline{ops: ops, next: http.NotFoundHandler()}
	p.dispatcher(r, route, params).ServeHTTP(httptest.NewRecorder(), r)
	require.Equal(t, map[string]bool{"GET /v1/cues/{cue_id}": true}, served)
	require.Equal(t, "cue_abc", r.PathValue("cue_id"), "the match's path parameters reach the handler")

	delete(m.handlers, "GET /v1/cues/{cue_id}")
	_, err = operationHandlers(doc, m)
	require.ErrorContains(t, err, "no generated handler for GET /v1/cues/{cue_id}")
}

// TestDispatcherLeavesUncleanPathsToServeMux: a path ServeMux would clean
// (and redirect) still goes through it, so that answer is unchanged.
func TestDispatcherLeavesUncleanPathsToServeMux(t *testing.T) {
	for p, clean := range map[string]bool{
		"/v1/cues": true, "/v1/cues/x": true, "/": true, "/v1/cues/": true,
		"/v1//cues": false, "/v1/cues/./x": false, "/v1/x/../cues": false, "": false, "v1": false,
	} {
		require.Equal(t, clean, cleanPath(p), p)
	}
}
