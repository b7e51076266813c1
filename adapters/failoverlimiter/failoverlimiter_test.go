package failoverlimiter_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/cueapi/cueapi/adapters/failoverlimiter"
	"github.com/cueapi/cueapi/adapters/memlimiter"
	"github.com/cueapi/cueapi/adapters/redislimiter"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/coretest"
)

var _ core.RateLimiter = (*failoverlimiter.Limiter)(nil)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// After a failed dial go-redis probes the address once more in the
		// background, for up to a second, even after Close.
		goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"))
}

// redisProbe checks once per test binary that Redis answers at
// TEST_REDIS_URL (default redis://127.0.0.1:6379/0), so that a missing Redis
// costs one connection attempt rather than one per test.
var redisProbe = sync.OnceValues(func() (string, error) {
	url := os.Getenv("TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		return url, err
	}
	opts.MaxRetries, opts.DialerRetries = -1, 1
	client := redis.NewClient(opts)
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return url, client.Ping(ctx).Err()
})

// testRedisURL returns TEST_REDIS_URL when Redis answers there. When it does
// not, the test fails under CI=true and skips otherwise.
func testRedisURL(tb testing.TB) string {
	tb.Helper()
	url, err := redisProbe()
	if err != nil {
		msg := "Redis at TEST_REDIS_URL=" + url + " is unreachable (" + err.Error() + "); start one or set TEST_REDIS_URL"
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return url
}

// testClient returns a new client for url, closed at cleanup.
func testClient(tb testing.TB, url string) *redis.Client {
	tb.Helper()
	opts, err := redis.ParseURL(url)
	require.NoError(tb, err, "TEST_REDIS_URL")
	client := redis.NewClient(opts)
	tb.Cleanup(func() { _ = client.Close() })
	return client
}

// testRedisLimiter returns a redislimiter on TEST_REDIS_URL under a random
// prefix whose keys are deleted at cleanup.
func testRedisLimiter(tb testing.TB) *redislimiter.Limiter {
	tb.Helper()
	client := testClient(tb, testRedisURL(tb))
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix := "cueapitest:" + hex.EncodeToString(b[:]) + ":"
	tb.Cleanup(func() {
		ctx := context.Background()
		iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
	})
	return redislimiter.New(client, prefix)
}

// deadRedisLimiter returns a redislimiter whose Redis refuses connections.
func deadRedisLimiter(tb testing.TB) *redislimiter.Limiter {
	tb.Helper()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second})
	tb.Cleanup(func() { _ = client.Close() })
	return redislimiter.New(client, "dead:")
}

func TestLimiter(t *testing.T) {
	t.Parallel()

	t.Run("HealthyPrimary", func(t *testing.T) {
		t.Parallel()
		coretest.RunLimiterContract(t, func(t *testing.T) core.RateLimiter {
			return failoverlimiter.New(testRedisLimiter(t), memlimiter.New(), failoverlimiter.Config{})
		})
	})

	t.Run("DeadPrimary", func(t *testing.T) {
		t.Parallel()
		coretest.RunLimiterContract(t, func(t *testing.T) core.RateLimiter {
			return failoverlimiter.New(deadRedisLimiter(t), memlimiter.New(),
				failoverlimiter.Config{RetryPrimaryAfter: time.Hour})
		})
	})
}

func BenchmarkLimiter(b *testing.B) {
	b.Run("HealthyPrimary", func(b *testing.B) {
		coretest.BenchLimiter(b, func(b *testing.B) core.RateLimiter {
			return failoverlimiter.New(testRedisLimiter(b), memlimiter.New(), failoverlimiter.Config{})
		})
	})
}

// flakyLimiter fails every call while down is set and counts its calls.
type flakyLimiter struct {
	core.RateLimiter
	down  atomic.Bool
	calls atomic.Int32
}

var errDown = errors.New("flaky: down")

func (f *flakyLimiter) Allow(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (core.RateDecision, error) {
	f.calls.Add(1)
	if f.down.Load() {
		return core.RateDecision{}, errDown
	}
	return f.RateLimiter.Allow(ctx, key, limit, window, now)
}

func (f *flakyLimiter) Count(ctx context.Context, key string, window time.Duration, now time.Time) (int, error) {
	f.calls.Add(1)
	if f.down.Load() {
		return 0, errDown
	}
	return f.RateLimiter.Count(ctx, key, window, now)
}

func TestLimiter_Failover(t *testing.T) {
	t.Parallel()

	const window = time.Minute
	epoch := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

	type testBundle struct {
		primary  *flakyLimiter
		fallback *flakyLimiter
		limiter  *failoverlimiter.Limiter
	}

	setup := func(t *testing.T, cfg failoverlimiter.Config) *testBundle {
		t.Helper()
		primary := &flakyLimiter{RateLimiter: memlimiter.New()}
		fallback := &flakyLimiter{RateLimiter: memlimiter.New()}
		return &testBundle{primary: primary, fallback: fallback, limiter: failoverlimiter.New(primary, fallback, cfg)}
	}

	t.Run("FallsBackAndStillLimits", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, failoverlimiter.Config{})
		bundle.primary.down.Store(true)

		for range 2 {
			d, err := bundle.limiter.Allow(t.Context(), "k", 2, window, epoch)
			require.NoError(t, err)
			require.True(t, d.Allowed)
		}
		d, err := bundle.limiter.Allow(t.Context(), "k", 2, window, epoch)
		require.NoError(t, err)
		require.False(t, d.Allowed, "degraded mode limits instead of failing open")
		require.True(t, bundle.limiter.Degraded())

		n, err := bundle.limiter.Count(t.Context(), "k", window, epoch)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		require.Equal(t, int32(4), bundle.primary.calls.Load(), "tries the primary on every call")
	})

	t.Run("RecoversWhenPrimaryAnswers", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, failoverlimiter.Config{})

		_, err := bundle.limiter.Allow(t.Context(), "k", 5, window, epoch)
		require.NoError(t, err)
		require.False(t, bundle.limiter.Degraded())

		bundle.primary.down.Store(true)
		_, err = bundle.limiter.Allow(t.Context(), "k", 5, window, epoch)
		require.NoError(t, err)
		require.True(t, bundle.limiter.Degraded())

		bundle.primary.down.Store(false)
		n, err := bundle.limiter.Count(t.Context(), "k", window, epoch)
		require.NoError(t, err)
		require.Equal(t, 1, n, "the primary's own count")
		require.False(t, bundle.limiter.Degraded())
	})

	t.Run("ReturnsErrorWhenBothFail", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, failoverlimiter.Config{})
		bundle.primary.down.Store(true)
		bundle.fallback.down.Store(true)

		_, err := bundle.limiter.Allow(t.Context(), "k", 5, window, epoch)
		require.ErrorIs(t, err, errDown)
		_, err = bundle.limiter.Count(t.Context(), "k", window, epoch)
		require.ErrorIs(t, err, errDown)
	})

	t.Run("SkipsPrimaryForRetryPrimaryAfter", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, failoverlimiter.Config{RetryPrimaryAfter: 5 * time.Second})
		bundle.primary.down.Store(true)

		_, err := bundle.limiter.Allow(t.Context(), "k", 5, window, epoch)
		require.NoError(t, err)
		require.Equal(t, int32(1), bundle.primary.calls.Load())

		bundle.primary.down.Store(false)
		_, err = bundle.limiter.Allow(t.Context(), "k", 5, window, epoch.Add(5*time.Second-time.Microsecond))
		require.NoError(t, err)
		require.Equal(t, int32(1), bundle.primary.calls.Load(), "still skipping the primary")
		require.True(t, bundle.limiter.Degraded())

		_, err = bundle.limiter.Allow(t.Context(), "k", 5, window, epoch.Add(5*time.Second))
		require.NoError(t, err)
		require.Equal(t, int32(2), bundle.primary.calls.Load())
		require.False(t, bundle.limiter.Degraded())
	})
}
