package core

import (
	"context"
	"errors"
	"net"
	"net/url"
	"time"
)

// DefaultUserAgent is the User-Agent of outbound requests (engine.md §5.2).
const DefaultUserAgent = "CueAPI/1.0"

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

// Dialer is the SSRF policy at send time (security.md §3.5): the deliverer
// re-checks every request's URL with it and opens every connection through
// it, so only vetted addresses are ever dialed. adapters/netguard implements
// it; cmd/cueapi hands it to the deliverer. Safe for concurrent use.
type Dialer interface {
	// CheckTarget parses raw as it will be sent and re-checks it: a scheme
	// the policy allows (https only in production) and a host name. A
	// refusal is a *URLRejection whose Message is the text users see.
	CheckTarget(raw string) (*url.URL, error)
	// DialContext connects like net.Dialer.DialContext, but only to
	// addresses the policy allows. When no address of the host may be used
	// (blocked, or the name does not resolve) the error wraps
	// ErrDestinationBlocked.
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// MsgDestinationBlocked is what a delivery attempt refused by the SSRF
// policy records (security.md §3.5).
const MsgDestinationBlocked = "Callback URL resolved to blocked IP"

// ErrDestinationBlocked is wrapped by Dialer.DialContext when no address of
// the host may be connected to.
var ErrDestinationBlocked = errors.New(MsgDestinationBlocked)

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
