package coretest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

// limiterWindow is the window every limiter case uses (security.md §5.1).
const limiterWindow = 60 * time.Second

// limiterEpoch is the instant the limiter cases start at: microsecond
// aligned, as every clock in cueapi is.
var limiterEpoch = time.Date(2025, 3, 14, 15, 9, 26, 535_897_000, time.UTC)

// RunLimiterContract runs the core.RateLimiter contract against the limiters
// newLimiter builds. Every subtest calls newLimiter once, runs in parallel and
// must get an empty limiter (e.g. a fresh Redis key prefix).
//
// The contract (security.md §5.1–5.4, api.md §1.10): a request is allowed iff
// fewer than limit requests were accepted in (now−window, now]; rejected
// requests are not recorded. Allowed: Remaining = max(0, limit − accepted
// including this one), ResetAt = now+window, RetryAfter = 0. Rejected:
// Remaining 0, ResetAt = oldest accepted in the window + window, RetryAfter =
// that distance rounded up to whole seconds, within [1s, window]. Count is
// the number accepted in the window ending now and records nothing.
func RunLimiterContract(t *testing.T, newLimiter func(t *testing.T) core.RateLimiter) {
	t.Helper()

	type testBundle struct {
		ctx     context.Context
		clock   *StubClock
		limiter core.RateLimiter
	}

	setup := func(t *testing.T) *testBundle {
		t.Helper()
		return &testBundle{
			ctx:     t.Context(),
			clock:   NewStubClock(limiterEpoch),
			limiter: newLimiter(t),
		}
	}

	allow := func(t *testing.T, bundle *testBundle, key string, limit int) core.RateDecision {
		t.Helper()
		d, err := bundle.limiter.Allow(bundle.ctx, key, limit, limiterWindow, bundle.clock.Now())
		require.NoError(t, err)
		return d
	}

	count := func(t *testing.T, bundle *testBundle, key string) int {
		t.Helper()
		n, err := bundle.limiter.Count(bundle.ctx, key, limiterWindow, bundle.clock.Now())
		require.NoError(t, err)
		return n
	}

	requireAllowed := func(t *testing.T, d core.RateDecision, limit, remaining int, now time.Time) {
		t.Helper()
		require.True(t, d.Allowed, "decision %+v", d)
		require.Equal(t, limit, d.Limit)
		require.Equal(t, remaining, d.Remaining)
		require.WithinDuration(t, now.Add(limiterWindow), d.ResetAt, 0)
		require.Zero(t, d.RetryAfter)
	}

	requireRejected := func(t *testing.T, d core.RateDecision, limit int, resetAt time.Time, retryAfter time.Duration) {
		t.Helper()
		require.False(t, d.Allowed, "decision %+v", d)
		require.Equal(t, limit, d.Limit)
		require.Zero(t, d.Remaining)
		require.WithinDuration(t, resetAt, d.ResetAt, 0)
		require.Equal(t, retryAfter, d.RetryAfter)
	}

	t.Run("AllowsUpToLimit", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)

		const limit = 5
		for i := range limit {
			d := allow(t, bundle, "tenant", limit)
			requireAllowed(t, d, limit, limit-1-i, bundle.clock.Now())
			bundle.clock.Advance(time.Second)
		}
		d := allow(t, bundle, "tenant", limit)
		require.False(t, d.Allowed)
	})

	t.Run("ConcurrentAllowsNeverExceedLimit", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)

		const (
			limit      = 10
			goroutines = 50
		)
		var (
			wg        sync.WaitGroup
			mu        sync.Mutex
			remaining []int
			rejected  atomic.Int32
			start     = make(chan struct{})
			now       = bundle.clock.Now()
		)
		for range goroutines {
			wg.Go(func() {
				<-start
				d, err := bundle.limiter.Allow(bundle.ctx, "hot", limit, limiterWindow, now)
				if err != nil {
					t.Errorf("Allow: %v", err)
					return
				}
				if !d.Allowed {
					rejected.Add(1)
					return
				}
				mu.Lock()
				remaining = append(remaining, d.Remaining)
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()

		// Exactly limit accepted, and each saw a distinct position in the
		// window: the check and the record were one atomic step.
		slices.Sort(remaining)
		require.Equal(t, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, remaining)
		require.Equal(t, int32(goroutines-limit), rejected.Load())
		require.Equal(t, limit, count(t, bundle, "hot"))
	})

	t.Run("CountReportsAccepted", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)

		require.Zero(t, count(t, bundle, "unknown"))

		const limit = 3
		for range 5 {
			allow(t, bundle, "tenant", limit)
			bundle.clock.Advance(10 * time.Second)
		}
		// Five tries at +0s … +40s, three accepted (+0s, +10s, +20s); now +50s.
		require.Equal(t, limit, count(t, bundle, "tenant"))
		// Counting records nothing.
		require.Equal(t, limit, count(t, bundle, "tenant"))

		bundle.clock.Set(limiterEpoch.Add(limiterWindow))
		require.Equal(t, 2, count(t, bundle, "tenant"), "the +0s request left the window at +60s")
		bundle.clock.Set(limiterEpoch.Add(limiterWindow + 20*time.Second))
		require.Zero(t, count(t, bundle, "tenant"))
		require.Zero(t, count(t, bundle, "unknown"))
	})

	t.Run("KeysAreIndependent", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)

		const limit = 2
		allow(t, bundle, "tenant-a", limit)
		allow(t, bundle, "tenant-a", limit)
		require.False(t, allow(t, bundle, "tenant-a", limit).Allowed)

		requireAllowed(t, allow(t, bundle, "tenant-b", limit), limit, 1, bundle.clock.Now())
		requireAllowed(t, allow(t, bundle, "ip:192.0.2.1", limit), limit, 1, bundle.clock.Now())
		require.Equal(t, 2, count(t, bundle, "tenant-a"))
		require.Equal(t, 1, count(t, bundle, "tenant-b"))
		require.Equal(t, 1, count(t, bundle, "ip:192.0.2.1"))
	})

	t.Run("RejectedRequestsAreNotCounted", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)

		const limit = 3
		for i := range limit {
			requireAllowed(t, allow(t, bundle, "tenant", limit), limit, limit-1-i, bundle.clock.Now())
			bundle.clock.Advance(time.Second)
		}
		// Accepted at +0s, +1s, +2s. Hammer until just before +60s.
		for range 57 {
			requireRejected(t, allow(t, bundle, "tenant", limit), limit,
				limiterEpoch.Add(limiterWindow), limiterEpoch.Add(limiterWindow).Sub(bundle.clock.Now()))
			bundle.clock.Advance(time.Second)
		}
		bundle.clock.Set(limiterEpoch.Add(limiterWindow - time.Microsecond))
		requireRejected(t, allow(t, bundle, "tenant", limit), limit, limiterEpoch.Add(limiterWindow), time.Second)
		require.Equal(t, limit, count(t, bundle, "tenant"))

		// Exactly when the oldest accepted request leaves, one slot frees —
		// not one more, however many were rejected meanwhile.
		bundle.clock.Set(limiterEpoch.Add(limiterWindow))
		requireAllowed(t, allow(t, bundle, "tenant", limit), limit, 0, bundle.clock.Now())
		requireRejected(t, allow(t, bundle, "tenant", limit), limit,
			limiterEpoch.Add(limiterWindow+time.Second), time.Second)
		require.Equal(t, limit, count(t, bundle, "tenant"))
	})

	t.Run("RejectsOverLimitWithRetryAfter", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)

		const limit = 3
		for range limit {
			allow(t, bundle, "tenant", limit)
			bundle.clock.Advance(10 * time.Second)
		}
		oldest := limiterEpoch
		resetAt := oldest.Add(limiterWindow)

		// +30s: the oldest (+0s) leaves at +60s, 30 s from now.
		requireRejected(t, allow(t, bundle, "tenant", limit), limit, resetAt, 30*time.Second)

		// Fractions of a second round up, so a client that waits RetryAfter
		// is served.
		bundle.clock.Set(oldest.Add(30*time.Second + 400*time.Millisecond))
		requireRejected(t, allow(t, bundle, "tenant", limit), limit, resetAt, 30*time.Second)

		// Never below one second.
		bundle.clock.Set(resetAt.Add(-time.Millisecond))
		requireRejected(t, allow(t, bundle, "tenant", limit), limit, resetAt, time.Second)

		// A limit of zero rejects everything and never exceeds the window.
		d := allow(t, bundle, "closed", 0)
		require.False(t, d.Allowed)
		require.Zero(t, d.Remaining)
		require.GreaterOrEqual(t, d.RetryAfter, time.Second)
		require.LessOrEqual(t, d.RetryAfter, limiterWindow)
		require.Zero(t, count(t, bundle, "closed"))
	})

	t.Run("WindowSlides", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)

		const limit = 2
		allow(t, bundle, "tenant", limit) // +0s
		bundle.clock.Advance(20 * time.Second)
		allow(t, bundle, "tenant", limit) // +20s
		bundle.clock.Advance(20 * time.Second)
		require.False(t, allow(t, bundle, "tenant", limit).Allowed) // +40s

		bundle.clock.Set(limiterEpoch.Add(limiterWindow)) // +60s: +0s left
		requireAllowed(t, allow(t, bundle, "tenant", limit), limit, 0, bundle.clock.Now())
		requireRejected(t, allow(t, bundle, "tenant", limit), limit,
			limiterEpoch.Add(20*time.Second+limiterWindow), 20*time.Second)

		// A whole window later the bucket is empty again.
		bundle.clock.Advance(limiterWindow)
		require.Zero(t, count(t, bundle, "tenant"))
		requireAllowed(t, allow(t, bundle, "tenant", limit), limit, 1, bundle.clock.Now())
	})
}

// BenchLimiter benchmarks the limiters newLimiter builds, under
// b.RunParallel: many distinct keys, one hot key shared by every goroutine,
// and Count over a full bucket. The clock advances one millisecond per
// operation so the window keeps sliding.
func BenchLimiter(b *testing.B, newLimiter func(b *testing.B) core.RateLimiter) {
	b.Helper()

	type op func(ctx context.Context, l core.RateLimiter, i int64, now time.Time) error

	run := func(b *testing.B, l core.RateLimiter, fn op) {
		b.Helper()
		ctx := b.Context()
		var ticks atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := ticks.Add(1)
				if err := fn(ctx, l, i, limiterEpoch.Add(time.Duration(i)*time.Millisecond)); err != nil {
					b.Errorf("limiter: %v", err)
					return
				}
			}
		})
	}

	b.Run("AllowDistinctKeys", func(b *testing.B) {
		keys := make([]string, 10_000)
		for i := range keys {
			keys[i] = fmt.Sprintf("tenant-%d", i)
		}
		run(b, newLimiter(b), func(ctx context.Context, l core.RateLimiter, i int64, now time.Time) error {
			_, err := l.Allow(ctx, keys[i%int64(len(keys))], 60, limiterWindow, now)
			return err
		})
	})

	b.Run("AllowHotKey", func(b *testing.B) {
		run(b, newLimiter(b), func(ctx context.Context, l core.RateLimiter, _ int64, now time.Time) error {
			_, err := l.Allow(ctx, "hot", 1000, limiterWindow, now)
			return err
		})
	})

	b.Run("CountFullBucket", func(b *testing.B) {
		l := newLimiter(b)
		for i := range 1000 {
			if _, err := l.Allow(b.Context(), "hot", 1000, limiterWindow, limiterEpoch.Add(time.Duration(i)*time.Microsecond)); err != nil {
				b.Fatalf("Allow: %v", err)
			}
		}
		run(b, l, func(ctx context.Context, l core.RateLimiter, _ int64, now time.Time) error {
			_, err := l.Count(ctx, "hot", limiterWindow, now)
			return err
		})
	})
}
