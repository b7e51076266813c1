package fernet

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

var _ core.SecretBox = (*Box)(nil)

const (
	testSecret = "test-session-secret-32-chars-minimum!!"
	// apiKey is 39 characters, like a real API key.
	apiKey = "cue_sk_0123456789abcdef0123456789abcdef"
	// pyToken is cryptography.fernet.Fernet(key)._encrypt_from_parts(apiKey,
	// 1776502800, bytes(range(16))) with key = KeyFromSecret(testSecret).
	pyToken = "gAAAAABp40gQAAECAwQFBgcICQoLDA0OD7rmD3QhIpVbYtg8pi9MG1AtEbA10JH-nQHDfhhZOYW6ch52SgQm6qcF476OQcktClytA_GRExSNcHhkqb70SCmthmshC0yzQv1ilZVg6Rmx"
	// pyEmpty is the same with b"", time 0 and a zero IV.
	pyEmpty = "gAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAJumr1LybTGmxXrL4x3zdd6r0uAuxZ44Qf4KlgBQDNd2h6Yz_R0CIBFpfETVHCqsYw=="
	// pyRandom is Fernet(key).encrypt("héllo wörld".encode()) (random IV).
	pyRandom = "gAAAAABrCvUbaxNw820_zaTkJCjBoWCDWCTgSSaIs7gaV6JtT4q9TDaEj6aVMUZ-EiuWgJjYtbVWuNImAjS-UU_XkquoY1Ny7w=="
)

func fixedNow() time.Time { return time.Unix(1776502800, 0) }

func TestKeyFromSecret(t *testing.T) {
	t.Parallel()
	key := KeyFromSecret(testSecret)
	require.Equal(t, "_9SkFDLHbNr4WCXKdsTlqBrqiIKUxcNVO4q0tjGTQtg=", EncodeKey(key))
	parsed, err := ParseKey(EncodeKey(key))
	require.NoError(t, err)
	require.Equal(t, key, parsed)
	_, err = ParseKey("too-short")
	require.Error(t, err)
}

func TestKnownTokens(t *testing.T) {
	t.Parallel()
	key := KeyFromSecret(testSecret)
	var iv [16]byte
	for i := range iv {
		iv[i] = byte(i)
	}
	tests := []struct {
		name      string
		plaintext string
		iv        [16]byte
		at        time.Time
		want      string
	}{
		{name: "39-char key", plaintext: apiKey, iv: iv, at: fixedNow(), want: pyToken},
		{name: "empty", plaintext: "", iv: [16]byte{}, at: time.Unix(0, 0), want: pyEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := seal(key, []byte(tt.plaintext), tt.iv, tt.at)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			pt, err := New(key, nil).Open(tt.want)
			require.NoError(t, err)
			require.Equal(t, tt.plaintext, pt)
		})
	}
}

func TestOpenPythonToken(t *testing.T) {
	t.Parallel()
	pt, err := New(KeyFromSecret(testSecret), nil).Open(pyRandom)
	require.NoError(t, err)
	require.Equal(t, "héllo wörld", pt)
}

func TestSealLayout(t *testing.T) {
	t.Parallel()
	box := New(KeyFromSecret(testSecret), fixedNow)
	tok, err := box.Seal(apiKey)
	require.NoError(t, err)
	require.Len(t, tok, 140) // security.md §1.6
	raw, err := base64.URLEncoding.DecodeString(tok)
	require.NoError(t, err)
	require.Equal(t, byte(0x80), raw[0])
	require.Equal(t, []byte{0, 0, 0, 0, 0x69, 0xe3, 0x48, 0x10}, raw[1:9]) // 1776502800
	tok2, err := box.Seal(apiKey)
	require.NoError(t, err)
	require.NotEqual(t, tok, tok2, "IV must be random")
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	box := New(KeyFromSecret(testSecret), fixedNow)
	tests := []struct {
		name      string
		plaintext string
	}{
		{name: "empty", plaintext: ""},
		{name: "one block minus one", plaintext: "123456789012345"},
		{name: "exactly one block", plaintext: "1234567890123456"},
		{name: "api key", plaintext: apiKey},
		{name: "unicode", plaintext: "héllo 😀"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok, err := box.Seal(tt.plaintext)
			require.NoError(t, err)
			got, err := box.Open(tok)
			require.NoError(t, err)
			require.Equal(t, tt.plaintext, got)
		})
	}
}

func TestTamper(t *testing.T) {
	t.Parallel()
	box := New(KeyFromSecret(testSecret), fixedNow)
	raw, err := base64.URLEncoding.DecodeString(pyToken)
	require.NoError(t, err)
	for i := range raw {
		for _, bit := range []byte{0x01, 0x80} {
			mut := append([]byte(nil), raw...)
			mut[i] ^= bit
			_, err := box.Open(base64.URLEncoding.EncodeToString(mut))
			require.ErrorIs(t, err, ErrInvalidToken, "byte %d bit %#x", i, bit)
		}
	}
}

func TestOpenRejects(t *testing.T) {
	t.Parallel()
	raw, err := base64.URLEncoding.DecodeString(pyToken)
	require.NoError(t, err)
	tests := []struct {
		name  string
		key   [32]byte
		token string
	}{
		{name: "wrong key", key: KeyFromSecret("another-secret"), token: pyToken},
		{name: "empty", key: KeyFromSecret(testSecret), token: ""},
		{name: "not base64", key: KeyFromSecret(testSecret), token: "!!!!"},
		{name: "standard base64 alphabet", key: KeyFromSecret(testSecret), token: base64.StdEncoding.EncodeToString(raw)},
		{name: "truncated", key: KeyFromSecret(testSecret), token: base64.URLEncoding.EncodeToString(raw[:len(raw)-1])},
		{name: "header only", key: KeyFromSecret(testSecret), token: base64.URLEncoding.EncodeToString(raw[:25])},
		{name: "extra byte", key: KeyFromSecret(testSecret), token: base64.URLEncoding.EncodeToString(append(append([]byte(nil), raw...), 0))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tt.key, nil).Open(tt.token)
			require.ErrorIs(t, err, ErrInvalidToken)
		})
	}
}

func TestFallbackKeys(t *testing.T) {
	t.Parallel()
	oldKey, newKey := KeyFromSecret(testSecret), KeyFromSecret("rotated-session-secret-32-chars-min!!")
	rotated := New(newKey, fixedNow, WithFallbackKeys(oldKey))

	pt, err := rotated.Open(pyToken) // sealed under the old key
	require.NoError(t, err)
	require.Equal(t, apiKey, pt)

	tok, err := rotated.Seal("fresh")
	require.NoError(t, err)
	_, err = New(oldKey, nil).Open(tok)
	require.ErrorIs(t, err, ErrInvalidToken, "Seal must use the primary key")
	pt, err = New(newKey, nil).Open(tok)
	require.NoError(t, err)
	require.Equal(t, "fresh", pt)
}
