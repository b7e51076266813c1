package api

import "net/http"

// ServeObservedForTest serves r through h, a handler from NewHandler with
// an Observer or a Tracer, and reports whether the pipeline filled in the
// request state the observing wrapper made (rather than a copy of its own),
// with the request id that state holds.
func ServeObservedForTest(h http.Handler, w http.ResponseWriter, r *http.Request) (shared bool, id string) {
	o := *h.(*observed)
	inner := o.next
	var st *requestState
	o.next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st = stateFrom(r.Context())
		inner.ServeHTTP(w, r)
	})
	o.ServeHTTP(w, r)
	if st == nil {
		return false, ""
	}
	return st.started, st.id
}
