package api

import (
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"
)

// requestFor builds a request whose URL has exactly the given decoded path
// and raw (escaped) path, as the server would parse them.
func requestFor(t *testing.T, method, target string) *http.Request {
	t.Helper()
	u, err := url.ParseRequestURI(target)
	if err != nil {
		// Targets the request-URI parser refuses are built by hand.
		u = &url.URL{Path: target}
	}
	return &http.Request{Method: method, URL: u, Header: http.Header{}}
}

// requireSameAnswer asserts that the spec router answers r exactly as
// kin-openapi's gorillamux router does.
func requireSameAnswer(t *testing.T, want routers.Router, got *specRouter, r *http.Request) {
	t.Helper()
	what := r.Method + " " + r.URL.EscapedPath()
	wr, wp, werr := want.FindRoute(r)
	gr, gp, gerr := got.FindRoute(r)
	require.Equal(t, werr, gerr, what)
	if werr != nil {
		require.Nil(t, gr, what)
		require.Nil(t, gp, what)
		return
	}
	require.Same(t, wr.Spec, gr.Spec, what)
	require.Same(t, wr.PathItem, gr.PathItem, what)
	require.Same(t, wr.Operation, gr.Operation, what)
	require.Equal(t, wr.Path, gr.Path, what)
	require.Equal(t, wr.Method, gr.Method, what)
	require.Equal(t, wr.Server, gr.Server, what)
	require.True(t, maps.Equal(wp, gp), "%s: params %v, kin-openapi %v", what, gp, wp)
}

// TestSpecRouterAgreesWithKinOpenAPI: for every operation of openapi.yaml,
// with ordinary and odd parameter values and every method, and for paths
// that match nothing or match only after cleaning, the spec router returns
// the route, path parameters and error kin-openapi's router returns.
func TestSpecRouterAgreesWithKinOpenAPI(t *testing.T) {
	doc, err := Spec()
	require.NoError(t, err)
	kin, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	sr, err := newSpecRouter(doc)
	require.NoError(t, err)

	methods := []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "QUERY", "get", "Post", "FOO", ""}
	values := []string{"x", "cue_abc", "a%2Fb", "%2F", "caf%C3%A9", "é", "a%20b", "a+b", ".", "..", "%00", "{id}", "claim", "roster", "bulk-delete", "a;b", "a%25"}
	operations := 0
	for tmpl, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			operations++
			for _, v := range values {
				target := substitute(tmpl, v)
				r := requestFor(t, method, target)
				gr, _, gerr := sr.FindRoute(r)
				if v == "x" {
					// Every operation is reachable with a plain value.
					require.NoError(t, gerr, target)
					require.Equal(t, tmpl, gr.Path)
					require.Same(t, item.GetOperation(method), gr.Operation)
				}
				for _, m := range methods {
					requireSameAnswer(t, kin, sr, requestFor(t, m, target))
				}
				for _, odd := range []string{target + "/", target + "//", "/" + target, strings.Replace(target, "/v1/", "/v1//", 1), target + "/x", strings.ToUpper(target), target + "?a=1&b=%2F", target + "%2F", target + "#frag"} {
					requireSameAnswer(t, kin, sr, requestFor(t, method, odd))
				}
			}
		}
	}
	require.Greater(t, operations, 50, "every operation of the spec was tried")

	for _, target := range []string{
		"", "/", "//", "/v1", "/v1/", "/v1/cues/", "/v1//cues", "/v1/cues/a/b", "/v1/cues/a%2Fb", "/v1/%63ues",
		"/V1/cues", "/v1/cues/é", "/v1/cues/caf%C3%A9", "/v1/cues/\x00", "/v1/cues/%00", "/v1/cues/%zz",
		"/v1/executions/claim", "/v1/executions/claim/", "/v1/executions/claimable", "/v1/cues/bulk-delete",
		"/v1/agents/roster", "/v1/agents/roster/inbox", "/health/", "/health", "/nope", "/v1/cues/./x",
		"/v1/x/../cues", "/v1/agents/a/subscriptions/b/ack", "/v1/agents/a/subscriptions//ack", "v1/cues",
		"*", "/v1/cues/\u2028", "/v1/executions/%E2%80%A8/claim",
	} {
		for _, m := range methods {
			requireSameAnswer(t, kin, sr, requestFor(t, m, target))
		}
	}
}

// substitute fills every {param} of tmpl with v.
func substitute(tmpl, v string) string {
	segs := strings.Split(tmpl, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") {
			segs[i] = v
		}
	}
	return strings.Join(segs, "/")
}

// TestSpecRouterAnswers: the answers the pipeline relies on, stated
// directly — escaped parameter values, literal templates before parameter
// ones (405 rather than another operation), 404 for trailing slashes and
// empty segments.
func TestSpecRouterAnswers(t *testing.T) {
	doc, err := Spec()
	require.NoError(t, err)
	sr, err := newSpecRouter(doc)
	require.NoError(t, err)

	route, params, err := sr.FindRoute(requestFor(t, "GET", "/v1/executions/ex%2F1"))
	require.NoError(t, err)
	require.Equal(t, "/v1/executions/{execution_id}", route.Path)
	require.Equal(t, "GET", route.Method)
	require.Equal(t, map[string]string{"execution_id": "ex%2F1"}, params)

	route, params, err = sr.FindRoute(requestFor(t, "PATCH", "/v1/agents/a/subscriptions/s/ack"))
	require.NoError(t, err)
	require.Equal(t, map[string]string{"ref": "a", "subscription_id": "s"}, params)
	require.Equal(t, "/v1/agents/{ref}/subscriptions/{subscription_id}/ack", route.Path)

	_, params, err = sr.FindRoute(requestFor(t, "GET", "/health"))
	require.NoError(t, err)
	require.Empty(t, params)

	_, _, err = sr.FindRoute(requestFor(t, "GET", "/v1/cues/bulk-delete"))
	require.ErrorIs(t, err, routers.ErrMethodNotAllowed, "the literal template decides")
	_, _, err = sr.FindRoute(requestFor(t, "DELETE", "/v1/executions/x"))
	require.ErrorIs(t, err, routers.ErrMethodNotAllowed)
	_, _, err = sr.FindRoute(requestFor(t, "get", "/v1/executions/x"))
	require.ErrorIs(t, err, routers.ErrMethodNotAllowed, "methods are case-sensitive")
	for _, p := range []string{"/v1/cues/", "/v1//cues", "/v1/executions/x/", "/v1/executions//claim", "/nope", ""} {
		_, _, err = sr.FindRoute(requestFor(t, "GET", p))
		require.ErrorIs(t, err, routers.ErrPathNotFound, p)
	}
}

// TestSpecRouterRejectsUnsupportedTemplates: a template it cannot match
// segment by segment, or a spec with servers, is a build error rather than
// a silently different router.
func TestSpecRouterRejectsUnsupportedTemplates(t *testing.T) {
	for _, tmpl := range []string{"/books/{id}.json", "/files/{path:.*}", "/a/{}", "/a/{b}{c}", "/a/x}"} {
		doc := &openapi3.T{Paths: openapi3.NewPaths(openapi3.WithPath(tmpl, &openapi3.PathItem{Get: &openapi3.Operation{}}))}
		_, err := newSpecRouter(doc)
		require.ErrorContains(t, err, "unsupported path segment", tmpl)
	}
	doc := &openapi3.T{Servers: openapi3.Servers{{URL: "https://x/base"}}, Paths: openapi3.NewPaths()}
	_, err := newSpecRouter(doc)
	require.ErrorContains(t, err, "servers must be cleared")
}

func BenchmarkFindRoute(b *testing.B) {
	doc, err := Spec()
	require.NoError(b, err)
	kin, err := gorillamux.NewRouter(doc)
	require.NoError(b, err)
	sr, err := newSpecRouter(doc)
	require.NoError(b, err)
	r := &http.Request{Method: "GET", URL: &url.URL{Path: "/v1/executions/0b7c5d1e-0000-4000-8000-000000000001"}}
	for name, router := range map[string]routers.Router{"kin-openapi": kin, "spec": sr} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := router.FindRoute(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
