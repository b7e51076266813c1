package core

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Echo limits.
const (
	EchoTTL          = 300 * time.Second
	EchoMaxBody      = 1_000_000
	echoStoresPerIP  = 10
	echoMinTokenSize = 16
)

// Echo is the webhook test sink: anyone may store a payload under a token
// (rate-limited per client IP), and an authenticated caller reads it back.
// Safe for concurrent use.
type Echo struct {
	store   EchoStore
	limiter RateLimiter
	clock   Clock
}

// NewEcho wires the echo sink.
func NewEcho(store EchoStore, limiter RateLimiter, clock Clock) *Echo {
	return &Echo{store: store, limiter: limiter, clock: clock}
}

// Put stores a request body and headers for EchoTTL.
func (s *Echo) Put(ctx context.Context, token string, body []byte, headers map[string]string, clientIP string) error {
	if len(token) < echoMinTokenSize {
		return Invalid("invalid_token", "Token must be at least 16 characters")
	}
	if len(body) > EchoMaxBody {
		return NewError(KindTooLarge, "payload_too_large", "Echo payload must be under 1MB")
	}
	if len(strings.TrimSpace(string(body))) == 0 || !json.Valid(body) {
		return Invalid("invalid_json", "Request body is not valid JSON")
	}
	if rawHasNUL(body) || strings.ContainsRune(token, 0) {
		return Body().HasNul(TypeObject).Err()
	}
	if err := checkJSONShape(Body(), body); err != nil {
		return err
	}
	now := s.clock.Now()
	d, err := s.limiter.Allow(ctx, "echo:"+clientIP, echoStoresPerIP, time.Hour, now)
	if err == nil && !d.Allowed {
		return &Error{Kind: KindRateLimited, Code: "rate_limit_exceeded", Message: "Echo store rate limit exceeded"}
	}
	// Any authenticated tenant can read an entry: keep only what a webhook
	// test needs (Content-Type and the X-CueAPI-* headers), never
	// credentials or other headers a caller sent.
	clean := make(map[string]string, len(headers))
	for k, v := range headers {
		k = strings.ToLower(k)
		if (k == "content-type" || strings.HasPrefix(k, "x-cueapi-")) && !strings.ContainsRune(v, 0) {
			clean[k] = v
		}
	}
	c, err := compactJSON(body)
	if err != nil {
		return Invalid("invalid_json", "Request body is not valid JSON")
	}
	return s.store.EchoPut(ctx, &EchoEntry{Token: token, Body: c, Headers: clean, ReceivedAt: now, ExpiresAt: now.Add(EchoTTL)})
}

// Get returns the stored entry, or nil when nothing is stored or it expired.
func (s *Echo) Get(ctx context.Context, token string) (*EchoEntry, error) {
	e, err := s.store.EchoGet(ctx, &EchoGetParams{Token: token, Now: s.clock.Now()})
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return e, err
}

func compactJSON(b []byte) (json.RawMessage, error) {
	c := compactOrNil(b)
	if c == nil {
		return nil, errors.New("invalid json")
	}
	return c, nil
}

// EchoEntry is a stored echo-sink request.
type EchoEntry struct {
	Token      string
	Body       json.RawMessage
	Headers    map[string]string
	ReceivedAt time.Time
	ExpiresAt  time.Time
}

// EchoStore persists echo-sink entries. Every method is safe for concurrent
// use by any number of processes sharing the database; tenant-scoped methods
// return ErrNotFound for another tenant's rows. Methods are sorted by name.
type EchoStore interface {
	// EchoGet returns the entry if it has not expired at Now. ErrNotFound
	// otherwise.
	EchoGet(ctx context.Context, p *EchoGetParams) (*EchoEntry, error)

	// EchoPurge deletes echo entries expired at Before; returns how many went.
	EchoPurge(ctx context.Context, p *EchoPurgeParams) (int, error)

	// EchoPut stores (overwrites) an echo entry.
	EchoPut(ctx context.Context, p *EchoEntry) error
}

// EchoGetParams reads an echo entry as of Now.
type EchoGetParams struct {
	Token string
	Now   time.Time
}

// EchoPurgeParams deletes expired echo entries.
type EchoPurgeParams struct{ Before time.Time }
