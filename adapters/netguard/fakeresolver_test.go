package netguard

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFakeResolver(t *testing.T) {
	t.Parallel()
	r := NewFakeResolver().
		Set("Both.Example", "1.2.3.4", "2001:4860::1").
		SetSequence("seq.example", []string{"1.1.1.1"}, []string{}, []string{"2.2.2.2"})
	ctx := context.Background()
	tests := []struct {
		name    string
		network string
		host    string
		want    []string // nil: not found
	}{
		{name: "case and trailing dot", network: "ip", host: "both.example.", want: []string{"1.2.3.4", "2001:4860::1"}},
		{name: "ip4 filter", network: "ip4", host: "both.example", want: []string{"1.2.3.4"}},
		{name: "ip6 filter", network: "ip6", host: "both.example", want: []string{"2001:4860::1"}},
		{name: "unknown", network: "ip", host: "nope.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := r.LookupNetIP(ctx, tt.network, tt.host)
			if tt.want == nil {
				var dnsErr *net.DNSError
				require.ErrorAs(t, err, &dnsErr)
				require.True(t, dnsErr.IsNotFound)
				return
			}
			require.NoError(t, err)
			require.Equal(t, mustAddrs(tt.want), got)
		})
	}

	// Sequences are consumed in order, the last answer repeating.
	got, err := r.LookupNetIP(ctx, "ip", "seq.example")
	require.NoError(t, err)
	require.Equal(t, mustAddrs([]string{"1.1.1.1"}), got)
	_, err = r.LookupNetIP(ctx, "ip", "seq.example")
	require.Error(t, err)
	for range 2 {
		got, err = r.LookupNetIP(ctx, "ip", "seq.example")
		require.NoError(t, err)
		require.Equal(t, mustAddrs([]string{"2.2.2.2"}), got)
	}
	require.Equal(t, 4, r.Calls("SEQ.example"))

	fb := NewFakeResolver().SetFallback("8.8.4.4")
	got, err = fb.LookupNetIP(ctx, "ip", "anything.example")
	require.NoError(t, err)
	require.Equal(t, mustAddrs([]string{"8.8.4.4"}), got)
}
