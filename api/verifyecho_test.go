package api

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestVerifyEcho(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		method, value string
		want          bool
	}{
		{"POST", "true", true}, {"PATCH", " TRUE ", true}, {"PUT", "True", true},
		{"POST", "yes", false}, {"POST", "", false}, {"GET", "true", false}, {"DELETE", "true", false},
	} {
		r := httptest.NewRequest(tc.method, "/v1/cues", nil)
		if tc.value != "" {
			r.Header.Set("x-cueapi-verify-echo", tc.value)
		}
		require.Equal(t, tc.want, wantsVerifyEcho(r), "%s %q", tc.method, tc.value)
	}

	got, ok := addEchoKeys([]byte(`{"id":"x"}`), "FireCue", []byte(`{"a":1}`))
	require.True(t, ok)
	require.JSONEq(t, `{"id":"x","body_received":null,"body_received_sha256":"`+emptySHA256+`"}`, string(got))
	got, ok = addEchoKeys([]byte(`{}`), "createCue", nil)
	require.True(t, ok)
	require.JSONEq(t, `{"body_received":null,"body_received_sha256":"`+emptySHA256+`"}`, string(got), "an empty body echoes null")
	got, ok = addEchoKeys([]byte(`{"a":1}`), "createCue", []byte("not json \xff"))
	require.True(t, ok)
	require.JSONEq(t, `{"a":1,"body_received":"not json \ufffd","body_received_sha256":"`+hashHex([]byte("not json \xff"))+`"}`, string(got), "raw text, hash of the raw bytes")
	for _, resp := range []string{`[1]`, `"s"`, `{"body_received":1}`, ``} {
		_, ok = addEchoKeys([]byte(resp), "createCue", []byte(`{}`))
		require.False(t, ok, resp)
	}
}
