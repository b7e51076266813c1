package core

import (
	"context"
	"time"
)

// MaxResponseBytes is how much of a receiver's response body is read.
const MaxResponseBytes = 64 << 10

// Deliverer sends one outbound HTTP request — execution webhooks, failure
// webhooks and alert webhooks — through the SSRF-guarded client: the
// destination is resolved once, every address is vetted, only vetted
// addresses are dialed, redirects are never followed, proxies from the
// environment are ignored. Safe for concurrent use.
type Deliverer interface {
	// Send performs the request. A non-2xx status is not an error: the
	// response is returned. Transport failures are *DeliveryError.
	Send(ctx context.Context, req *OutboundRequest) (*OutboundResponse, error)
}

// HeaderField is one request header; order is preserved.
type HeaderField struct {
	Name, Value string
}

// OutboundRequest is one outbound HTTP request.
type OutboundRequest struct {
	Method  string
	URL     string
	Header  []HeaderField
	Body    []byte // sent for every method but GET
	Timeout time.Duration
}

// OutboundResponse is what came back. Body holds at most MaxResponseBytes.
type OutboundResponse struct {
	Status int
	Body   []byte
	// RetryAfter is the parsed Retry-After header (seconds or HTTP date),
	// zero when absent or unparseable.
	RetryAfter time.Duration
}

// DeliveryErrorKind classifies transport failures.
type DeliveryErrorKind int

// Delivery error kinds.
const (
	DeliveryOther   DeliveryErrorKind = iota
	DeliveryTimeout                   // the request did not complete in time
	DeliveryConnect                   // refused, unreachable, DNS failure
	DeliveryBlocked                   // the SSRF policy refused the destination
)

// DeliveryError is a transport failure. Message is safe to show users: a
// fixed generic text, never a raw client error.
type DeliveryError struct {
	Kind    DeliveryErrorKind
	Message string
	Err     error // the underlying error, for logs only
}

func (e *DeliveryError) Error() string { return e.Message }

// Unwrap returns the underlying error.
func (e *DeliveryError) Unwrap() error { return e.Err }
