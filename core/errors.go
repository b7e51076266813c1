package core

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
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
	KindPaymentRequired              // a paid quota is used up (402)
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
// Validation errors (Code "validation_error") carry no Message: their text
// is rendered by the HTTP layer from Details.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	// OmitStatus reproduces the one reference envelope without "status"
	// (verification-pending's 409 no_outcome).
	OmitStatus bool
	// Details lists every field problem of a validation error, in the order
	// found.
	Details []FieldError
	// MissingKeys is rendered inside the envelope as error.missing_keys
	// (missing_required_payload_keys).
	MissingKeys []string
	// RetryAfter is set for KindRateLimited.
	RetryAfter time.Duration
	// Limits are rendered inside the envelope (error.limit,
	// error.window_seconds, error.current) by the message quotas.
	Limits *ErrorLimits
	// Err is an optional wrapped cause (never shown to clients).
	Err error
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" && len(e.Details) > 0 {
		parts := make([]string, len(e.Details))
		for i, d := range e.Details {
			parts[i] = d.String()
		}
		msg = strings.Join(parts, "; ")
	}
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, msg, e.Err)
	}
	return e.Code + ": " + msg
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

// ErrorLimits are the figures of a quota error.
type ErrorLimits struct {
	Limit         int
	WindowSeconds *int
	Current       *int
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

// CodeValidation is the code of every validation error.
const CodeValidation = "validation_error"

// Validation is the validation error listing problems, or nil when there
// are none.
func Validation(problems ...FieldError) error {
	if len(problems) == 0 {
		return nil
	}
	return &Error{Kind: KindUnprocessable, Code: CodeValidation, Details: problems}
}

// Location says where in a request a field was found.
type Location string

// Request locations.
const (
	InBody   Location = "body"
	InQuery  Location = "query"
	InPath   Location = "path"
	InHeader Location = "header"
)

// ValueType is the type a field was expected to have (or had).
type ValueType string

// Value types.
const (
	TypeString   ValueType = "string"
	TypeInteger  ValueType = "integer"
	TypeNumber   ValueType = "number"
	TypeBoolean  ValueType = "boolean"
	TypeObject   ValueType = "object"
	TypeArray    ValueType = "array"
	TypeDatetime ValueType = "datetime"
	TypeURL      ValueType = "url"
)

// Rule is the constraint a field broke.
type Rule int

// Rules. The fields of FieldError each rule uses are named in brackets.
const (
	RuleInvalid    Rule = iota // a domain rule of the field [Reason]
	RuleRequired               // the field is missing
	RuleExtra                  // the field is not accepted here
	RuleType                   // not of the expected type [Want; Got when known]
	RuleEnum                   // not one of the allowed values [Allowed]
	RuleMin                    // a number below the bound [Limit]
	RuleMax                    // a number above the bound [Limit]
	RuleMinLength              // a string shorter than Limit characters [Limit; Want TypeURL for URLs]
	RuleMaxLength              // a string longer than Limit characters [Limit; Want TypeURL for URLs]
	RuleMinItems               // a list or object with fewer entries [Limit, Count; Want TypeArray or TypeObject]
	RuleMaxItems               // a list or object with more entries [Limit, Count; Want TypeArray or TypeObject]
	RulePattern                // a string not matching a regular expression [Reason = the pattern]
	RuleNul                    // contains NUL characters [Want: TypeString, or the container type]
	RuleUnstorable             // text no store can hold (NUL, invalid UTF-8)
	RuleDepth                  // JSON nested deeper than Limit levels [Limit]
	RuleURLScheme              // a URL whose scheme is not allowed [Allowed]
	RuleEmail                  // not an email address [Reason]
	RuleCrossField             // a rule across fields of the whole object [Reason]
)

var ruleNames = [...]string{"invalid", "required", "extra", "type", "enum", "min", "max", "min_length",
	"max_length", "min_items", "max_items", "pattern", "nul", "unstorable", "depth", "url_scheme", "email", "cross_field"}

func (r Rule) String() string {
	if int(r) < len(ruleNames) {
		return ruleNames[r]
	}
	return "rule(" + strconv.Itoa(int(r)) + ")"
}

// FieldError is one validation problem: which field (location and path —
// object keys and list indices, outermost first), which rule, and the rule's
// data. It carries no wire text; the HTTP layer renders it.
type FieldError struct {
	In      Location
	Path    []string
	Rule    Rule
	Want    ValueType
	Got     ValueType
	Limit   int
	Count   int
	Allowed []string
	Reason  string
}

// Body names a field of the request body (no path: the whole body).
func Body(path ...string) FieldError { return FieldError{In: InBody, Path: path} }

// Query names a query parameter.
func Query(name string) FieldError { return FieldError{In: InQuery, Path: []string{name}} }

// Index extends the field's path with a list index.
func (f FieldError) Index(i int) FieldError { return f.Key(strconv.Itoa(i)) }

// Key extends the field's path with an object key.
func (f FieldError) Key(k string) FieldError {
	f.Path = append(append([]string(nil), f.Path...), k)
	return f
}

// Required: the field is missing.
func (f FieldError) Required() FieldError { f.Rule = RuleRequired; return f }

// NotA: the field is not of type t.
func (f FieldError) NotA(t ValueType) FieldError { f.Rule, f.Want = RuleType, t; return f }

// OneOf: the field is none of allowed.
func (f FieldError) OneOf(allowed ...string) FieldError {
	f.Rule, f.Allowed = RuleEnum, allowed
	return f
}

// Below: the number is less than min.
func (f FieldError) Below(min int) FieldError { f.Rule, f.Limit = RuleMin, min; return f }

// Above: the number is greater than max.
func (f FieldError) Above(max int) FieldError { f.Rule, f.Limit = RuleMax, max; return f }

// TooLong: the string has more than max characters.
func (f FieldError) TooLong(max int) FieldError { f.Rule, f.Limit = RuleMaxLength, max; return f }

// TooMany: the list (TypeArray) or object (TypeObject) has count entries,
// more than max.
func (f FieldError) TooMany(of ValueType, max, count int) FieldError {
	f.Rule, f.Want, f.Limit, f.Count = RuleMaxItems, of, max, count
	return f
}

// HasNul: the value (a string, or strings inside a container of type of)
// contains NUL characters.
func (f FieldError) HasNul(of ValueType) FieldError { f.Rule, f.Want = RuleNul, of; return f }

// Unstorable: the value holds text no store can keep (NUL, invalid UTF-8).
func (f FieldError) Unstorable() FieldError { f.Rule = RuleUnstorable; return f }

// TooDeep: the JSON value nests more than max levels.
func (f FieldError) TooDeep(max int) FieldError { f.Rule, f.Limit = RuleDepth, max; return f }

// NotEmail: the field is not an email address, for reason.
func (f FieldError) NotEmail(reason string) FieldError {
	f.Rule, f.Reason = RuleEmail, reason
	return f
}

// Because: the field breaks a domain rule, stated by reason.
func (f FieldError) Because(reason string) FieldError {
	f.Rule, f.Reason = RuleInvalid, reason
	return f
}

// Err is the validation error with this single problem.
func (f FieldError) Err() *Error {
	return &Error{Kind: KindUnprocessable, Code: CodeValidation, Details: []FieldError{f}}
}

// Name is the dotted field name: location then path ("body.retry.max_attempts").
func (f FieldError) Name() string {
	parts := make([]string, 0, len(f.Path)+1)
	if f.In != "" {
		parts = append(parts, string(f.In))
	}
	return strings.Join(append(parts, f.Path...), ".")
}

// String is a log-friendly form (not the wire text).
func (f FieldError) String() string {
	s := f.Name() + ": " + f.Rule.String()
	switch f.Rule {
	case RuleMin, RuleMax, RuleMinLength, RuleMaxLength, RuleMinItems, RuleMaxItems, RuleDepth:
		s += " " + strconv.Itoa(f.Limit)
	case RuleType:
		s += " " + string(f.Want)
	case RuleEnum, RuleURLScheme:
		s += " " + strings.Join(f.Allowed, "|")
	case RuleInvalid, RulePattern, RuleEmail, RuleCrossField:
		s += " " + f.Reason
	}
	return s
}

// crossField is the whole-object validation error of a rule across fields.
func crossField(reason string) *Error {
	return FieldError{In: InBody, Rule: RuleCrossField, Reason: reason}.Err()
}

// RateLimited is a 429 with a Retry-After.
func RateLimited(message string, retryAfter time.Duration) *Error {
	return &Error{Kind: KindRateLimited, Code: "rate_limit_exceeded", Message: message, RetryAfter: retryAfter}
}

// Codes of a dependency outage (503 with Retry-After).
const (
	CodeServiceUnavailable = "service_unavailable"
	CodeStorageFull        = "storage_full"
)

// OutageRetryAfter is the Retry-After of a dependency outage.
const OutageRetryAfter = 5 * time.Second

// Unavailable is the 503 of a dependency (the store, Redis) that cannot
// serve right now; cause is logged, never sent.
func Unavailable(cause error) *Error {
	return &Error{Kind: KindUnavailable, Code: CodeServiceUnavailable,
		Message: "The service is temporarily unavailable; retry later", RetryAfter: OutageRetryAfter, Err: cause}
}

// StorageFull is the 503 of a store whose disk is full; cause is logged,
// never sent.
func StorageFull(cause error) *Error {
	return &Error{Kind: KindUnavailable, Code: CodeStorageFull,
		Message: "Storage is full; retry later", RetryAfter: OutageRetryAfter, Err: cause}
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
