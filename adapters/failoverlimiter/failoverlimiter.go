// Package failoverlimiter is a core.RateLimiter that asks a primary limiter
// (the shared Redis one) and, when it fails, answers from a fallback limiter
// (a per-process memlimiter) instead of letting the request through
// unlimited — security.md §5.6 [O], "fall back to a per-process in-memory
// limiter instead of no limit".
//
// It is its own package because adapters do not import each other: it wraps
// any two core.RateLimiter values, and cmd/cueapi wires redislimiter.Limiter
// and memlimiter.Limiter into it. It does not log; callers that want to
// report the degradation poll Degraded.
//
// What degraded mode does not promise: the fallback's buckets are per
// process and start empty, so during an outage each replica allows up to the
// limit on its own, and requests accepted by the fallback are not known to
// the primary once it recovers (nor the other way round).
package failoverlimiter

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/cueapi/cueapi/core"
)

var _ core.RateLimiter = (*Limiter)(nil)

// Config tunes a Limiter. The zero value tries the primary on every call.
type Config struct {
	// RetryPrimaryAfter is how long, measured with the "now" the caller
	// passes, calls skip the primary after it failed. It spares every
	// request the primary's connect timeout while Redis is down. Zero: try
	// the primary every time.
	RetryPrimaryAfter time.Duration
}

// Limiter answers from Primary and falls back to Fallback for any call whose
// primary attempt fails (or is skipped during RetryPrimaryAfter). Safe for
// concurrent use when both limiters are.
type Limiter struct {
	primary, fallback core.RateLimiter
	retryAfter        time.Duration
	// failedAt is the UnixNano "now" of the last primary failure, 0 while
	// the primary is healthy.
	failedAt atomic.Int64
}

// New returns a Limiter over primary and fallback. It panics on a nil
// limiter (a wiring error).
func New(primary, fallback core.RateLimiter, cfg Config) *Limiter {
	if primary == nil || fallback == nil {
		panic("failoverlimiter: nil limiter")
	}
	return &Limiter{primary: primary, fallback: fallback, retryAfter: cfg.RetryPrimaryAfter}
}

// Allow asks the primary and, if it fails or is being skipped, the fallback
// (see core.RateLimiter). It returns an error only when the fallback fails
// too.
func (l *Limiter) Allow(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (core.RateDecision, error) {
	if l.usePrimary(now) {
		d, err := l.primary.Allow(ctx, key, limit, window, now)
		if err == nil {
			l.failedAt.Store(0)
			return d, nil
		}
		l.markFailed(now)
	}
	return l.fallback.Allow(ctx, key, limit, window, now)
}

// Count asks the primary and, if it fails or is being skipped, the fallback.
// It returns an error only when the fallback fails too.
func (l *Limiter) Count(ctx context.Context, key string, window time.Duration, now time.Time) (int, error) {
	if l.usePrimary(now) {
		n, err := l.primary.Count(ctx, key, window, now)
		if err == nil {
			l.failedAt.Store(0)
			return n, nil
		}
		l.markFailed(now)
	}
	return l.fallback.Count(ctx, key, window, now)
}

// Degraded reports whether the last attempt on the primary failed, i.e.
// decisions currently come from the fallback. Cheap (one atomic load).
func (l *Limiter) Degraded() bool {
	return l.failedAt.Load() != 0
}

func (l *Limiter) usePrimary(now time.Time) bool {
	failed := l.failedAt.Load()
	return failed == 0 || now.UnixNano()-failed >= int64(l.retryAfter)
}

func (l *Limiter) markFailed(now time.Time) {
	ns := now.UnixNano()
	if ns == 0 {
		ns = 1 // 0 means healthy
	}
	l.failedAt.Store(ns)
}
