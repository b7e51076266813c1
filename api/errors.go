package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cueapi/cueapi/core"
)

// errorBody is the wire envelope of spec/api.md §1.5, mirrored under
// "detail" (clients.md Q1: the CLI reads detail.error, the SDK and MCP
// server read error).
type errorBody struct {
	Error  errorFields `json:"error"`
	Detail errorDetail `json:"detail"`
}

type errorDetail struct {
	Error errorFields `json:"error"`
}

type errorFields struct {
	Code    string        `json:"code"`
	Message string        `json:"message"`
	Status  *int          `json:"status,omitempty"`
	Details []fieldDetail `json:"details,omitempty"`
	// MissingKeys lists the absent keys of missing_required_payload_keys.
	MissingKeys []string `json:"missing_keys,omitempty"`
	// Limit, WindowSeconds and Current are the figures of a message quota
	// error (rate_limit_exceeded, priority_high_rate_limit, quota_exceeded).
	Limit         *int `json:"limit,omitempty"`
	WindowSeconds *int `json:"window_seconds,omitempty"`
	Current       *int `json:"current,omitempty"`
}

type fieldDetail struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// statusOf is the one table from error kind to HTTP status.
func statusOf(k core.Kind) int {
	switch k {
	case core.KindInvalid:
		return http.StatusBadRequest
	case core.KindUnauthorized:
		return http.StatusUnauthorized
	case core.KindForbidden:
		return http.StatusForbidden
	case core.KindNotFound:
		return http.StatusNotFound
	case core.KindConflict:
		return http.StatusConflict
	case core.KindGone:
		return http.StatusGone
	case core.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case core.KindUnprocessable:
		return http.StatusUnprocessableEntity
	case core.KindRateLimited:
		return http.StatusTooManyRequests
	case core.KindUnavailable:
		return http.StatusServiceUnavailable
	case core.KindMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case core.KindNotImplemented:
		return http.StatusNotImplemented
	case core.KindPaymentRequired:
		return http.StatusPaymentRequired
	}
	return http.StatusInternalServerError
}

// toCoded turns any error into the coded error written to the client.
// Unknown errors become a generic 500 (the real error is logged, never sent).
func toCoded(err error) (*core.Error, bool) {
	if e, ok := core.AsError(err); ok {
		return e, true
	}
	switch {
	case errors.Is(err, core.ErrNotFound):
		return core.NotFound("http_error", "Not Found"), true
	case errors.Is(err, core.ErrConflict):
		return core.Conflict("conflict", "Conflict"), true
	}
	return &core.Error{Kind: core.KindInternal, Code: "internal_error", Message: "An internal error occurred"}, false
}

// WriteError writes err as the error envelope. It is the only place an error
// becomes an HTTP response.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	e, known := toCoded(err)
	status := statusOf(e.Kind)
	if !known || status == http.StatusInternalServerError {
		log.Error("request failed", "request_id", RequestID(r.Context()), "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if e.Kind == core.KindUnavailable && e.Err != nil {
		outageOf(log).failed(log, e.Code, err, time.Now())
	}
	body := errorBody{Error: errorFields{Code: e.Code, Message: e.Message, MissingKeys: e.MissingKeys}}
	if l := e.Limits; l != nil {
		body.Error.Limit, body.Error.WindowSeconds, body.Error.Current = &l.Limit, l.WindowSeconds, l.Current
	}
	if !e.OmitStatus {
		body.Error.Status = &status
	}
	if len(e.Details) > 0 {
		body.Error.Details, body.Error.Message = renderDetails(e.Details)
	}
	if (e.Kind == core.KindRateLimited || e.Kind == core.KindUnavailable) && e.RetryAfter > 0 {
		secs := int((e.RetryAfter + 999_999_999) / 1_000_000_000)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	body.Detail.Error = body.Error
	writeJSON(w, status, body)
}

// outageLogInterval is the least time between two log lines of one
// dependency outage.
const outageLogInterval = time.Minute

// outageLog aggregates the log of a dependency outage: one WARN when
// requests start failing, then at most one summary line per
// outageLogInterval counting the failures since the last line — never a
// line per request. A failure after a quiet interval starts a new outage.
type outageLog struct {
	mu         sync.Mutex
	started    time.Time // zero: no outage
	lastLine   time.Time
	lastFail   time.Time
	suppressed int
}

// outages holds one outageLog per logger (one per server).
var outages sync.Map // *slog.Logger -> *outageLog

func outageOf(log *slog.Logger) *outageLog {
	o, _ := outages.LoadOrStore(log, &outageLog{})
	return o.(*outageLog)
}

func (o *outageLog) failed(log *slog.Logger, code string, err error, now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.started.IsZero() && now.Sub(o.lastFail) > outageLogInterval {
		if o.suppressed > 0 {
			log.Warn("dependency outage ended", "since", o.started, "failed_requests", o.suppressed)
		}
		o.started = time.Time{}
	}
	o.lastFail = now
	switch {
	case o.started.IsZero():
		o.started, o.lastLine, o.suppressed = now, now, 0
		log.Warn("dependency unavailable; answering 503 until it recovers", "code", code, "err", err)
	case now.Sub(o.lastLine) >= outageLogInterval:
		log.Warn("dependency still unavailable", "code", code, "since", o.started, "failed_requests", o.suppressed+1, "err", err)
		o.lastLine, o.suppressed = now, 0
	default:
		o.suppressed++
	}
}

// renderDetails renders validation problems (api.md §1.5 (b)): each as
// field and message, and the envelope's message "<field>: <message>" of the
// first (just the message when it has no location).
func renderDetails(problems []core.FieldError) ([]fieldDetail, string) {
	details := make([]fieldDetail, len(problems))
	for i, p := range problems {
		details[i] = fieldDetail{Field: p.Name(), Message: detailMessage(p)}
	}
	first := details[0]
	if first.Field == "" {
		return details, first.Message
	}
	return details, first.Field + ": " + first.Message
}

const internalErrorJSON = `{"error":{"code":"internal_error","message":"An internal error occurred","status":500},"detail":{"error":{"code":"internal_error","message":"An internal error occurred","status":500}}}`

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(internalErrorJSON)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
