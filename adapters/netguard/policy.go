package netguard

import (
	"net/netip"
	"strings"
)

// blockedV4 are the IPv4 ranges never reached without an operator
// allow-list entry (security.md §3.3, including the [F] and [O] rows).
var blockedV4 = mustPrefixes(
	"0.0.0.0/8",       // "this network"; 0.0.0.0 reaches the local host
	"10.0.0.0/8",      // private
	"100.64.0.0/10",   // carrier-grade NAT, Alibaba metadata 100.100.100.200
	"127.0.0.0/8",     // loopback
	"169.254.0.0/16",  // link-local, cloud metadata
	"172.16.0.0/12",   // private
	"192.0.0.0/24",    // IETF protocol assignments
	"192.0.2.0/24",    // documentation (TEST-NET-1)
	"192.88.99.0/24",  // deprecated 6to4 relay anycast
	"192.168.0.0/16",  // private
	"198.18.0.0/15",   // benchmarking
	"198.51.100.0/24", // documentation (TEST-NET-2)
	"203.0.113.0/24",  // documentation (TEST-NET-3)
	"224.0.0.0/4",     // multicast
	"240.0.0.0/4",     // reserved, broadcast
)

// blockedV6 are the IPv6 ranges blocked outright. IPv4-mapped addresses are
// unwrapped before this table is consulted; NAT64 and 6to4 addresses are
// unwrapped by blocked6.
var blockedV6 = mustPrefixes(
	"::/96",           // IPv4-compatible, includes :: and ::1
	"::ffff:0:0:0/96", // IPv4-translated
	"64:ff9b:1::/48",  // local-use NAT64
	"100::/64",        // discard-only
	"2001::/32",       // Teredo
	"2001:db8::/32",   // documentation
	"fc00::/7",        // unique local, AWS metadata fd00:ec2::254
	"fe80::/10",       // link-local
	"fec0::/10",       // deprecated site-local
	"ff00::/8",        // multicast
)

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// blockedHostnames are refused by name, before any resolution
// (case-insensitive, one trailing dot ignored).
var blockedHostnames = map[string]bool{
	"localhost":                true,
	"metadata.google.internal": true,
	"metadata.internal":        true,
}

// blockedSuffixes are name suffixes refused like blockedHostnames: RFC 6761
// .localhost ([F]), and the private-use .internal and mDNS .local ([O]).
var blockedSuffixes = []string{".localhost", ".internal", ".local"}

// hostnameBlocked reports whether a domain host is refused by name.
func hostnameBlocked(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if blockedHostnames[h] {
		return true
	}
	for _, s := range blockedSuffixes {
		if strings.HasSuffix(h, s) {
			return true
		}
	}
	return false
}

// addrBlocked reports whether an address (zone ignored) is in a blocked
// range, unwrapping IPv4-mapped, NAT64 and 6to4 addresses.
func addrBlocked(a netip.Addr) bool {
	if !a.IsValid() {
		return true
	}
	a = a.WithZone("").Unmap()
	if a.Is4() {
		return blocked4(a)
	}
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return true
	}
	for _, p := range blockedV6 {
		if p.Contains(a) {
			return true
		}
	}
	b := a.As16()
	switch {
	case nat64.Contains(a):
		return blocked4(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
	case sixToFour.Contains(a):
		return blocked4(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
	}
	return false
}

func blocked4(a netip.Addr) bool {
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified() {
		return true
	}
	for _, p := range blockedV4 {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
