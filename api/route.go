package api

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
)

// specRouter matches requests against the spec's path templates without
// regular expressions. It answers exactly as kin-openapi's gorillamux router
// built from the same document (servers cleared) does:
//
//   - the escaped path (URL.EscapedPath) is matched, so an encoded slash
//     stays inside one segment and parameter values are returned escaped;
//   - a literal segment matches itself only, a {param} segment matches any
//     non-empty segment; no trailing-slash or empty-segment tolerance;
//   - templates are tried in openapi3.Paths.InMatchingOrder and the first
//     whose path matches decides: its operation for the request method, or
//     routers.ErrMethodNotAllowed (exact, case-sensitive method);
//   - no template matches: routers.ErrPathNotFound.
//
// Routes are built once; the *routers.Route returned for an operation is
// shared between requests and must not be modified.
type specRouter struct {
	// bySegments holds the templates by their number of '/'-separated
	// segments, each list in matching order.
	bySegments map[int][]*routeTemplate
}

var _ routers.Router = (*specRouter)(nil)

// routeTemplate is one path template split into segments.
type routeTemplate struct {
	segments []string // literal segment, or "" for a parameter
	params   []string // parameter name per segment ("" for a literal)
	nparams  int
	routes   map[string]*routers.Route // by method
}

// newSpecRouter builds the matcher for doc. Only templates whose parameters
// fill whole segments ("/a/{id}/b") are supported; anything else (e.g.
// "/a/{id}.json" or gorilla's "{id:pattern}") is a build error.
func newSpecRouter(doc *openapi3.T) (*specRouter, error) {
	if len(doc.Servers) > 0 {
		return nil, fmt.Errorf("api: spec router: servers must be cleared")
	}
	sr := &specRouter{bySegments: map[int][]*routeTemplate{}}
	for _, tmpl := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(tmpl)
		if !strings.HasPrefix(tmpl, "/") {
			return nil, fmt.Errorf("api: spec router: path %q does not start with /", tmpl)
		}
		segs := strings.Split(tmpl, "/")
		t := &routeTemplate{segments: segs, params: make([]string, len(segs)), routes: map[string]*routers.Route{}}
		for i, s := range segs {
			if !strings.ContainsAny(s, "{}") {
				continue
			}
			name, ok := strings.CutPrefix(s, "{")
			if ok {
				name, ok = strings.CutSuffix(name, "}")
			}
			if !ok || name == "" || strings.ContainsAny(name, "{}:") {
				return nil, fmt.Errorf("api: spec router: unsupported path segment %q in %q", s, tmpl)
			}
			t.segments[i], t.params[i] = "", name
			t.nparams++
		}
		for method := range item.Operations() {
			op := item.GetOperation(method)
			if op == nil {
				continue
			}
			t.routes[method] = &routers.Route{Spec: doc, Path: tmpl, PathItem: item, Method: method, Operation: op}
		}
		sr.bySegments[len(segs)] = append(sr.bySegments[len(segs)], t)
	}
	return sr, nil
}

// FindRoute implements routers.Router.
func (sr *specRouter) FindRoute(r *http.Request) (*routers.Route, map[string]string, error) {
	path := r.URL.EscapedPath()
	n := strings.Count(path, "/") + 1
	for _, t := range sr.bySegments[n] {
		if !t.match(path) {
			continue
		}
		route := t.routes[r.Method]
		if route == nil {
			return nil, nil, routers.ErrMethodNotAllowed
		}
		return route, t.values(path), nil
	}
	return nil, nil, routers.ErrPathNotFound
}

// match reports whether path (with as many segments as t) matches t.
func (t *routeTemplate) match(path string) bool {
	rest := path
	for i, lit := range t.segments {
		seg := rest
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			seg, rest = rest[:j], rest[j+1:]
		}
		if t.params[i] != "" {
			if seg == "" {
				return false
			}
		} else if seg != lit {
			return false
		}
	}
	return true
}

// values returns the parameter values of a path t matches, keyed by
// parameter name, as the path has them (escaped); nil without parameters.
func (t *routeTemplate) values(path string) map[string]string {
	if t.nparams == 0 {
		return nil
	}
	vars := make(map[string]string, t.nparams)
	rest := path
	for i := range t.segments {
		seg := rest
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			seg, rest = rest[:j], rest[j+1:]
		}
		if name := t.params[i]; name != "" {
			vars[name] = seg
		}
	}
	return vars
}
