package authcache

import (
	"context"
	"sync"
	"time"

	"github.com/cueapi/cueapi/core"
)

var _ core.AuthCache = (*Failover)(nil)

// DefaultRetryAfter is how long a Failover skips its cache after a failure
// when FailoverConfig.RetryAfter is zero (the rate limiter's backoff too).
const DefaultRetryAfter = 5 * time.Second

// maxPendingInvalidations bounds the invalidations a Failover remembers
// while its cache is unreachable. Past it, it forgets them and distrusts
// every entry for TombstoneTTL after recovery instead.
const maxPendingInvalidations = 10_000

// FailoverConfig tunes a Failover.
type FailoverConfig struct {
	// RetryAfter is how long, by the Failover's clock, Get and Put skip the
	// cache after it failed. DefaultRetryAfter when zero.
	RetryAfter time.Duration
}

// Failover wraps a shared cache (Redis) so that an unreachable cache costs
// one failed round trip per RetryAfter rather than one per request, like
// the rate limiter's failover. After a failure, and until RetryAfter has
// passed, Get answers a miss (the caller authenticates from the store,
// which is always safe) and Put does nothing; the next call after that
// probes the cache again. Errors are reported in one WARN per outage and
// one INFO at recovery, not returned, so callers log nothing per request.
//
// Stale entries: while the cache is skipped no entry is served, so a key
// rotated or revoked meanwhile is refused from the store. An Invalidate that
// fails is returned as an error (the caller's residual-window handling,
// security.md §1.5) and also remembered: at recovery the Failover replays
// it before serving any entry, and until then answers misses for that hash.
// Invalidate always tries the cache, even during backoff.
type Failover struct {
	inner      core.AuthCache
	clock      core.Clock
	log        core.Logger
	retryAfter time.Duration

	mu sync.Mutex
	// failedAt is when the cache last failed; zero while it is healthy.
	failedAt time.Time
	// since is when the current outage began; skipped counts the calls
	// answered without the cache during it.
	since   time.Time
	skipped int
	// pending holds invalidations that failed, to replay at recovery.
	pending map[string]struct{}
	// distrustUntil: entries are not served before it (pending overflowed).
	distrustUntil time.Time
}

// NewFailover wraps inner. It panics on a nil dependency (a wiring error).
func NewFailover(inner core.AuthCache, clock core.Clock, log core.Logger, cfg FailoverConfig) *Failover {
	if inner == nil || clock == nil || log == nil {
		panic("authcache: nil failover dependency")
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = DefaultRetryAfter
	}
	return &Failover{inner: inner, clock: clock, log: log, retryAfter: cfg.RetryAfter, pending: map[string]struct{}{}}
}

// Degraded reports whether the cache failed on its last use, i.e. requests
// currently authenticate from the store.
func (f *Failover) Degraded() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.failedAt.IsZero()
}

// Get returns the cached user, or a miss while the cache is unreachable or
// being skipped. It returns an error only when ctx is done.
func (f *Failover) Get(ctx context.Context, keyHash string) (*core.User, bool, error) {
	if !f.usable(ctx) {
		return nil, false, nil
	}
	u, ok, err := f.inner.Get(ctx, keyHash)
	if err != nil {
		return nil, false, f.failed(ctx, err)
	}
	f.healthy()
	if !ok || !f.trusted(keyHash) {
		return nil, false, nil
	}
	return u, true, nil
}

// Put caches u unless the cache is being skipped. It returns an error only
// when ctx is done.
func (f *Failover) Put(ctx context.Context, keyHash string, u *core.User, ttl time.Duration) error {
	if !f.usable(ctx) {
		return nil
	}
	if err := f.inner.Put(ctx, keyHash, u, ttl); err != nil {
		return f.failed(ctx, err)
	}
	f.healthy()
	return nil
}

// Invalidate always tries the cache. On failure it remembers keyHash for
// replay at recovery and returns the error.
func (f *Failover) Invalidate(ctx context.Context, keyHash string) error {
	err := f.inner.Invalidate(ctx, keyHash)
	if err != nil {
		f.mu.Lock()
		if len(f.pending) < maxPendingInvalidations {
			f.pending[keyHash] = struct{}{}
		} else {
			f.distrustUntil = f.clock.Now().Add(TombstoneTTL)
		}
		f.mu.Unlock()
		_ = f.failed(ctx, err)
		return err
	}
	f.mu.Lock()
	delete(f.pending, keyHash)
	f.mu.Unlock()
	return nil
}

// usable reports whether to try the cache now: it is healthy, or its
// backoff has passed and the replay of failed invalidations succeeded.
func (f *Failover) usable(ctx context.Context) bool {
	f.mu.Lock()
	if f.failedAt.IsZero() && len(f.pending) == 0 {
		f.mu.Unlock()
		return true
	}
	if !f.failedAt.IsZero() && f.clock.Now().Sub(f.failedAt) < f.retryAfter {
		f.skipped++
		f.mu.Unlock()
		return false
	}
	replay := make([]string, 0, len(f.pending))
	for h := range f.pending {
		replay = append(replay, h)
	}
	f.mu.Unlock()
	for _, h := range replay {
		if err := f.inner.Invalidate(ctx, h); err != nil {
			_ = f.failed(ctx, err)
			return false
		}
		f.mu.Lock()
		delete(f.pending, h)
		f.mu.Unlock()
	}
	return true
}

// trusted reports whether an entry for keyHash may be served.
func (f *Failover) trusted(keyHash string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, pending := f.pending[keyHash]
	return !pending && !f.clock.Now().Before(f.distrustUntil)
}

// failed records a cache failure (not a cancelled request) and returns the
// error to give the caller: ctx's error when ctx is done, else nil.
func (f *Failover) failed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	now := f.clock.Now()
	f.mu.Lock()
	first := f.failedAt.IsZero()
	f.failedAt = now
	if first {
		f.since, f.skipped = now, 0
	}
	f.mu.Unlock()
	if first {
		f.log.Warn("auth cache unreachable; authenticating from the store",
			"retry_after", f.retryAfter.String(), "err", err.Error())
	}
	return nil
}

// healthy records a successful use, logging the end of an outage.
func (f *Failover) healthy() {
	f.mu.Lock()
	if f.failedAt.IsZero() {
		f.mu.Unlock()
		return
	}
	since, skipped := f.since, f.skipped
	f.failedAt = time.Time{}
	f.mu.Unlock()
	f.log.Info("auth cache reachable again",
		"outage", f.clock.Now().Sub(since).String(), "requests_from_store", skipped)
}
