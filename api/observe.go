package api

import (
	"net/http"
	"time"

	"github.com/getkin/kin-openapi/routers"

	"github.com/cueapi/cueapi/core"
)

// observed wraps the pipeline: it takes the caller's W3C trace context
// (traceparent/tracestate) into the request context — executions a request
// creates continue that trace — opens the request span, and reports every
// request by route template (never the raw path) and status.
type observed struct {
	next   http.Handler
	router routers.Router
	obs    core.Observer
	tracer core.Tracer // nil: no spans
	off    bool        // no observer and no tracer
}

func observe(next http.Handler, router routers.Router, obs core.Observer, tracer core.Tracer) http.Handler {
	o := &observed{next: next, router: router, obs: obs, tracer: tracer, off: obs == nil && tracer == nil}
	if obs == nil {
		o.obs = core.NopObserver{}
	}
	return o
}

// knownMethods bounds the method label.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

func (o *observed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	// Canonical keys: Get need not canonicalize (allocate) them.
	if tc, ok := core.ParseTraceParent(r.Header.Get("Traceparent"), r.Header.Get("Tracestate")); ok {
		ctx = core.WithTrace(ctx, tc)
	}
	if o.off {
		// Neither metrics nor spans: only the trace context is carried.
		o.next.ServeHTTP(w, r.WithContext(ctx))
		return
	}
	start := time.Now()
	route := "other"
	// The request's state starts here, with the match: the pipeline fills
	// it in and reuses the match (route once).
	st := &requestState{matched: true}
	m := &st.match
	m.route, m.params, m.err = o.router.FindRoute(r)
	ctx = withState(ctx, st)
	if m.err == nil {
		route = m.route.Path
	} else if r.URL.Path == "/auth/device" || r.URL.Path == "/openapi.json" {
		route = r.URL.Path
	}
	method := r.Method
	if !knownMethods[method] {
		method = "OTHER"
	}
	var end func(error)
	if o.tracer != nil {
		ctx, end = o.tracer.Start(ctx, method+" "+route, core.SpanServer,
			core.SpanAttr{Key: "http.request.method", Value: method}, core.SpanAttr{Key: "http.route", Value: route})
	}
	st.observed = statusOnly{ResponseWriter: w, status: http.StatusOK}
	rec := &st.observed
	defer func() {
		o.obs.HTTPRequest(method, route, rec.status, time.Since(start))
		switch {
		case end == nil:
		case rec.status >= 500:
			end(errStatus(rec.status))
		default:
			end(nil)
		}
	}()
	o.next.ServeHTTP(rec, r.WithContext(ctx))
}

type errStatus int

func (e errStatus) Error() string { return http.StatusText(int(e)) }

// statusOnly remembers the status code.
type statusOnly struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusOnly) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusOnly) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusOnly) Unwrap() http.ResponseWriter { return s.ResponseWriter }
