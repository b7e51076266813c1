package netguard

import (
	"context"
	"net"
	"net/netip"

	"github.com/cueapi/cueapi/core"
)

var _ core.Resolver = DNSResolver{}

// DNSResolver resolves names with the system's resolver
// (net.DefaultResolver). It is the production core.Resolver.
type DNSResolver struct{}

// LookupNetIP returns the addresses of host; network is "ip", "ip4" or "ip6".
func (DNSResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, network, host)
}
