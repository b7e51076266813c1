// Package webhook implements core.Deliverer: it sends the outbound HTTP
// requests of cueapi (execution callbacks, failure webhooks, alert webhooks)
// through the SSRF policy it is given as a core.Dialer (adapters/netguard in
// the service).
//
// What it promises (security.md §3.5–3.6, engine.md §5.2–5.5):
//
//   - Every connection is opened by the core.Dialer's DialContext: the host is
//     resolved once, every address is vetted and only a vetted address is
//     dialed (no DNS-rebinding gap between check and use). Proxies from the
//     environment are ignored; TLS certificates are always verified and the
//     URL's host name is kept for SNI, verification and the Host header.
//   - The URL is re-checked before each request by the core.Dialer's
//     CheckTarget (scheme: https only in production; a host name).
//   - Redirects are never followed: a 3xx is returned like any other status.
//   - OutboundRequest.Timeout is one total deadline for the whole exchange —
//     dial, TLS, writing the request, waiting for and reading the response —
//     not a per-phase limit.
//   - At most core.MaxResponseBytes of the response body are read, plus a
//     small bounded amount to let a short body end cleanly; a longer body
//     makes the connection close rather than be read to the end.
//   - Failures are *core.DeliveryError with a fixed message that never
//     contains the raw client error (security.md §3.5 D7).
//   - One keep-alive connection pool is shared by all deliveries.
//
// What it does not do: it does not sign, build or retry requests, interpret
// status codes (a non-2xx is not an error here) or decide what is stored;
// that is core's job. It does not vet URLs at save time (core.URLGuard
// does). It does not decompress response bodies and never sends
// Accept-Encoding on its own.
package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cueapi/cueapi/core"
)

// DefaultUserAgent is sent when a request carries no User-Agent header
// (engine.md §5.2).
const DefaultUserAgent = core.DefaultUserAgent

// DefaultMaxIdleConnsPerHost is the idle keep-alive connections kept per
// host when Config.MaxIdleConnsPerHost is zero: high enough that a busy
// receiver does not force a new connection (and TLS handshake) per delivery.
const DefaultMaxIdleConnsPerHost = 256

// DefaultTimeout applies when OutboundRequest.Timeout is not positive
// (WEBHOOK_TIMEOUT_SECONDS' default), so no request is ever unbounded.
const DefaultTimeout = 30 * time.Second

// MaxRetryAfter caps the parsed Retry-After header.
const MaxRetryAfter = 24 * time.Hour

// drainBytes is how much of the body past core.MaxResponseBytes is read
// before closing, so that a body ending just after the limit still lets
// the connection be reused; anything longer closes the connection.
const drainBytes = 4 << 10

// Fixed failure messages (engine.md §5.5, security.md §3.5). They are what
// users see; the underlying error is kept in DeliveryError.Err for logs.
const (
	MsgTimeout = "Webhook endpoint timed out"
	MsgBlocked = core.MsgDestinationBlocked
	MsgConnect = "Could not connect to webhook endpoint"
	MsgOther   = "Webhook delivery failed"
)

// Config configures a Deliverer. The zero value is usable.
type Config struct {
	// UserAgent is sent when a request has no User-Agent header;
	// DefaultUserAgent when empty.
	UserAgent string
	// MaxIdleConnsPerHost bounds the idle keep-alive connections kept per
	// host; DefaultMaxIdleConnsPerHost when zero or negative.
	MaxIdleConnsPerHost int
}

// Deliverer is the core.Deliverer over net/http and the SSRF policy. Build
// it with New; safe for concurrent use.
type Deliverer struct {
	dialer    core.Dialer
	client    *http.Client
	transport *http.Transport
	userAgent string
}

// New returns a Deliverer that checks every URL with dialer and connects
// only through it. It builds one http.Client, shared by every Send, so
// keep-alive connections are reused across deliveries. dialer must not be
// nil.
func New(dialer core.Dialer, cfg Config) *Deliverer {
	if dialer == nil {
		panic("webhook: nil dialer")
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if cfg.MaxIdleConnsPerHost <= 0 {
		cfg.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	}
	transport := &http.Transport{
		Proxy:       nil, // D3: never a proxy from the environment
		DialContext: dialer.DialContext,
		// D4: verification on; there is deliberately no option to skip it.
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   true,
		DisableCompression:  true,
		MaxIdleConns:        4 * cfg.MaxIdleConnsPerHost,
		MaxIdleConnsPerHost: cfg.MaxIdleConnsPerHost,
		IdleConnTimeout:     90 * time.Second,
		// No per-phase timeouts (TLS handshake, response header): the
		// request's context carries the one total deadline.
	}
	return &Deliverer{
		dialer:    dialer,
		transport: transport,
		client: &http.Client{
			Transport:     transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		userAgent: cfg.UserAgent,
	}
}

// CloseIdleConnections closes the pooled keep-alive connections that are
// idle; call it at shutdown. Sends may still run and open new connections.
func (d *Deliverer) CloseIdleConnections() { d.transport.CloseIdleConnections() }

// Send performs req and returns the receiver's answer; a non-2xx status
// (3xx included: redirects are not followed) is a response, not an error.
//
// Headers are set in order with http.Header semantics: names are
// canonicalized and a later field replaces an earlier one of the same name.
// User-Agent is added only when req has none. Host, Content-Length and
// Transfer-Encoding fields are ignored: the URL's host is sent and
// Content-Length is the body's length. An empty Method means POST. The body
// is sent for every method but GET.
//
// req.Timeout bounds the whole exchange, reading the response included;
// DefaultTimeout applies when it is not positive. The response body holds at
// most core.MaxResponseBytes; RetryAfter is parsed from delta-seconds or an
// HTTP date (relative to when the response arrived), capped at MaxRetryAfter,
// zero when absent, past or malformed.
//
// Failures are *core.DeliveryError: DeliveryBlocked when the scheme is not
// allowed (production: https only), the URL has no host, or no address of the
// host may be connected to (including a name that does not resolve);
// DeliveryTimeout when the deadline passes; DeliveryConnect when the
// connection or the TLS handshake fails; DeliveryOther otherwise, including
// when ctx is canceled (errors.Is(err, context.Canceled) then holds).
func (d *Deliverer) Send(ctx context.Context, req *core.OutboundRequest) (*core.OutboundResponse, error) {
	u, err := d.dialer.CheckTarget(req.URL)
	if err != nil {
		msg := MsgBlocked
		var rej *core.URLRejection
		if errors.As(err, &rej) {
			msg = rej.Message // a fixed policy text, e.g. "URL must use https:// in production"
		}
		return nil, &core.DeliveryError{Kind: core.DeliveryBlocked, Message: msg, Err: err}
	}

	timeout := req.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	reqCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	method := req.Method
	if method == "" {
		method = http.MethodPost
	}
	var body io.Reader
	if method != http.MethodGet && len(req.Body) > 0 {
		body = bytes.NewReader(req.Body)
	}
	// The URL already parsed and checked is the one sent: no second parse.
	httpReq, err := http.NewRequestWithContext(reqCtx, method, "", body)
	if err != nil {
		return nil, d.classify(ctx, err) // an invalid method
	}
	httpReq.URL, httpReq.Host = u, u.Host
	h := make(http.Header, len(req.Header)+1)
	for _, f := range req.Header {
		h[http.CanonicalHeaderKey(f.Name)] = []string{f.Value}
	}
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = []string{d.userAgent}
	}
	httpReq.Header = h

	resp, err := d.client.Do(httpReq)
	if err != nil {
		return nil, d.classify(ctx, err)
	}
	received := time.Now()
	defer resp.Body.Close()

	contentLength := resp.ContentLength
	if method == http.MethodHead {
		contentLength = -1 // declared, but there is no body
	}
	data, err := readBody(resp.Body, contentLength)
	if err != nil {
		return nil, d.classify(ctx, err)
	}
	// Let a body that ends just past the limit reach EOF so the connection
	// goes back to the pool; a longer one is cut off by Close.
	_, _ = io.CopyN(io.Discard, resp.Body, drainBytes)

	return &core.OutboundResponse{
		Status:     resp.StatusCode,
		Body:       data,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), received),
	}, nil
}

// readBody reads at most core.MaxResponseBytes of r. contentLength (-1 when
// unknown) sizes the buffer exactly when the receiver declared it.
func readBody(r io.Reader, contentLength int64) ([]byte, error) {
	limited := io.LimitReader(r, core.MaxResponseBytes)
	if contentLength < 0 || contentLength > core.MaxResponseBytes {
		return io.ReadAll(limited)
	}
	buf := make([]byte, contentLength)
	if _, err := io.ReadFull(limited, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// parseRetryAfter parses a Retry-After value (RFC 9110 §10.2.3):
// delta-seconds or an HTTP date, the latter relative to now. Absent,
// malformed, negative and past values are zero; the result is capped at
// MaxRetryAfter.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if isDigits(v) {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || secs > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter // only overflow fails on digits
		}
		return time.Duration(secs) * time.Second
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	d := at.Sub(now)
	switch {
	case d <= 0:
		return 0
	case d > MaxRetryAfter:
		return MaxRetryAfter
	}
	return d
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// classify turns a client error into a *core.DeliveryError with a fixed
// message. parent is the caller's context: its cancellation is a shutdown,
// not a failure of the endpoint.
func (d *Deliverer) classify(parent context.Context, err error) *core.DeliveryError {
	if perr := parent.Err(); perr != nil && !errors.Is(perr, context.DeadlineExceeded) {
		if !errors.Is(err, perr) {
			err = fmt.Errorf("%w: %w", perr, err)
		}
		return &core.DeliveryError{Kind: core.DeliveryOther, Message: MsgOther, Err: err}
	}
	kind, msg := core.DeliveryOther, MsgOther
	switch {
	case errors.Is(err, core.ErrDestinationBlocked):
		kind, msg = core.DeliveryBlocked, MsgBlocked
	case isTimeout(err):
		kind, msg = core.DeliveryTimeout, MsgTimeout
	case isTLS(err), isConnect(err):
		kind, msg = core.DeliveryConnect, MsgConnect
	}
	return &core.DeliveryError{Kind: kind, Message: msg, Err: err}
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isConnect reports a failure to establish the connection: refused,
// unreachable, DNS, or any other dial error.
func isConnect(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// errHTTPForHTTPS is the text net/http puts in place of the
// tls.RecordHeaderError it gets when a plain-http server answers the TLS
// handshake.
const errHTTPForHTTPS = "http: server gave HTTP response to HTTPS client"

// isTLS reports a failed TLS handshake or certificate verification. Most of
// crypto/tls's errors are untyped, hence the prefix test on the chain.
func isTLS(err error) bool {
	var (
		recordErr tls.RecordHeaderError
		alertErr  tls.AlertError
		verifyErr *tls.CertificateVerificationError
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
	)
	if errors.As(err, &recordErr) || errors.As(err, &alertErr) || errors.As(err, &verifyErr) ||
		errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &invalid) {
		return true
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		m := e.Error()
		if strings.HasPrefix(m, "tls: ") || strings.HasPrefix(m, "x509: ") || m == errHTTPForHTTPS {
			return true
		}
	}
	return false
}
