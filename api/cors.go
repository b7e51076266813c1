package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// CORS policy (security.md §8.3). The service authenticates with bearer
// headers, never cookies, so the default — any origin, no credentials — is
// enough for browser clients and gives a hostile page nothing: it cannot make
// the browser attach a credential. Operators who want credentialed requests
// name their origins in CORS_ORIGINS; only those are echoed, and only then
// is Access-Control-Allow-Credentials sent. An arbitrary reflected origin is
// never combined with credentials.
//
// The headers are set at the very top of the pipeline, so 413 and 429
// answers carry them too (§0.2 [F], §5.8 L5), and preflights are answered
// there as well: before the body limit, the rate limiter, routing and
// authentication, so they are never counted against a bucket.

// corsAllowMethods is the Access-Control-Allow-Methods of every preflight.
const corsAllowMethods = "GET, POST, PATCH, PUT, DELETE, OPTIONS"

// corsExposeHeaders are the response headers browser code may read [R].
const corsExposeHeaders = "X-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After, X-CueAPI-Usage-Warning"

// corsMaxAge is how long (seconds) a browser may cache a preflight answer.
const corsMaxAge = "600"

// corsAllowHeaders are the request headers a preflight may ask for
// (lower-case). Anything else is left out of Access-Control-Allow-Headers,
// so the browser refuses the request.
var corsAllowHeaders = map[string]bool{
	"authorization": true, "content-type": true, "x-confirm-destructive": true,
	"x-worker-id": true, "x-cueapi-verify-echo": true, "idempotency-key": true,
}

// cors applies the CORS policy. The zero value (and a nil *cors) allows any
// origin without credentials. Safe for concurrent use (read-only after
// construction).
type cors struct {
	// origins is the CORS_ORIGINS allow-list; empty means "*" without
	// credentials.
	origins map[string]bool
}

func newCORS(origins []string) *cors {
	c := &cors{}
	if len(origins) > 0 {
		c.origins = make(map[string]bool, len(origins))
		for _, o := range origins {
			c.origins[o] = true
		}
	}
	return c
}

// apply sets the CORS headers of the response to r. It reports whether r
// is a preflight, which it has then answered completely (204).
func (c *cors) apply(w http.ResponseWriter, r *http.Request) (preflight bool) {
	h := w.Header()
	origin := r.Header.Get("Origin")
	allowed := false
	if c == nil || c.origins == nil {
		if origin != "" {
			h.Set("Access-Control-Allow-Origin", "*")
			allowed = true
		}
	} else {
		// The answer depends on the Origin header, whatever it is: shared
		// caches must key on it.
		h.Add("Vary", "Origin")
		if origin != "" && c.origins[origin] {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			allowed = true
		}
	}

	if r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
		if allowed {
			h.Set("Access-Control-Allow-Methods", corsAllowMethods)
			if ah := allowedRequestHeaders(r.Header.Values("Access-Control-Request-Headers")); ah != "" {
				h.Set("Access-Control-Allow-Headers", ah)
			}
			h.Set("Access-Control-Max-Age", corsMaxAge)
		}
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	if allowed {
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
	}
	return false
}

// allowedRequestHeaders returns the requested header names that are in the
// allow-list, lower-cased, in request order, comma-separated.
func allowedRequestHeaders(values []string) string {
	var out []string
	seen := map[string]bool{}
	for _, v := range values {
		for _, name := range strings.Split(v, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			if corsAllowHeaders[name] && !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	return strings.Join(out, ", ")
}

// ParseCORSOrigin validates one CORS_ORIGINS entry: an exact origin
// "scheme://host[:port]" with scheme http or https and nothing after the
// authority. It returns the origin as browsers serialize it (scheme and
// host lower-cased). "*" and "null" are refused: leave CORS_ORIGINS empty
// for the any-origin default.
func ParseCORSOrigin(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "*" || strings.EqualFold(s, "null") {
		return "", fmt.Errorf("%q is not an origin (leave CORS_ORIGINS empty to allow any origin without credentials)", s)
	}
	u, err := url.Parse(s) // lower-cases the scheme, refuses a non-numeric port
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return "", fmt.Errorf("%q is not an origin of the form https://host[:port]", s)
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host), nil
}
