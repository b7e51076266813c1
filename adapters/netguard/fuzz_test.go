package netguard

import (
	"context"
	"errors"
	"net/netip"
	"net/url"
	"testing"

	"github.com/cueapi/cueapi/core"
)

func FuzzCanonicalize(f *testing.F) {
	seeds := []string{
		"https://example.com/", "https://2130706433/", "https://0x7f.1/", "https://0177.0.0.1/",
		"https://[::ffff:127.0.0.1]/", "https://[fe80::1%25eth0]/", "https://%6c%6f%63%61%6c%68%6f%73%74/",
		"https://ⓛocalhost/", "https://8.8.8.8\\@127.0.0.1/", "https://8.8.8.8#@127.0.0.1/", "https://@8.8.8.8/",
		"https://user:pw@example.com:8443/a/../b?c=d#e", "http://１２７.０.０.１/", "https:///x", "https://a.b.c.1.",
		"https://[64:ff9b::7f00:1]/", "https://[2002:7f00:1::]/", "HTTPS://Bücher.example/%zz?é#`",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	g := New(Config{AllowHTTP: true, Resolver: NewFakeResolver().SetFallback(publicAddr)})
	f.Fuzz(func(t *testing.T, raw string) {
		gu, err := g.Canonicalize(raw)
		if err != nil {
			var rej *core.URLRejection
			if !errors.As(err, &rej) {
				t.Fatalf("Canonicalize(%q): non-rejection error %v", raw, err)
			}
			return
		}
		u, err := parseURL(raw)
		if err != nil {
			t.Fatalf("parseURL(%q) failed after Canonicalize succeeded: %v", raw, err)
		}
		canon := u.String()

		// Idempotence.
		again, err := parseURL(canon)
		if err != nil || again.String() != canon {
			t.Fatalf("not idempotent: %q -> %q -> %v (%v)", raw, canon, again, err)
		}
		// net/url reads the same host and port.
		nu, err := url.Parse(canon)
		if err != nil || nu.Hostname() != u.hostname || nu.Port() != u.port || gu.Hostname() != u.hostname {
			t.Fatalf("net/url disagrees on %q: %v %v", canon, nu, err)
		}
		// A domain never looks like a number (a resolver could read it as
		// an address), and IP literals are in canonical form.
		if u.addr.IsValid() {
			if a, err := netip.ParseAddr(u.hostname); err != nil || a != u.addr {
				t.Fatalf("literal %q not canonical (%v)", u.hostname, u.addr)
			}
		} else if endsInNumber(u.hostname) {
			t.Fatalf("domain %q ends in a number", u.hostname)
		}

		// If the policy accepts, the host is neither a blocked literal nor a
		// blocked name.
		got, err := g.Check(context.Background(), raw)
		if err != nil {
			return
		}
		if got != canon {
			t.Fatalf("Check returned %q, Canonicalize %q", got, canon)
		}
		if u.hasCredentials() {
			t.Fatalf("accepted credentials in %q", raw)
		}
		if u.addr.IsValid() && addrBlocked(u.addr) {
			t.Fatalf("accepted blocked literal %q", canon)
		}
		if !u.addr.IsValid() && hostnameBlocked(u.hostname) {
			t.Fatalf("accepted blocked name %q", canon)
		}
		if a, err := netip.ParseAddr(nu.Hostname()); err == nil && addrBlocked(a) {
			t.Fatalf("net/url sees blocked literal in accepted %q", canon)
		}
	})
}
