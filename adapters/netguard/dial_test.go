package netguard

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// dialLog records what a guard dialed and refuses, failing the test, any
// address that is not loopback: tests never open connections elsewhere.
type dialLog struct {
	mu    sync.Mutex
	addrs []string
}

func (l *dialLog) dialed() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.addrs...)
}

// loopbackGuard returns a guard whose dials are restricted to loopback.
func loopbackGuard(t *testing.T, cfg Config) (*Guard, *dialLog) {
	t.Helper()
	g := New(cfg)
	log := &dialLog{}
	real := g.dial
	g.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil || !ap.Addr().IsLoopback() {
			t.Errorf("test tried to dial non-loopback %q", addr)
			return nil, fmt.Errorf("refused by test: %s", addr)
		}
		log.mu.Lock()
		log.addrs = append(log.addrs, addr)
		log.mu.Unlock()
		return real(ctx, network, addr)
	}
	return g, log
}

// countingServer is an httptest server on 127.0.0.1 that counts requests.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if h != nil {
			h(w, r)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func serverPort(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	return u.Port()
}

func allow(prefixes ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(prefixes))
	for i, p := range prefixes {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}

// TestDialRebinding is vectors 65–69 of security.md §3.8: the name passes
// the save-time check with a public answer and resolves to a blocked
// address when connecting. No connection may be made.
func TestDialRebinding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cfg    Config
		second []string // answer at connect time
	}{
		{name: "65 private in production", cfg: Config{Production: true}, second: []string{"10.0.0.1"}},
		{name: "66 private in development", cfg: Config{AllowHTTP: true}, second: []string{"10.0.0.1"}},
		{name: "67 loopback in development", cfg: Config{AllowHTTP: true}, second: []string{"127.0.0.1"}},
		{name: "68 mapped metadata in development", cfg: Config{AllowHTTP: true}, second: []string{"::ffff:169.254.169.254"}},
		{name: "69 alternating answers", cfg: Config{AllowHTTP: true}, second: []string{"127.0.0.1", "::1"}},
		{name: "70 failure webhook to private", cfg: Config{AllowHTTP: true}, second: []string{"192.168.0.10"}},
		{name: "allowed range does not cover answer", cfg: Config{AllowHTTP: true, AllowedCIDRs: allow("10.0.0.0/8")}, second: []string{"127.0.0.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, hits := countingServer(t, nil)
			res := NewFakeResolver().SetSequence("rebind.example", []string{publicAddr}, tt.second)
			cfg := tt.cfg
			cfg.Resolver = res
			g, log := loopbackGuard(t, cfg)

			scheme := "http"
			if cfg.Production {
				scheme = "https"
			}
			canonical, err := g.Check(context.Background(), scheme+"://rebind.example:"+serverPort(t, srv)+"/hook")
			require.NoError(t, err, "the first answer is public")

			resp, err := g.HTTPClient(5*time.Second).Post(canonical, "application/json", nil)
			if resp != nil {
				resp.Body.Close()
			}
			require.ErrorIs(t, err, ErrBlocked)
			require.Equal(t, "Callback URL resolved to blocked IP", ErrBlocked.Error())
			require.Zero(t, hits.Load())
			require.Empty(t, log.dialed())
			require.Equal(t, 2, res.Calls("rebind.example"), "one lookup at save time, one at connect time")
		})
	}
}

// TestDialVetted covers connections the policy lets through, all to the
// loopback test server.
func TestDialVetted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		answers []string
		host    string // "" → "svc.example"
		dialed  int    // addresses tried
	}{
		{name: "allowed loopback", answers: []string{"127.0.0.1"}, dialed: 1},
		{name: "blocked answers dropped", answers: []string{"10.0.0.1", "169.254.169.254", "127.0.0.1"}, dialed: 1},
		{name: "next address after refusal", answers: []string{"127.0.0.2", "127.0.0.1"}, dialed: 2},
		{name: "literal loopback", host: "127.0.0.1", dialed: 1},
		{name: "literal loopback in decimal", host: "2130706433", dialed: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, hits := countingServer(t, nil)
			res := NewFakeResolver()
			if tt.answers != nil {
				res.Set("svc.example", tt.answers...)
			}
			g, log := loopbackGuard(t, Config{AllowHTTP: true, AllowedCIDRs: allow("127.0.0.0/8"), Resolver: res})
			host := tt.host
			if host == "" {
				host = "svc.example"
			}
			resp, err := g.HTTPClient(5 * time.Second).Get("http://" + host + ":" + serverPort(t, srv) + "/hook")
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.Equal(t, "ok", string(body))
			require.EqualValues(t, 1, hits.Load())
			require.Len(t, log.dialed(), tt.dialed)
		})
	}
}

func TestDialRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		network string
		addr    string
	}{
		{name: "loopback literal", network: "tcp", addr: "127.0.0.1:80"},
		{name: "loopback v6 literal", network: "tcp", addr: "[::1]:443"},
		{name: "octal loopback", network: "tcp", addr: "0177.0.0.1:80"},
		{name: "zoned", network: "tcp", addr: "[fe80::1%eth0]:80"},
		{name: "localhost name", network: "tcp", addr: "localhost:80"},
		{name: "metadata name", network: "tcp", addr: "metadata.google.internal:80"},
		{name: "unresolvable", network: "tcp", addr: "nowhere.example:443"},
		{name: "private answer", network: "tcp", addr: "evil10.example:443"},
		{name: "family filtered out", network: "tcp6", addr: "evil10.example:443"},
		{name: "invalid host", network: "tcp", addr: "a{b:443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g, log := loopbackGuard(t, Config{Resolver: vectorResolver()})
			conn, err := g.DialContext(context.Background(), tt.network, tt.addr)
			if conn != nil {
				conn.Close()
			}
			require.ErrorIs(t, err, ErrBlocked)
			require.Empty(t, log.dialed())
		})
	}
}

func TestDialBadInput(t *testing.T) {
	t.Parallel()
	g, _ := loopbackGuard(t, Config{Resolver: vectorResolver()})
	_, err := g.DialContext(context.Background(), "udp", "8.8.8.8:53")
	require.Error(t, err)
	_, err = g.DialContext(context.Background(), "tcp", "no-port")
	require.Error(t, err)
	_, err = g.DialContext(context.Background(), "tcp", "example.com:http")
	require.Error(t, err)
}

func TestControlHook(t *testing.T) {
	t.Parallel()
	g := New(Config{AllowedCIDRs: allow("127.0.0.0/8"), Resolver: NewFakeResolver()})
	var raw syscall.RawConn
	require.ErrorIs(t, g.control("tcp4", "10.0.0.1:80", raw), ErrBlocked)
	require.ErrorIs(t, g.control("tcp6", "[::1]:80", raw), ErrBlocked)
	require.ErrorIs(t, g.control("tcp4", "garbage", raw), ErrBlocked)
	require.NoError(t, g.control("tcp4", "127.0.0.1:80", raw))
	require.NoError(t, g.control("tcp4", "8.8.8.8:443", raw))
}

// TestRedirectNotFollowed is vector 71: a 302 is returned as is and its
// target receives nothing.
func TestRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	var targetHits atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	mux.HandleFunc("/elsewhere", func(http.ResponseWriter, *http.Request) { targetHits.Add(1) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	g, log := loopbackGuard(t, Config{AllowHTTP: true, AllowedCIDRs: allow("127.0.0.0/8"), Resolver: NewFakeResolver()})
	resp, err := g.HTTPClient(5*time.Second).Post(srv.URL+"/hook", "application/json", nil)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, "/elsewhere", resp.Header.Get("Location"))
	require.Zero(t, targetHits.Load())
	require.Len(t, log.dialed(), 1)
}

func TestHTTPClientSettings(t *testing.T) {
	t.Parallel()
	c := New(Config{Resolver: NewFakeResolver()}).HTTPClient(7 * time.Second)
	require.Equal(t, 7*time.Second, c.Timeout)
	tr, ok := c.Transport.(*http.Transport)
	require.True(t, ok)
	require.Nil(t, tr.Proxy, "environment proxies must be ignored")
	require.NotNil(t, tr.DialContext)
	require.Nil(t, tr.TLSClientConfig, "default TLS verification")
	require.True(t, tr.ForceAttemptHTTP2)
	require.ErrorIs(t, c.CheckRedirect(nil, nil), http.ErrUseLastResponse)
}
