package redislimiter_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/cueapi/cueapi/adapters/redislimiter"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/coretest"
)

var _ core.RateLimiter = (*redislimiter.Limiter)(nil)

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

// testPrefix returns a random key prefix and deletes its keys at cleanup, so
// parallel tests never see each other's keys.
func testPrefix(tb testing.TB, client *redis.Client) string {
	tb.Helper()
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
	return prefix
}

// storedRequests reads bucket key as Redis holds it: the number of requests
// its members carry and the number of request members. It fails the test
// unless the count member "#" equals that number (negated) and every request
// member has a positive score.
func storedRequests(tb testing.TB, client *redis.Client, key string) (requests, members int) {
	tb.Helper()
	zs, err := client.ZRangeWithScores(tb.Context(), key, 0, -1).Result()
	require.NoError(tb, err)
	count := 0.0
	for _, z := range zs {
		m := z.Member.(string)
		if m == "#" {
			count = -z.Score
			continue
		}
		require.Positive(tb, z.Score, m)
		w := 1
		if i := strings.LastIndexByte(m, 'x'); i >= 0 {
			w, err = strconv.Atoi(m[i+1:])
			require.NoError(tb, err, m)
		}
		requests += w
		members++
	}
	require.Equal(tb, float64(requests), count, "the count member equals the requests stored")
	return requests, members
}

func newTestLimiter(tb testing.TB) (*redislimiter.Limiter, *redis.Client, string) {
	tb.Helper()
	client := testClient(tb, testRedisURL(tb))
	prefix := testPrefix(tb, client)
	return redislimiter.New(client, prefix), client, prefix
}

var _ core.Pinger = (*redislimiter.Limiter)(nil)

func TestLimiterPing(t *testing.T) {
	t.Parallel()
	l, _, _ := newTestLimiter(t)
	require.NoError(t, l.Ping(t.Context()))
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	coretest.RunLimiterContract(t, func(t *testing.T) core.RateLimiter {
		l, _, _ := newTestLimiter(t)
		return l
	})
}

func BenchmarkLimiter(b *testing.B) {
	coretest.BenchLimiter(b, func(b *testing.B) core.RateLimiter {
		l, _, _ := newTestLimiter(b)
		return l
	})
}

func TestLimiter_Redis(t *testing.T) {
	t.Parallel()

	const window = time.Minute
	epoch := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

	t.Run("ReturnsErrorWhenRedisIsDown", func(t *testing.T) {
		t.Parallel()
		client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second})
		t.Cleanup(func() { _ = client.Close() })
		l := redislimiter.New(client, "x:")

		require.ErrorContains(t, l.Ping(t.Context()), "redislimiter: ping")
		_, err := l.Allow(t.Context(), "k", 1, window, epoch)
		require.ErrorContains(t, err, "redislimiter: allow")
		_, err = l.Count(t.Context(), "k", window, epoch)
		require.ErrorContains(t, err, "redislimiter: count")
	})

	t.Run("RejectsNonPositiveWindow", func(t *testing.T) {
		t.Parallel()
		l, _, _ := newTestLimiter(t)

		_, err := l.Allow(t.Context(), "k", 1, 0, epoch)
		require.Error(t, err)
		_, err = l.Count(t.Context(), "k", 0, epoch)
		require.Error(t, err)
	})

	t.Run("StoresBucketUnderPrefixWithExpiry", func(t *testing.T) {
		t.Parallel()
		l, client, prefix := newTestLimiter(t)

		for range 3 {
			d, err := l.Allow(t.Context(), "ip:192.0.2.7", 10, window, epoch)
			require.NoError(t, err)
			require.True(t, d.Allowed)
		}
		key := prefix + "ratelimit2:ip:192.0.2.7"
		members, err := client.ZRangeByScoreWithScores(t.Context(), key, &redis.ZRangeBy{Min: "(0", Max: "+inf"}).Result()
		require.NoError(t, err)
		require.Len(t, members, 3, "equal timestamps still give distinct members")
		for _, m := range members {
			require.Equal(t, float64(epoch.UnixMicro()), m.Score)
			require.True(t, strings.HasPrefix(m.Member.(string), "1735787045000000:"), m.Member)
		}
		n, _ := storedRequests(t, client, key)
		require.Equal(t, 3, n)

		ttl, err := client.PTTL(t.Context(), key).Result()
		require.NoError(t, err)
		require.Greater(t, ttl, window)
		require.LessOrEqual(t, ttl, window+10*time.Second)
	})

	t.Run("RejectionDoesNotTouchBucket", func(t *testing.T) {
		t.Parallel()
		l, client, prefix := newTestLimiter(t)
		key := prefix + "ratelimit2:k"

		_, err := l.Allow(t.Context(), "k", 1, window, epoch)
		require.NoError(t, err)
		require.NoError(t, client.PExpire(t.Context(), key, 5*time.Second).Err())

		d, err := l.Allow(t.Context(), "k", 1, window, epoch.Add(time.Second))
		require.NoError(t, err)
		require.False(t, d.Allowed)
		n, _ := storedRequests(t, client, key)
		require.Equal(t, 1, n)
		ttl, err := client.PTTL(t.Context(), key).Result()
		require.NoError(t, err)
		require.LessOrEqual(t, ttl, 5*time.Second, "a rejection does not extend the key's life")
	})
}
