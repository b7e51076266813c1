package coretest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

// authCacheEpoch is the instant the auth cache cases start at.
var authCacheEpoch = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// authCacheTTL is the TTL the cases cache users for (security.md §1.3).
const authCacheTTL = 300 * time.Second

// AuthCacheOpts describes what an auth cache adapter can be tested for.
type AuthCacheOpts struct {
	// ClockControlsTTL is set when entries expire by the clock handed to the
	// constructor, so the suite can expire them by advancing it. Adapters
	// whose TTLs run on another clock (Redis' own) test expiry themselves.
	ClockControlsTTL bool
}

// RunAuthCacheContract runs the core.AuthCache contract. newCache must return
// two caches sharing one backend — two replicas: for Redis two clients on
// one key prefix, for memory the same instance twice — both reading time
// from clock. Every subtest calls newCache once and runs in parallel.
//
// The contract (security.md §1.3–1.5): Put then Get returns an equal copy of
// the user until ttl passes, on either cache; a hit does not extend the TTL.
// After Invalidate(h) returns on either cache, Get(h) misses on both — and
// keeps missing even when a slow authenticator that read the database before
// the invalidation calls Put(h, staleUser) after it (the residual window
// marked [F] in §1.5).
func RunAuthCacheContract(t *testing.T, newCache func(t *testing.T, clock core.Clock) (a, b core.AuthCache), opts AuthCacheOpts) {
	t.Helper()

	type testBundle struct {
		ctx   context.Context
		clock *StubClock
		a, b  core.AuthCache
	}

	setup := func(t *testing.T) *testBundle {
		t.Helper()
		clock := NewStubClock(authCacheEpoch)
		a, b := newCache(t, clock)
		return &testBundle{ctx: t.Context(), clock: clock, a: a, b: b}
	}

	requireHit := func(t *testing.T, c core.AuthCache, hash string, want *core.User) {
		t.Helper()
		got, ok, err := c.Get(t.Context(), hash)
		require.NoError(t, err)
		require.True(t, ok, "want a hit for %s", hash)
		require.Equal(t, want, got)
	}

	requireMiss := func(t *testing.T, c core.AuthCache, hash string) {
		t.Helper()
		got, ok, err := c.Get(t.Context(), hash)
		require.NoError(t, err)
		require.False(t, ok, "want a miss for %s", hash)
		require.Nil(t, got)
	}

	t.Run("ConcurrentGetPutInvalidateIsRaceFree", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)

		const (
			hashes  = 4
			putters = 8
			checks  = 100
		)
		var (
			wg         sync.WaitGroup
			stop       = make(chan struct{})
			violations atomic.Int32
			failures   atomic.Int32
			firstErr   atomic.Value
		)
		fail := func(err error) {
			failures.Add(1)
			firstErr.CompareAndSwap(nil, err)
		}
		caches := []core.AuthCache{bundle.a, bundle.b}

		// Slow authenticators keep writing stale users for every hash on
		// both replicas, and readers keep reading.
		for i := range putters {
			wg.Go(func() {
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					h := authCacheHash(n % hashes)
					c := caches[(i+n)%2]
					if err := c.Put(bundle.ctx, h, AuthCacheUser(h), authCacheTTL); err != nil {
						fail(err)
						return
					}
					if _, _, err := c.Get(bundle.ctx, h); err != nil {
						fail(err)
						return
					}
				}
			})
		}

		// Meanwhile each hash is invalidated once; from then on neither
		// replica may ever answer a hit for it.
		var invalidators sync.WaitGroup
		for i := range hashes {
			invalidators.Go(func() {
				h := authCacheHash(i)
				if err := caches[i%2].Invalidate(bundle.ctx, h); err != nil {
					fail(err)
					return
				}
				for range checks {
					for _, c := range caches {
						u, ok, err := c.Get(bundle.ctx, h)
						if err != nil {
							fail(err)
							return
						}
						if ok || u != nil {
							violations.Add(1)
						}
					}
				}
			})
		}
		invalidators.Wait()
		close(stop)
		wg.Wait()

		require.Zero(t, failures.Load(), "first error: %v", firstErr.Load())
		require.Zero(t, violations.Load(), "hits after Invalidate returned")
		for i := range hashes {
			requireMiss(t, bundle.a, authCacheHash(i))
			requireMiss(t, bundle.b, authCacheHash(i))
		}
	})

	t.Run("ExpiresAfterTTL", func(t *testing.T) {
		t.Parallel()
		if !opts.ClockControlsTTL {
			t.Skip("TTLs do not follow the injected clock; the adapter's own tests cover expiry")
		}
		bundle := setup(t)
		h := authCacheHash(1)
		u := AuthCacheUser(h)

		require.NoError(t, bundle.a.Put(bundle.ctx, h, u, authCacheTTL))
		bundle.clock.Advance(authCacheTTL - time.Microsecond)
		requireHit(t, bundle.a, h, u) // a hit does not extend the TTL…
		requireHit(t, bundle.b, h, u)
		bundle.clock.Advance(time.Microsecond)
		requireMiss(t, bundle.a, h) // …so the entry dies on schedule
		requireMiss(t, bundle.b, h)

		// Put again after expiry caches again.
		require.NoError(t, bundle.b.Put(bundle.ctx, h, u, time.Second))
		requireHit(t, bundle.a, h, u)
		bundle.clock.Advance(time.Second)
		requireMiss(t, bundle.a, h)
	})

	t.Run("InvalidateIsPerHash", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		h1, h2 := authCacheHash(1), authCacheHash(2)

		require.NoError(t, bundle.a.Put(bundle.ctx, h1, AuthCacheUser(h1), authCacheTTL))
		require.NoError(t, bundle.a.Put(bundle.ctx, h2, AuthCacheUser(h2), authCacheTTL))
		require.NoError(t, bundle.a.Invalidate(bundle.ctx, h1))

		requireMiss(t, bundle.b, h1)
		requireHit(t, bundle.b, h2, AuthCacheUser(h2))
		require.NoError(t, bundle.b.Put(bundle.ctx, h2, AuthCacheUser(h2), authCacheTTL))
		requireHit(t, bundle.a, h2, AuthCacheUser(h2))
	})

	t.Run("InvalidateOnOneIsSeenByOther", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		h := authCacheHash(1)
		u := AuthCacheUser(h)

		require.NoError(t, bundle.a.Put(bundle.ctx, h, u, authCacheTTL))
		requireHit(t, bundle.b, h, u)
		require.NoError(t, bundle.b.Invalidate(bundle.ctx, h))
		requireMiss(t, bundle.a, h)
		requireMiss(t, bundle.b, h)
	})

	t.Run("InvalidateUnknownSucceeds", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		h := authCacheHash(1)

		require.NoError(t, bundle.a.Invalidate(bundle.ctx, h))
		require.NoError(t, bundle.a.Invalidate(bundle.ctx, h))
		requireMiss(t, bundle.b, h)
	})

	t.Run("LatePutAfterInvalidateIsIgnored", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		h := authCacheHash(1)
		stale := AuthCacheUser(h)

		// Replica a authenticates the old key: it reads the user from the
		// database… then the key is rotated on replica b…
		require.NoError(t, bundle.b.Invalidate(bundle.ctx, h))
		// …and only now a's cache write lands.
		require.NoError(t, bundle.a.Put(bundle.ctx, h, stale, authCacheTTL))
		requireMiss(t, bundle.a, h)
		requireMiss(t, bundle.b, h)

		// However late, on either replica.
		bundle.clock.Advance(30 * time.Second)
		require.NoError(t, bundle.b.Put(bundle.ctx, h, stale, authCacheTTL))
		requireMiss(t, bundle.a, h)
		requireMiss(t, bundle.b, h)
	})

	t.Run("MissForUnknown", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)

		requireMiss(t, bundle.a, authCacheHash(1))
		requireMiss(t, bundle.b, authCacheHash(2))
	})

	t.Run("PutOverwrites", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		h := authCacheHash(1)
		u := AuthCacheUser(h)

		require.NoError(t, bundle.a.Put(bundle.ctx, h, u, authCacheTTL))
		changed := AuthCacheUser(h)
		changed.Plan = "pro"
		changed.RateLimitPerMinute = 600
		require.NoError(t, bundle.b.Put(bundle.ctx, h, changed, authCacheTTL))
		requireHit(t, bundle.a, h, changed)
	})

	t.Run("PutThenGetHits", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)

		full := authCacheHash(1)
		requireMiss(t, bundle.a, full)
		require.NoError(t, bundle.a.Put(bundle.ctx, full, AuthCacheUser(full), authCacheTTL))
		requireHit(t, bundle.a, full, AuthCacheUser(full))
		requireHit(t, bundle.b, full, AuthCacheUser(full))

		// Optional fields left nil stay nil.
		bare := authCacheHash(2)
		u := AuthCacheUser(bare)
		u.APIKeySealed, u.AlertWebhookURL, u.AlertSecretSealed = nil, nil, nil
		require.NoError(t, bundle.b.Put(bundle.ctx, bare, u, authCacheTTL))
		requireHit(t, bundle.a, bare, u)
	})

	t.Run("ReturnsCopies", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		h := authCacheHash(1)

		u := AuthCacheUser(h)
		require.NoError(t, bundle.a.Put(bundle.ctx, h, u, authCacheTTL))
		u.Email = "mutated@example.com"
		*u.AlertWebhookURL = "https://mutated.example.com"

		got, ok, err := bundle.a.Get(bundle.ctx, h)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, AuthCacheUser(h), got, "changing the user after Put does not change the cache")
		got.Plan = "mutated"
		*got.APIKeySealed = "mutated"
		requireHit(t, bundle.a, h, AuthCacheUser(h))
	})
}

// AuthCacheUser returns a user whose every field is set, derived from hash
// so that equal hashes give equal users. Times are UTC with microsecond
// precision.
func AuthCacheUser(hash string) *core.User {
	sealed := "sealed:key:" + hash[:8]
	alertURL := "https://alerts.example.com/" + hash[:8]
	alertSecret := "sealed:alert:" + hash[:8]
	return &core.User{
		ID:                    core.TenantID("0b6c1f9e-3c1a-4d5e-9f00-" + hash[:12]),
		Email:                 "user-" + hash[:8] + "@example.com",
		Slug:                  "user-" + hash[:8],
		APIKeyHash:            hash,
		APIKeyPrefix:          "cue_sk_" + hash[:5],
		APIKeySealed:          &sealed,
		Plan:                  "free",
		ActiveCueLimit:        10,
		MonthlyExecutionLimit: 300,
		RateLimitPerMinute:    60,
		WebhookSecretSealed:   "sealed:webhook:" + hash[:8],
		AlertWebhookURL:       &alertURL,
		AlertSecretSealed:     &alertSecret,
		CreatedAt:             time.Date(2024, 12, 31, 23, 59, 59, 123_456_000, time.UTC),
		UpdatedAt:             time.Date(2025, 5, 30, 8, 7, 6, 654_321_000, time.UTC),
	}
}

// authCacheHash returns a 64-hex-digit key hash for n.
func authCacheHash(n int) string {
	return fmt.Sprintf("%064x", 0xc0ffee000+n)
}
