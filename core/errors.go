package core

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error for callers that branch on it. The HTTP layer maps
// each kind to one status code (api/errors.go); nothing else in core knows
// about HTTP.
type Kind int

// Error kinds.
const (
	KindInternal         Kind = iota // anything unexpected
	KindInvalid                      // a semantic check of the input failed (400)
	KindUnauthorized                 // missing or bad credentials (401)
	KindForbidden                    // a plan limit or an ownership rule (403)
	KindNotFound                     // absent, or another tenant's (404)
	KindConflict                     // uniqueness or state conflict (409)
	KindGone                         // permanently unavailable (410)
	KindTooLarge                     // a size limit (413)
	KindUnprocessable                // structural validation (422)
	KindRateLimited                  // too many requests (429)
	KindUnavailable                  // a dependency or configuration is missing (503)
	KindMethodNotAllowed             // known path, wrong method (405)
	KindNotImplemented               // an endpoint not built yet (501)
)

// Sentinel errors. Adapters return them (wrapped) and services branch on them
// with errors.Is. A *Error of the same kind also matches them.
var (
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrForbidden    = errors.New("forbidden")
	ErrUnauthorized = errors.New("unauthorized")
	// ErrLimitExceeded is returned by Store.CueCreate when the tenant's active
	// cue limit would be exceeded.
	ErrLimitExceeded = errors.New("limit exceeded")
)

// Error is a coded domain error: Code is the stable machine-readable slug of
// the wire protocol (e.g. "cue_not_found") and Message the human text.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	// OmitStatus reproduces the one reference envelope without "status"
	// (verification-pending's 409 no_outcome).
	OmitStatus bool
	// Details lists per-field problems for KindUnprocessable.
	Details []FieldError
	// RetryAfter is set for KindRateLimited.
	RetryAfter time.Duration
	// Err is an optional wrapped cause (never shown to clients).
	Err error
}

// FieldError is one validation problem; Field is the dotted location
// ("body.schedule.type").
type FieldError struct {
	Field   string
	Message string
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is lets a coded error match the sentinel of its kind.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Kind == KindNotFound
	case ErrConflict:
		return e.Kind == KindConflict
	case ErrForbidden:
		return e.Kind == KindForbidden
	case ErrUnauthorized:
		return e.Kind == KindUnauthorized
	}
	return false
}

// NewError builds a coded error.
func NewError(kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

// Invalid is a 400-class coded error.
func Invalid(code, message string) *Error { return NewError(KindInvalid, code, message) }

// NotFound is a 404-class coded error.
func NotFound(code, message string) *Error { return NewError(KindNotFound, code, message) }

// Conflict is a 409-class coded error.
func Conflict(code, message string) *Error { return NewError(KindConflict, code, message) }

// Unprocessable is a 422 validation_error with one field problem. The message
// follows the wire format "<field>: <message>".
func Unprocessable(field, message string) *Error {
	msg := message
	if field != "" {
		msg = field + ": " + message
	}
	return &Error{Kind: KindUnprocessable, Code: "validation_error", Message: msg,
		Details: []FieldError{{Field: field, Message: message}}}
}

// ValueError is the whole-object 422 of the reference ("body: Value error, …").
func ValueError(message string) *Error { return Unprocessable("body", "Value error, "+message) }

// RateLimited is a 429 with a Retry-After.
func RateLimited(message string, retryAfter time.Duration) *Error {
	return &Error{Kind: KindRateLimited, Code: "rate_limit_exceeded", Message: message, RetryAfter: retryAfter}
}

// Canonical not-found errors of the protocol.
var (
	ErrCueNotFound       = NotFound("cue_not_found", "Cue not found")
	ErrExecutionNotFound = NotFound("execution_not_found", "Execution not found")
	ErrWorkerNotFound    = NotFound("worker_not_found", "Worker not found")
)

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}
