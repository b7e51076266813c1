package core_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

func TestEffectivePayload(t *testing.T) {
	cue := json.RawMessage(`{"a":1,"b":{"x":1}}`)
	over := json.RawMessage(`{"b":{"y":2},"c":3}`)
	replace := core.MergeReplace
	for _, tc := range []struct {
		name     string
		override json.RawMessage
		strategy *string
		want     string
	}{
		{"NoOverrideIsTheCuePayload", nil, nil, `{"a":1,"b":{"x":1}}`},
		{"MergeIsShallow", over, nil, `{"a":1,"b":{"y":2},"c":3}`},
		{"ReplaceDropsTheCuePayload", over, &replace, `{"b":{"y":2},"c":3}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := core.EffectivePayload(cue, tc.override, tc.strategy)
			require.NoError(t, err)
			require.JSONEq(t, tc.want, string(got))
		})
	}
	t.Run("OversizedResultIsRefused", func(t *testing.T) {
		big := json.RawMessage(`{"s":"` + string(bytesOf('x', core.MaxPayloadBytes)) + `"}`)
		_, err := core.EffectivePayload(cue, big, nil)
		e, ok := core.AsError(err)
		require.True(t, ok, "%v", err)
		require.Equal(t, "invalid_payload_size", e.Code)
	})
}

func bytesOf(c byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return b
}

func TestParseCatchUp(t *testing.T) {
	for in, want := range map[string]string{
		"run_once_if_missed": "run_once_if_missed", "latest": "run_once_if_missed",
		"skip_missed": "skip_missed", "skip": "skip_missed",
		"replay_all": "replay_all", "all": "replay_all",
	} {
		p, ok := core.ParseCatchUp(in)
		require.True(t, ok, in)
		require.Equal(t, want, p.ClientName(), in)
	}
	_, ok := core.ParseCatchUp("sometimes")
	require.False(t, ok)
}

func TestMissingAssertions(t *testing.T) {
	require.Nil(t, core.MissingAssertions(nil, nil))
	require.Equal(t, []string{"done", "tested"}, core.MissingAssertions([]string{"done", "tested"}, nil))
	require.Equal(t, []string{"tested"}, core.MissingAssertions([]string{"done", "tested"}, json.RawMessage(`{"done":null}`)), "presence, whatever the value")
	require.Equal(t, []string{"done"}, core.MissingAssertions([]string{"done"}, json.RawMessage(`[1]`)), "not an object: nothing present")
}

func TestRequiredAssertionsOf(t *testing.T) {
	c := &core.Cue{RequiredAssertions: []string{"cue"}}
	require.Equal(t, []string{"cue"}, core.RequiredAssertionsOf(&core.Execution{}, c), "absent exit_criteria: the cue's")
	require.Empty(t, core.RequiredAssertionsOf(&core.Execution{RequiredAssertions: &[]string{}}, c), "[] opts out")
	require.Equal(t, []string{"fire"}, core.RequiredAssertionsOf(&core.Execution{RequiredAssertions: &[]string{"fire"}}, c))
}

func TestNewCueStats(t *testing.T) {
	st := core.NewCueStats(map[core.ExecutionStatus]int{core.ExecSuccess: 2, core.ExecFailed: 1, core.ExecOutcomeTimeout: 1, core.ExecMissed: 2, core.ExecPending: 3})
	require.Equal(t, 7, st.WindowDays)
	require.Equal(t, 9, st.Executions)
	require.Equal(t, 2, st.Succeeded)
	require.Equal(t, 2, st.Failed)
	require.Equal(t, 2, st.Missed)
	require.Equal(t, 0.333, *st.SuccessRate)
	require.Equal(t, 0.333, *st.MissRate)
	empty := core.NewCueStats(nil)
	require.Nil(t, empty.SuccessRate, "no finished run: no rate")
}

func TestFingerprintIsCanonical(t *testing.T) {
	a, err := core.Fingerprint(json.RawMessage(`{"b":1,"a":{"y":2,"x":1}}`))
	require.NoError(t, err)
	b, err := core.Fingerprint(json.RawMessage(`{"a":{"x":1,"y":2},"b":1}`))
	require.NoError(t, err)
	require.Equal(t, a, b)
	c, err := core.Fingerprint(json.RawMessage(`{"a":{"x":1,"y":3},"b":1}`))
	require.NoError(t, err)
	require.NotEqual(t, a, c)
	require.Len(t, a, 64)
}
