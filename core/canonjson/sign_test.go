package canonjson_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core/canonjson"
)

// TestWorkedExample is security.md §4.4.
func TestWorkedExample(t *testing.T) {
	t.Parallel()
	const (
		secretHex = "abababababababababababababababababababababababababababababababab"
		wantBody  = `{"attempt": 1, "cue_id": "cue_abc123def456", "execution_id": "00000000-0000-4000-8000-000000000001", "name": "daily-report", "payload": {"n": [1, 2.5, null, true], "note": "h\u00e9llo", "task": "report"}, "scheduled_for": "2026-04-18T09:00:00+00:00"}`
		wantSig   = "v1=49db928f65286ddbf30f8b9415f342bea1d949f227e8d99660ab9958d0525108"
		timestamp = int64(1776502800)
	)
	secret := "whsec_" + secretHex
	// Unsorted input, as the engine would assemble it.
	in := `{"execution_id":"00000000-0000-4000-8000-000000000001","cue_id":"cue_abc123def456","name":"daily-report",` +
		`"scheduled_for":"2026-04-18T09:00:00+00:00","attempt":1,"payload":{"task":"report","note":"héllo","n":[1,2.5,null,true]}}`
	body, err := canonjson.Canonical([]byte(in))
	require.NoError(t, err)
	require.Equal(t, wantBody, string(body))
	require.Equal(t, wantSig, canonjson.Sign(secret, timestamp, body))
	require.True(t, canonjson.Verify(secret, wantSig, timestamp, body))
}

func TestVerify(t *testing.T) {
	t.Parallel()
	body := []byte(`{"a": 1}`)
	good := canonjson.Sign("whsec_k", 100, body)
	tests := []struct {
		name      string
		secret    string
		header    string
		timestamp int64
		body      []byte
		want      bool
	}{
		{name: "valid", secret: "whsec_k", header: good, timestamp: 100, body: body, want: true},
		{name: "wrong secret", secret: "whsec_x", header: good, timestamp: 100, body: body, want: false},
		{name: "wrong timestamp", secret: "whsec_k", header: good, timestamp: 101, body: body, want: false},
		{name: "wrong body", secret: "whsec_k", header: good, timestamp: 100, body: []byte(`{"a": 2}`), want: false},
		{name: "missing prefix", secret: "whsec_k", header: strings.TrimPrefix(good, "v1="), timestamp: 100, body: body, want: false},
		{name: "upper-case hex", secret: "whsec_k", header: "v1=" + strings.ToUpper(strings.TrimPrefix(good, "v1=")), timestamp: 100, body: body, want: false},
		{name: "empty header", secret: "whsec_k", header: "", timestamp: 100, body: body, want: false},
		{name: "empty body for GET", secret: "whsec_k", header: canonjson.Sign("whsec_k", 100, nil), timestamp: 100, body: nil, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, canonjson.Verify(tt.secret, tt.header, tt.timestamp, tt.body))
		})
	}
}
