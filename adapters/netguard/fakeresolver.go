package netguard

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/cueapi/cueapi/core"
)

var _ core.Resolver = (*FakeResolver)(nil)

// FakeResolver is an in-memory core.Resolver for tests: fixed answers per
// name, optional per-call sequences (to simulate DNS rebinding: a public
// answer for the save-time check, a private one when connecting), and an
// optional answer for every other name. Names match case-insensitively,
// ignoring one trailing dot. Safe for concurrent use.
type FakeResolver struct {
	mu       sync.Mutex
	hosts    map[string][]netip.Addr
	seqs     map[string][][]netip.Addr
	calls    map[string]int
	fallback []netip.Addr
}

// NewFakeResolver returns a resolver that knows no names.
func NewFakeResolver() *FakeResolver {
	return &FakeResolver{
		hosts: map[string][]netip.Addr{},
		seqs:  map[string][][]netip.Addr{},
		calls: map[string]int{},
	}
}

func fakeKey(host string) string { return strings.ToLower(strings.TrimSuffix(host, ".")) }

// Set makes host resolve to addrs (given as strings, which must parse) on
// every call. It returns f for chaining.
func (f *FakeResolver) Set(host string, addrs ...string) *FakeResolver {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hosts[fakeKey(host)] = mustAddrs(addrs)
	return f
}

// SetSequence makes the n-th lookup of host (counting from 0) answer
// answers[n]; lookups past the end repeat the last answer. An empty answer
// is a "no such host" failure.
func (f *FakeResolver) SetSequence(host string, answers ...[]string) *FakeResolver {
	f.mu.Lock()
	defer f.mu.Unlock()
	seq := make([][]netip.Addr, len(answers))
	for i, a := range answers {
		seq[i] = mustAddrs(a)
	}
	f.seqs[fakeKey(host)] = seq
	return f
}

// SetFallback makes every name not set otherwise resolve to addrs.
func (f *FakeResolver) SetFallback(addrs ...string) *FakeResolver {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fallback = mustAddrs(addrs)
	return f
}

// Calls returns how many lookups of host were made.
func (f *FakeResolver) Calls(host string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[fakeKey(host)]
}

// LookupNetIP answers from the configured tables; network "ip4" or "ip6"
// filters the answer by family. Unknown names fail with a *net.DNSError
// whose IsNotFound is set.
func (f *FakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	k := fakeKey(host)
	n := f.calls[k]
	f.calls[k] = n + 1
	var ans []netip.Addr
	if seq, ok := f.seqs[k]; ok && len(seq) > 0 {
		ans = seq[min(n, len(seq)-1)]
	} else if a, ok := f.hosts[k]; ok {
		ans = a
	} else {
		ans = f.fallback
	}
	ans = slices.Clone(ans)
	f.mu.Unlock()

	ans = slices.DeleteFunc(ans, func(a netip.Addr) bool {
		return (network == "ip4" && !a.Unmap().Is4()) || (network == "ip6" && !a.Is6())
	})
	if len(ans) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return ans, nil
}

func mustAddrs(ss []string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}
