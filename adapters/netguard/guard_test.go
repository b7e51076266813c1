package netguard

import (
	"context"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

var (
	_ core.URLGuard = (*Guard)(nil)
	_ core.Dialer   = (*Guard)(nil)
)

// publicAddr stands for any public address in the fake resolver. Tests
// never connect to it.
const publicAddr = "93.184.216.34"

// vectorResolver answers the names the §3.8 vectors use. Nothing here
// touches real DNS.
func vectorResolver() *FakeResolver {
	return NewFakeResolver().
		Set("example.com", publicAddr).
		Set("a.example", publicAddr).
		Set("evil10.example", "10.0.0.1").
		Set("evil172.example", "172.16.0.1").
		Set("evil192.example", "192.168.1.1").
		Set("mixed.example", publicAddr, "10.0.0.1").
		Set("mapped.example", "::ffff:169.254.169.254").
		Set("v6.example", "2606:2800:220:1:248:1893:25c8:1946").
		Set("nat64.example", "64:ff9b::7f00:1")
}

type env int

const (
	prod  env = iota // ENV=production
	dev              // ENV=development
	other            // any other ENV (test, staging, …)
)

func (e env) config() Config {
	return Config{Production: e == prod, AllowHTTP: e == dev, Resolver: vectorResolver()}
}

// TestCheckVectors runs every vector of security.md §3.8 (A–C) that this
// layer decides, in production and development. want is the canonical URL
// for an accepted URL; msg the rejection message otherwise.
func TestCheckVectors(t *testing.T) {
	t.Parallel()
	long := "https://a.example/" + strings.Repeat("x", 2066) // 2,084 characters
	tests := []struct {
		name string
		in   string
		envs []env
		want string
		msg  string
	}{
		// A. From the reference's tests.
		{name: "1 localhost", in: "https://localhost/hook", msg: "Blocked hostname: localhost"},
		{name: "2 loopback literal", in: "https://127.0.0.1/hook", msg: MsgBlockedAddrRange},
		{name: "3 resolves to 10/8", in: "https://evil10.example/hook", msg: MsgBlockedAddrRange},
		{name: "4 resolves to 172.16/12", in: "https://evil172.example/hook", msg: MsgBlockedAddrRange},
		{name: "5 resolves to 192.168/16", in: "https://evil192.example/hook", msg: MsgBlockedAddrRange},
		{name: "6 metadata name", in: "https://metadata.google.internal/computeMetadata/v1/", msg: "Blocked hostname: metadata.google.internal"},
		{name: "7 public name", in: "https://example.com/webhook", want: "https://example.com/webhook"},
		{name: "8 user and password", in: "https://user:pass@example.com/webhook", msg: MsgCredentials},
		{name: "9 username only", in: "https://admin@example.com/webhook", msg: MsgCredentials},
		{name: "10 encoded at signs", in: "https://user%40:p%40ss@example.com/webhook", msg: MsgCredentials},
		{name: "11 ipv6 loopback", in: "https://[::1]/webhook", msg: MsgBlockedAddrRange},
		{name: "12 unique local", in: "https://[fc00::1]/webhook", msg: MsgBlockedAddrRange},
		{name: "13 link-local v6", in: "https://[fe80::1]/webhook", msg: MsgBlockedAddrRange},
		{name: "14 ftp in production", in: "ftp://example.com/data", envs: []env{prod, other}, msg: MsgHTTPSOnly},
		{name: "14 ftp in development", in: "ftp://example.com/data", envs: []env{dev}, msg: MsgHTTPOrHTTPS},
		{name: "15 file", in: "file:///etc/passwd", envs: []env{prod}, msg: MsgHTTPSOnly},
		{name: "15 javascript", in: "javascript:alert(1)", envs: []env{dev}, msg: MsgHTTPOrHTTPS},
		{name: "15 data", in: "data:text/html,<h1>hi</h1>", envs: []env{dev}, msg: MsgHTTPOrHTTPS},
		{name: "16 http in production", in: "http://example.com/webhook", envs: []env{prod, other}, msg: MsgHTTPSOnly},
		{name: "17 http in development", in: "http://example.com/webhook", envs: []env{dev}, want: "http://example.com/webhook"},
		{name: "18 metadata.internal", in: "https://metadata.internal/", msg: "Blocked hostname: metadata.internal"},
		{name: "19 upper-case localhost", in: "https://LOCALHOST/webhook", msg: "Blocked hostname: localhost"},
		{name: "19 mixed-case localhost", in: "https://LocalHost/webhook", msg: "Blocked hostname: localhost"},
		{name: "20 empty authority", in: "https:///webhook", msg: "Cannot resolve hostname: webhook"},
		{name: "20 no host at all", in: "https://", msg: MsgNoHostname},
		{name: "21 port", in: "https://example.com:8443/webhook", want: "https://example.com:8443/webhook"},
		{name: "22 path and query", in: "https://example.com/v1/hooks?token=abc123", want: "https://example.com/v1/hooks?token=abc123"},
		{name: "23 metadata over http in production", in: "http://169.254.169.254/latest/meta-data", envs: []env{prod}, msg: MsgHTTPSOnly},
		{name: "23 metadata over http in development", in: "http://169.254.169.254/latest/meta-data", envs: []env{dev}, msg: MsgBlockedAddrRange},

		// B. Hermetic vectors.
		{name: "24 short form", in: "https://127.1/", msg: MsgBlockedAddrRange},
		{name: "24 decimal", in: "https://2130706433/", msg: MsgBlockedAddrRange},
		{name: "24 hex", in: "https://0x7f000001/", msg: MsgBlockedAddrRange},
		{name: "24 octal", in: "https://0177.0.0.1/", msg: MsgBlockedAddrRange},
		{name: "24 hex short", in: "https://0x7f.1/", msg: MsgBlockedAddrRange},
		{name: "24 octal integer", in: "https://017700000001/", msg: MsgBlockedAddrRange},
		{name: "24 zero padded", in: "https://127.000.000.001/", msg: MsgBlockedAddrRange},
		{name: "25 bare zero", in: "https://0/", msg: MsgBlockedAddrRange},
		{name: "25 zero address", in: "https://0.0.0.0/", msg: MsgBlockedAddrRange},
		{name: "26 mapped loopback dotted", in: "https://[::ffff:127.0.0.1]/", msg: MsgBlockedAddrRange},
		{name: "26 mapped loopback hex", in: "https://[::ffff:7f00:1]/", msg: MsgBlockedAddrRange},
		{name: "27 mapped metadata", in: "https://[::ffff:169.254.169.254]/", msg: MsgBlockedAddrRange},
		{name: "28 uncompressed loopback", in: "https://[0:0:0:0:0:0:0:1]/", msg: MsgBlockedAddrRange},
		{name: "29 metadata", in: "https://169.254.169.254/latest/meta-data/", msg: MsgBlockedAddrRange},
		{name: "30 CGN", in: "https://100.64.0.1/", msg: MsgBlockedAddrRange},
		{name: "30 alibaba metadata", in: "https://100.100.100.200/", msg: MsgBlockedAddrRange},
		{name: "31 benchmarking low", in: "https://198.18.0.1/", msg: MsgBlockedAddrRange},
		{name: "31 benchmarking high", in: "https://198.19.255.255/", msg: MsgBlockedAddrRange},
		{name: "32 private 172 top", in: "https://172.31.255.255/", msg: MsgBlockedAddrRange},
		{name: "33 aws v6 metadata", in: "https://[fd00:ec2::254]/", msg: MsgBlockedAddrRange},
		{name: "34 percent-encoded localhost", in: "https://%6c%6f%63%61%6c%68%6f%73%74/", msg: "Blocked hostname: localhost"},
		{name: "35 circled l", in: "https://ⓛocalhost/", msg: "Blocked hostname: localhost"},
		{name: "36 password only", in: "https://:pw@8.8.8.8/", msg: MsgCredentials},
		{name: "37 zone id", in: "https://[fe80::1%25eth0]/", msg: MsgInvalidURL},
		{name: "38 too long", in: long, msg: MsgTooLong},
		{name: "38 longest accepted", in: long[:2083], want: long[:2083]},
		{name: "39 below 172.16", in: "https://172.15.255.255/", want: "https://172.15.255.255/"},
		{name: "39 above 172.31", in: "https://172.32.0.1/", want: "https://172.32.0.1/"},
		{name: "39 above CGN", in: "https://100.128.0.1/", want: "https://100.128.0.1/"},
		{name: "39 above benchmarking", in: "https://198.20.0.1/", want: "https://198.20.0.1/"},
		{name: "39 above 10/8", in: "https://11.0.0.1/", want: "https://11.0.0.1/"},
		{name: "39 public", in: "https://8.8.8.8/", want: "https://8.8.8.8/"},
		{name: "40 decimal public", in: "https://134744072/", want: "https://8.8.8.8/"},
		{name: "41 mapped public", in: "https://[::ffff:8.8.8.8]/", want: "https://[::ffff:808:808]/"},
		{name: "42 any port", in: "https://8.8.8.8:22/", want: "https://8.8.8.8:22/"},
		{name: "43 empty userinfo", in: "https://@8.8.8.8/", want: "https://8.8.8.8/"},
		{name: "44 fragment at sign", in: "https://8.8.8.8#@127.0.0.1/", want: "https://8.8.8.8/#@127.0.0.1/"},
		{name: "45 backslash at sign", in: `https://8.8.8.8\@127.0.0.1/`, want: "https://8.8.8.8/@127.0.0.1/"},
		{name: "47 failure webhook loopback", in: "https://127.0.0.1/x", msg: MsgBlockedAddrRange},
		{name: "48 http literal in production", in: "http://8.8.8.8/", envs: []env{prod}, msg: MsgHTTPSOnly},
		{name: "48 http literal in development", in: "http://8.8.8.8/", envs: []env{dev}, want: "http://8.8.8.8/"},

		// C. Accepted by the reference, refused here.
		{name: "49 unspecified", in: "https://[::]/", msg: MsgBlockedAddrRange},
		{name: "49 unspecified spelled ::0", in: "https://[::0]/", msg: MsgBlockedAddrRange},
		{name: "50 ipv4-compatible", in: "https://[::127.0.0.1]/", msg: MsgBlockedAddrRange},
		{name: "51 ipv4-translated", in: "https://[::ffff:0:7f00:1]/", msg: MsgBlockedAddrRange},
		{name: "52 nat64 loopback", in: "https://[64:ff9b::7f00:1]/", msg: MsgBlockedAddrRange},
		{name: "52 nat64 metadata", in: "https://[64:ff9b::a9fe:a9fe]/", msg: MsgBlockedAddrRange},
		{name: "53 6to4 loopback", in: "https://[2002:7f00:1::]/", msg: MsgBlockedAddrRange},
		{name: "53 6to4 metadata", in: "https://[2002:a9fe:a9fe::]/", msg: MsgBlockedAddrRange},
		{name: "54 site-local", in: "https://[fec0::1]/", msg: MsgBlockedAddrRange},
		{name: "55 multicast v6", in: "https://[ff02::1]/", msg: MsgBlockedAddrRange},
		{name: "56 discard", in: "https://[100::1]/", msg: MsgBlockedAddrRange},
		{name: "57 multicast", in: "https://224.0.0.1/", msg: MsgBlockedAddrRange},
		{name: "57 SSDP", in: "https://239.255.255.250/", msg: MsgBlockedAddrRange},
		{name: "58 broadcast", in: "https://255.255.255.255/", msg: MsgBlockedAddrRange},
		{name: "58 reserved", in: "https://240.0.0.1/", msg: MsgBlockedAddrRange},
		{name: "59 IETF assignments", in: "https://192.0.0.170/", msg: MsgBlockedAddrRange},
		{name: "60 TEST-NET-1", in: "https://192.0.2.1/", msg: MsgBlockedAddrRange},
		{name: "60 TEST-NET-2", in: "https://198.51.100.1/", msg: MsgBlockedAddrRange},
		{name: "60 TEST-NET-3", in: "https://203.0.113.1/", msg: MsgBlockedAddrRange},
		{name: "60 v6 documentation", in: "https://[2001:db8::1]/", msg: MsgBlockedAddrRange},
		{name: "60 teredo", in: "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", msg: MsgBlockedAddrRange},
		{name: "60 6to4 relay", in: "https://192.88.99.1/", msg: MsgBlockedAddrRange},
		{name: "61 trailing dot", in: "https://localhost./", msg: "Blocked hostname: localhost."},
		{name: "62 dot localhost", in: "https://foo.localhost/", msg: "Blocked hostname: foo.localhost"},
		{name: "64 one private answer", in: "https://mixed.example/", msg: MsgBlockedAddrRange},

		// Further cases.
		{name: "dot internal", in: "https://db.internal/", msg: "Blocked hostname: db.internal"},
		{name: "dot local", in: "https://printer.local/", msg: "Blocked hostname: printer.local"},
		{name: "resolves to mapped metadata", in: "https://mapped.example/", msg: MsgBlockedAddrRange},
		{name: "resolves to nat64 loopback", in: "https://nat64.example/", msg: MsgBlockedAddrRange},
		{name: "resolves to public v6", in: "https://v6.example/", want: "https://v6.example/"},
		{name: "nat64 of public", in: "https://[64:ff9b::808:808]/", want: "https://[64:ff9b::808:808]/"},
		{name: "6to4 of public", in: "https://[2002:808:808::1]/", want: "https://[2002:808:808::1]/"},
		{name: "public v6 literal", in: "https://[2606:4700:4700::1111]/", want: "https://[2606:4700:4700::1111]/"},
		{name: "unresolvable", in: "https://nowhere.example/", msg: "Cannot resolve hostname: nowhere.example"},
		{name: "canonical form stored", in: "HTTPS://Example.COM:443/a/../b?x#y", want: "https://example.com/b?x#y"},
		{name: "not a URL", in: "not a url", msg: MsgInvalidURL},
		{name: "credentials checked before host", in: "https://user@/", msg: MsgCredentials},
		{name: "scheme checked before host", in: "http://", envs: []env{prod}, msg: MsgHTTPSOnly},
	}
	for _, tt := range tests {
		envs := tt.envs
		if envs == nil {
			envs = []env{prod, dev}
		}
		for _, e := range envs {
			name := tt.name + map[env]string{prod: " (production)", dev: " (development)", other: " (other)"}[e]
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				g := New(e.config())
				got, err := g.Check(context.Background(), tt.in)
				if tt.msg != "" {
					var rej *core.URLRejection
					require.ErrorAs(t, err, &rej)
					require.Equal(t, tt.msg, rej.Message)
					return
				}
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
			})
		}
	}
}

func TestCheckAllowedCIDRs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		allowed []string
		in      string
		msg     string
	}{
		{name: "loopback allowed", allowed: []string{"127.0.0.0/8"}, in: "http://127.0.0.1:8080/hook"},
		{name: "loopback alias allowed", allowed: []string{"127.0.0.0/8"}, in: "http://2130706433:8080/hook"},
		{name: "mapped loopback allowed through v4 prefix", allowed: []string{"127.0.0.0/8"}, in: "http://[::ffff:127.0.0.1]/"},
		{name: "v4 prefix written mapped", allowed: []string{"::ffff:127.0.0.0/104"}, in: "http://127.0.0.2/"},
		{name: "resolved private allowed", allowed: []string{"10.0.0.0/8"}, in: "http://evil10.example/"},
		{name: "other range still blocked", allowed: []string{"127.0.0.0/8"}, in: "http://10.0.0.1/", msg: MsgBlockedAddrRange},
		{name: "names stay blocked", allowed: []string{"127.0.0.0/8"}, in: "http://localhost/", msg: "Blocked hostname: localhost"},
		{name: "one address outside", allowed: []string{"10.0.0.0/8"}, in: "http://mixed.example/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := dev.config()
			for _, p := range tt.allowed {
				cfg.AllowedCIDRs = append(cfg.AllowedCIDRs, netip.MustParsePrefix(p))
			}
			_, err := New(cfg).Check(context.Background(), tt.in)
			if tt.msg == "" {
				require.NoError(t, err)
				return
			}
			var rej *core.URLRejection
			require.ErrorAs(t, err, &rej)
			require.Equal(t, tt.msg, rej.Message)
		})
	}
}

func TestCheckCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := New(prod.config()).Check(ctx, "https://example.com/")
	require.ErrorIs(t, err, context.Canceled)
}

func TestAddrAllowed(t *testing.T) {
	t.Parallel()
	g := New(Config{Resolver: NewFakeResolver()})
	tests := []struct {
		name string
		addr string
		want bool
	}{
		{name: "public v4", addr: "8.8.8.8", want: true},
		{name: "public v6", addr: "2606:4700:4700::1111", want: true},
		{name: "zero network", addr: "0.1.2.3", want: false},
		{name: "loopback top", addr: "127.255.255.255", want: false},
		{name: "link-local multicast v6", addr: "ff02::1", want: false},
		{name: "interface-local multicast", addr: "ff01::1", want: false},
		{name: "zoned link-local", addr: "fe80::1%eth0", want: false},
		{name: "mapped private", addr: "::ffff:10.1.2.3", want: false},
		{name: "mapped public", addr: "::ffff:1.1.1.1", want: true},
		{name: "6to4 of private", addr: "2002:c0a8:101::1", want: false},
		{name: "local-use nat64", addr: "64:ff9b:1::808:808", want: false},
		{name: "invalid", addr: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var a netip.Addr
			if tt.addr != "" {
				a = netip.MustParseAddr(tt.addr)
			}
			require.Equal(t, tt.want, g.AddrAllowed(a))
		})
	}
}

func TestCheckScheme(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  env
		url  string
		msg  string
	}{
		{name: "https in production", env: prod, url: "https://example.com/"},
		{name: "http in production", env: prod, url: "http://example.com/", msg: MsgHTTPSOnly},
		{name: "http in development", env: dev, url: "http://example.com/"},
		{name: "http saved in development, sent in staging", env: other, url: "http://example.com/"},
		{name: "ftp", env: dev, url: "ftp://example.com/", msg: MsgHTTPOrHTTPS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, err := url.Parse(tt.url)
			require.NoError(t, err)
			err = New(tt.env.config()).CheckScheme(u)
			if tt.msg == "" {
				require.NoError(t, err)
				return
			}
			var rej *core.URLRejection
			require.ErrorAs(t, err, &rej)
			require.Equal(t, tt.msg, rej.Message)
		})
	}
}

// TestCheckTarget: the send-time check of core.Dialer parses the URL as the
// HTTP client sends it and refuses with the fixed client-facing texts.
func TestCheckTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  env
		url  string
		msg  string
	}{
		{name: "https in production", env: prod, url: "https://example.com/hook?x=1"},
		{name: "http in development", env: dev, url: "http://example.com/"},
		{name: "http in production", env: prod, url: "http://example.com/", msg: MsgHTTPSOnly},
		{name: "other scheme", env: dev, url: "ftp://example.com/", msg: MsgHTTPOrHTTPS},
		{name: "no host", env: dev, url: "https:///path", msg: MsgNoHostname},
		{name: "unparseable", env: dev, url: "https://exa mple.com/%zz", msg: MsgInvalidURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, err := New(tt.env.config()).CheckTarget(tt.url)
			if tt.msg == "" {
				require.NoError(t, err)
				require.Equal(t, tt.url, u.String())
				return
			}
			require.Nil(t, u)
			var rej *core.URLRejection
			require.ErrorAs(t, err, &rej)
			require.Equal(t, tt.msg, rej.Message)
		})
	}
}
