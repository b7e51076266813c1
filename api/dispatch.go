package api

import (
	"fmt"
	"net/http"
	"path"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
)

// Route once: the spec router (specRouter, built once from the spec and
// answering as kin-openapi's router would) matches every request,
// and the match is reused for dispatch — the generated handler of the
// matched operation is called directly with the path parameters the match
// found, instead of the generated ServeMux routing the request a second
// time.

// recordingMux is the generated router's base mux: it registers every
// pattern on an ordinary ServeMux (still used for the spec document and for
// paths the ServeMux would clean) and remembers the handler of each.
type recordingMux struct {
	*http.ServeMux
	handlers map[string]http.HandlerFunc // "GET /v1/cues/{cue_id}" → handler
}

func newRecordingMux() *recordingMux {
	return &recordingMux{ServeMux: http.NewServeMux(), handlers: map[string]http.HandlerFunc{}}
}

func (m *recordingMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.handlers[pattern] = h
	m.ServeMux.HandleFunc(pattern, h)
}

// operationHandlers maps every operation of doc to the generated handler
// registered for its method and path template. An operation without one is
// a build error (the spec and the generated code disagree).
func operationHandlers(doc *openapi3.T, m *recordingMux) (map[*openapi3.Operation]http.HandlerFunc, error) {
	out := map[*openapi3.Operation]http.HandlerFunc{}
	for tmpl, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			h, ok := m.handlers[method+" "+tmpl]
			if !ok {
				return nil, fmt.Errorf("api: no generated handler for %s %s", method, tmpl)
			}
			out[op] = h
		}
	}
	return out, nil
}

// dispatcher returns the handler for the matched route, with the path
// parameters of the match set on r. A path the ServeMux would clean (and
// redirect) goes through the ServeMux as before, so that answer is
// unchanged.
func (p *pipeline) dispatcher(r *http.Request, route *routers.Route, pathParams map[string]string) http.Handler {
	h := p.ops[route.Operation]
	if h == nil || !cleanPath(r.URL.Path) {
		return p.next
	}
	for k, v := range pathParams {
		r.SetPathValue(k, v)
	}
	return h
}

// cleanPath reports whether ServeMux would serve p without a redirect.
func cleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	c := path.Clean(p)
	if p[len(p)-1] == '/' && c != "/" {
		c += "/"
	}
	return c == p
}

// routeMatch is the router's answer for a request, found by the observing
// wrapper (metrics and spans need the route template) and reused by the
// pipeline.
type routeMatch struct {
	route  *routers.Route
	params map[string]string
	err    error
}

// findRoute matches r against the spec, once per request.
func (p *pipeline) findRoute(r *http.Request) (*routers.Route, map[string]string, error) {
	if st := stateFrom(r.Context()); st != nil && st.matched {
		return st.match.route, st.match.params, st.match.err
	}
	return p.router.FindRoute(r)
}
