package core

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

const cueIDAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// NewCueID returns "cue_" + 12 characters of [a-z0-9] from crypto/rand.
func NewCueID() CueID {
	b := make([]byte, 12)
	out := make([]byte, 12)
	for i := 0; i < 12; {
		if _, err := rand.Read(b); err != nil {
			panic(fmt.Sprintf("crypto/rand: %v", err)) // the OS CSPRNG never fails on supported platforms
		}
		for _, c := range b {
			// 252 = 7*36: reject the top values so every symbol is equally likely.
			if c < 252 && i < 12 {
				out[i] = cueIDAlphabet[int(c)%36]
				i++
			}
		}
	}
	return CueID("cue_" + string(out))
}

// NewUUID returns a random lowercase UUID v4.
func NewUUID() string {
	var b [16]byte
	randRead(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}

// NewExecutionID returns a fresh execution id.
func NewExecutionID() ExecutionID { return ExecutionID(NewUUID()) }

// NewTenantID returns a fresh user id.
func NewTenantID() TenantID { return TenantID(NewUUID()) }

// IsUUID reports whether s is a canonical lowercase-or-uppercase hyphenated UUID.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// RandomHex returns 2n lowercase hex characters from n random bytes.
func RandomHex(n int) string {
	b := make([]byte, n)
	randRead(b)
	return hex.EncodeToString(b)
}

// NewAPIKey returns a fresh key "cue_sk_" + 32 hex.
func NewAPIKey() string { return "cue_sk_" + RandomHex(16) }

// NewWebhookSecret returns "whsec_" + 64 hex.
func NewWebhookSecret() string { return "whsec_" + RandomHex(32) }

// HashAPIKey is the lowercase hex SHA-256 of the whole key.
func HashAPIKey(key string) string {
	s := sha256.Sum256([]byte(key))
	return hex.EncodeToString(s[:])
}

// APIKeyPrefix is the first 12 characters of a key.
func APIKeyPrefix(key string) string {
	if len(key) < 12 {
		return key
	}
	return key[:12]
}

func randRead(b []byte) {
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
}

// TenantID identifies a user account (a UUID string).
type TenantID string

// CueID identifies a cue: "cue_" + 12 characters of [a-z0-9].
type CueID string

// ExecutionID identifies an execution (a lowercase UUID v4 string).
type ExecutionID string
