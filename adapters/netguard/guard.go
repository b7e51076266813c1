// Package netguard is the one SSRF policy of the service (security.md §3):
// it vets outbound URLs when they are saved (Guard.Check) and the addresses
// actually connected to when a request is sent (Guard.DialContext, used by
// Guard.HTTPClient), for callbacks, failure webhooks and alert webhooks
// alike.
//
// URLs are canonicalized with the WHATWG URL Standard's rules for http and
// https (as the reference's parser does): every IPv4 spelling becomes a
// dotted quad, hosts are percent-decoded and IDNA-mapped, IPv6 is
// compressed. The policy refuses loopback, private, link-local, metadata
// and the other ranges of §3.3, after unwrapping IPv4-mapped, NAT64 and 6to4
// addresses; only Config.AllowedCIDRs opens a way to them.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/cueapi/cueapi/core"
)

// MaxURLLength is the longest URL accepted, in characters (security.md
// §3.2 step 1).
const MaxURLLength = 2083

// Client-facing rejection messages (security.md §3.7, api.md §6.5).
const (
	MsgInvalidURL       = "Invalid URL format"
	MsgTooLong          = "URL should have at most 2083 characters"
	MsgHTTPOrHTTPS      = "URL must use http:// or https://"
	MsgHTTPSOnly        = "URL must use https:// in production"
	MsgCredentials      = "Credentials in callback URLs are not allowed"
	MsgNoHostname       = "URL must have a hostname"
	MsgBlockedHostname  = "Blocked hostname: "        // followed by the host
	MsgCannotResolve    = "Cannot resolve hostname: " // followed by the host
	MsgBlockedAddrRange = "Callback URL resolves to blocked address range"
)

// ErrBlocked is returned by DialContext (and so by requests of HTTPClient)
// when no address of the host may be connected to, including when the name
// is blocked or does not resolve. Its text is what a failed delivery
// attempt records (security.md §3.5).
var ErrBlocked = core.ErrDestinationBlocked

// Config is the policy's configuration.
type Config struct {
	// Production is ENV=production: only https is accepted, at save time and
	// again at delivery (CheckScheme).
	Production bool
	// AllowHTTP is ENV=development: http:// is accepted at save time
	// (api.md §6.5 #2). Ignored when Production is set.
	AllowHTTP bool
	// AllowedCIDRs is WEBHOOK_ALLOWED_CIDRS: the only way to reach blocked
	// ranges. Empty by default. It does not lift the hostname block list.
	AllowedCIDRs []netip.Prefix
	// Resolver resolves host names; DNSResolver when nil.
	Resolver core.Resolver
}

// Guard applies the policy. Safe for concurrent use.
type Guard struct {
	cfg     Config
	allowed []netip.Prefix
	// dial connects to a vetted ip:port; tests replace it.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// New returns a Guard for cfg.
func New(cfg Config) *Guard {
	if cfg.Resolver == nil {
		cfg.Resolver = DNSResolver{}
	}
	g := &Guard{cfg: cfg}
	for _, p := range cfg.AllowedCIDRs {
		if !p.IsValid() {
			continue
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		g.allowed = append(g.allowed, p.Masked())
	}
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: g.control}
	g.dial = d.DialContext
	return g
}

func reject(msg string) error { return &core.URLRejection{Message: msg} }

func (g *Guard) httpAllowed() bool { return g.cfg.AllowHTTP && !g.cfg.Production }

func (g *Guard) schemeMessage() string {
	if g.httpAllowed() {
		return MsgHTTPOrHTTPS
	}
	return MsgHTTPSOnly
}

// parseError maps a parse failure to its rejection.
func (g *Guard) parseError(err error) error {
	switch {
	case errors.Is(err, errScheme):
		return reject(g.schemeMessage())
	case errors.Is(err, errNoHost):
		return reject(MsgNoHostname)
	default:
		return reject(MsgInvalidURL)
	}
}

// canonical parses raw and checks that Go's net/url reads the canonical
// string with the same host and port, so the request later built from it
// goes where the policy looked.
func (g *Guard) canonical(raw string) (*parsedURL, *url.URL, error) {
	u, err := parseURL(raw)
	if err != nil {
		return u, nil, err
	}
	gu, perr := url.Parse(u.String())
	if perr != nil || gu.Hostname() != u.hostname || gu.Port() != u.port {
		return u, nil, errInvalid
	}
	return u, gu, nil
}

// Canonicalize parses raw as an http(s) URL with the WHATWG rules and
// returns the canonical form parsed by net/url (Check returns the same form
// as a string). It applies no policy beyond the scheme being http or https;
// failures are *core.URLRejection.
func (g *Guard) Canonicalize(raw string) (*url.URL, error) {
	_, gu, err := g.canonical(raw)
	if err != nil {
		return nil, g.parseError(err)
	}
	return gu, nil
}

// Check implements core.URLGuard with the creation-time algorithm of
// security.md §3.2 and its fixes: length, parse and canonicalize, scheme,
// credentials, host present, host name block list, resolution (skipped for
// IP literals), then every address against the blocked ranges unless inside
// AllowedCIDRs. It returns the canonical URL, or a *core.URLRejection; a
// cancelled ctx is returned as its error.
func (g *Guard) Check(ctx context.Context, raw string) (string, error) {
	if utf8.RuneCountInString(raw) > MaxURLLength {
		return "", reject(MsgTooLong)
	}
	u, _, err := g.canonical(raw)
	if u.scheme == "http" && !g.httpAllowed() {
		return "", reject(g.schemeMessage())
	}
	if u.hasCredentials() {
		return "", reject(MsgCredentials)
	}
	if err != nil {
		return "", g.parseError(err)
	}
	if u.addr.IsValid() {
		if !g.AddrAllowed(u.addr) {
			return "", reject(MsgBlockedAddrRange)
		}
		return u.String(), nil
	}
	if hostnameBlocked(u.hostname) {
		return "", reject(MsgBlockedHostname + u.hostname)
	}
	addrs, err := g.cfg.Resolver.LookupNetIP(ctx, "ip", u.hostname)
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	if err != nil || len(addrs) == 0 {
		return "", reject(MsgCannotResolve + u.hostname)
	}
	for _, a := range addrs {
		if !g.AddrAllowed(a) {
			return "", reject(MsgBlockedAddrRange)
		}
	}
	return u.String(), nil
}

// AddrAllowed reports whether the policy lets a connection reach a: inside
// AllowedCIDRs, or outside every blocked range (IPv4-mapped, NAT64 and 6to4
// addresses are judged by the IPv4 address they carry).
func (g *Guard) AddrAllowed(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	u := a.WithZone("").Unmap()
	for _, p := range g.allowed {
		if p.Contains(u) {
			return true
		}
	}
	return !addrBlocked(u)
}

// CheckTarget implements core.Dialer: the delivery-time check of a URL
// about to be sent, parsed as Go's HTTP client will send it. It refuses an
// unparseable URL (MsgInvalidURL), a scheme CheckScheme refuses, and a URL
// without a host name (MsgNoHostname), each as a *core.URLRejection.
func (g *Guard) CheckTarget(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", reject(MsgInvalidURL), err)
	}
	if err := g.CheckScheme(u); err != nil {
		return nil, err
	}
	if u.Hostname() == "" {
		return nil, reject(MsgNoHostname)
	}
	return u, nil
}

// CheckScheme is the delivery-time scheme re-check (security.md §3.5 D6):
// https always, http only outside production.
func (g *Guard) CheckScheme(u *url.URL) error {
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if g.cfg.Production {
			return reject(MsgHTTPSOnly)
		}
		return nil
	default:
		return reject(g.schemeMessage())
	}
}

// DialContext connects like net.Dialer.DialContext, for
// http.Transport.DialContext, but only to vetted addresses: the host is
// resolved once through the configured Resolver (IP literals, in any WHATWG
// spelling, are not resolved), refused names and addresses are dropped, and
// the remaining addresses are tried in order. When none is left the error
// wraps ErrBlocked. The dialer's Control hook checks the peer address once
// more. TLS and the Host header are untouched: they keep the URL's name.
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	ipNetwork := "ip"
	switch network {
	case "tcp":
	case "tcp4":
		ipNetwork = "ip4"
	case "tcp6":
		ipNetwork = "ip6"
	default:
		return nil, fmt.Errorf("netguard: unsupported network %q", network)
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("netguard: %w", err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("netguard: bad port %q", portStr)
	}

	var addrs []netip.Addr
	if a, perr := netip.ParseAddr(host); perr == nil {
		if a.Zone() != "" {
			return nil, ErrBlocked
		}
		addrs = []netip.Addr{a}
	} else {
		name, a, herr := parseHost(host)
		switch {
		case herr != nil:
			return nil, fmt.Errorf("%w: invalid host", ErrBlocked)
		case a.IsValid():
			addrs = []netip.Addr{a}
		case hostnameBlocked(name):
			return nil, fmt.Errorf("%w: blocked hostname", ErrBlocked)
		default:
			addrs, err = g.cfg.Resolver.LookupNetIP(ctx, ipNetwork, name)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				return nil, fmt.Errorf("%w: cannot resolve host", ErrBlocked)
			}
		}
	}

	var lastErr error
	for _, a := range addrs {
		a = a.Unmap()
		if !g.AddrAllowed(a) || (ipNetwork == "ip4" && !a.Is4()) || (ipNetwork == "ip6" && !a.Is6()) {
			continue
		}
		conn, err := g.dial(ctx, network, netip.AddrPortFrom(a, uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	if lastErr == nil {
		return nil, ErrBlocked
	}
	return nil, lastErr
}

// control is the net.Dialer Control hook: a last check of the address the
// socket is about to connect to.
func (g *Guard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !g.AddrAllowed(ap.Addr()) {
		return ErrBlocked
	}
	return nil
}

// HTTPClient returns a client for outbound webhooks: connections only
// through DialContext, no proxy from the environment, TLS verification on,
// redirects never followed (the 3xx response is returned), and the given
// overall timeout.
func (g *Guard) HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           g.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   8,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
