package core

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"

	"strings"
	"time"
)

// SessionTTL is the lifetime of a session JWT.
const SessionTTL = 24 * time.Hour

// Session token errors.
var (
	errSessionExpired = NewError(KindUnauthorized, "session_expired", "Session expired. Please log in again.")
	errSessionInvalid = NewError(KindUnauthorized, "invalid_session", "Invalid session token")
)

// SessionClaims are the claims of a session JWT (HS256, secret
// SESSION_SECRET, type "session").
type SessionClaims struct {
	Sub   string `json:"sub"`
	Email string `json:"email"`
	Type  string `json:"type"`
	Iat   int64  `json:"iat"`
	Exp   int64  `json:"exp"`
}

// Sessions issues and verifies session JWTs. The zero value (no secret)
// verifies nothing: every token is invalid_session. Safe for concurrent use.
type Sessions struct {
	secret []byte
}

// NewSessions returns a JWT issuer/verifier keyed by secret (may be empty).
func NewSessions(secret string) *Sessions { return &Sessions{secret: []byte(secret)} }

// Enabled reports whether a secret is configured.
func (s *Sessions) Enabled() bool { return s != nil && len(s.secret) > 0 }

var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// Issue returns a 24-hour session JWT for the user.
func (s *Sessions) Issue(u *User, now time.Time) (string, error) {
	if !s.Enabled() {
		return "", NewError(KindUnavailable, "session_unavailable", "SESSION_SECRET is not configured")
	}
	c := SessionClaims{Sub: string(u.ID), Email: u.Email, Type: "session", Iat: now.Unix(), Exp: now.Add(SessionTTL).Unix()}
	body, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	signing := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(body)
	return signing + "." + s.sign(signing), nil
}

func (s *Sessions) sign(signing string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(signing))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Verify checks the token's HS256 signature, its type claim and its expiry.
func (s *Sessions) Verify(token string, now time.Time) (*SessionClaims, error) {
	if !s.Enabled() {
		return nil, errSessionInvalid
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errSessionInvalid
	}
	hdr, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, errSessionInvalid
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(hdr, &h) != nil || h.Alg != "HS256" {
		return nil, errSessionInvalid
	}
	want := s.sign(parts[0] + "." + parts[1])
	if !hmac.Equal([]byte(want), []byte(parts[2])) {
		return nil, errSessionInvalid
	}
	body, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, errSessionInvalid
	}
	var c SessionClaims
	if err := json.Unmarshal(body, &c); err != nil || c.Type != "session" || c.Sub == "" {
		return nil, errSessionInvalid
	}
	if c.Exp == 0 {
		return nil, errSessionInvalid
	}
	if now.Unix() >= c.Exp {
		return nil, errSessionExpired
	}
	return &c, nil
}
