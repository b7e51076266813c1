package core_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

func TestParseTraceParent(t *testing.T) {
	t.Parallel()
	const valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for name, tc := range map[string]struct {
		in, state string
		ok        bool
		want      string
	}{
		"valid":                 {in: valid, state: "vendor=x", ok: true, want: valid},
		"upper case normalized": {in: strings.ToUpper(valid), ok: true, want: valid},
		"future version extra":  {in: "01" + valid[2:] + "-more", ok: true, want: valid},
		"version ff":            {in: "ff" + valid[2:]},
		"zero trace id":         {in: "00-" + strings.Repeat("0", 32) + "-00f067aa0ba902b7-01"},
		"zero parent id":        {in: "00-4bf92f3577b34da6a3ce929d0e0e4736-" + strings.Repeat("0", 16) + "-01"},
		"short":                 {in: valid[:54]},
		"not hex":               {in: "00-4bf92f3577b34da6a3ce929d0e0e473z-00f067aa0ba902b7-01"},
		"v00 with a tail":       {in: valid + "x"},
		"empty":                 {},
	} {
		t.Run(name, func(t *testing.T) {
			got, ok := core.ParseTraceParent(tc.in, tc.state)
			require.Equal(t, tc.ok, ok)
			if tc.ok {
				require.Equal(t, tc.want, got.TraceParent)
				require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", got.TraceID())
				require.Equal(t, tc.state, got.TraceState)
			}
		})
	}
	_, ok := core.ParseTraceParent(valid, "bad\nstate")
	require.True(t, ok)
}

func TestExecutionTraceUsesTheExecutionID(t *testing.T) {
	t.Parallel()
	tc := core.ExecutionTrace("0b6f1d2e-8a4c-4f3e-9d2a-1c5b7e9f0a11")
	require.Equal(t, "0b6f1d2e8a4c4f3e9d2a1c5b7e9f0a11", tc.TraceID())
	_, ok := core.ParseTraceParent(tc.TraceParent, "")
	require.True(t, ok)
	child := core.ChildTrace(tc)
	require.Equal(t, tc.TraceID(), child.TraceID())
	require.NotEqual(t, tc.TraceParent, child.TraceParent)
}

func TestTraceCarrierIsBounded(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := core.NewTraceCarrier(4, time.Minute)
	tc, _ := core.ParseTraceParent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "")
	for i := 0; i < 100; i++ {
		c.Put(core.ExecutionID(strings.Repeat("a", i+1)), tc, now)
	}
	require.LessOrEqual(t, c.Len(), 4)
	got, ok := c.Get(core.ExecutionID(strings.Repeat("a", 100)), now)
	require.True(t, ok)
	require.Equal(t, tc, got)
	_, ok = c.Get(core.ExecutionID(strings.Repeat("a", 100)), now.Add(2*time.Minute))
	require.False(t, ok, "expired")
	c.Forget(core.ExecutionID(strings.Repeat("a", 100)))
	_, ok = c.Get(core.ExecutionID(strings.Repeat("a", 100)), now)
	require.False(t, ok)
	ctx := core.WithTrace(context.Background(), tc)
	got, ok = core.TraceFrom(ctx)
	require.True(t, ok)
	require.Equal(t, tc, got)
}
