package core

import (
	"context"
	"net/netip"
	"time"
)

// RateLimiter is a sliding-window limiter over a 60-second window. Safe for
// concurrent use. Rejected requests are not counted.
type RateLimiter interface {
	// Allow records one request in bucket key if fewer than limit requests
	// were accepted in (now-window, now]. It reports the decision and the
	// figures for the X-RateLimit-* headers.
	Allow(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (RateDecision, error)
	// Count returns how many requests were accepted in the window ending now.
	Count(ctx context.Context, key string, window time.Duration, now time.Time) (int, error)
}

// RateDecision is a limiter's answer.
type RateDecision struct {
	Allowed   bool
	Limit     int
	Remaining int
	// ResetAt is when the window frees a slot (rejections) or now+window.
	ResetAt time.Time
	// RetryAfter is set when !Allowed: at least one second.
	RetryAfter time.Duration
}

// AuthCache caches resolved users by key hash so authentication does not hit
// the store on every request, and carries invalidations between replicas: an
// Invalidate on one process is observed by every process's next Get. Safe
// for concurrent use.
type AuthCache interface {
	// Get returns the cached user for the key hash, or ok=false.
	Get(ctx context.Context, keyHash string) (u *User, ok bool, err error)
	// Put caches the user for ttl.
	Put(ctx context.Context, keyHash string, u *User, ttl time.Duration) error
	// Invalidate removes the entry everywhere.
	Invalidate(ctx context.Context, keyHash string) error
}

// SecretBox seals secrets for storage (authenticated encryption). Safe for
// concurrent use.
type SecretBox interface {
	Seal(plaintext string) (string, error)
	// Open fails when the token was not sealed with this box's key.
	Open(token string) (string, error)
}

// URLGuard vets outbound URLs (SSRF policy): at save time (Check) and again
// at connect time inside the deliverer.
type URLGuard interface {
	// Check canonicalizes raw and applies the policy. It returns the
	// canonical URL or a *URLRejection whose Message is the client-facing text.
	Check(ctx context.Context, raw string) (string, error)
}

// URLRejection is a URL refused by the SSRF policy.
type URLRejection struct{ Message string }

func (e *URLRejection) Error() string { return e.Message }

// Resolver resolves host names. Tests use a fake; production uses DNS.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}
