package authcache_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/cueapi/cueapi/adapters/authcache"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/coretest"
)

var (
	_ core.AuthCache = (*authcache.Memory)(nil)
	_ core.AuthCache = (*authcache.Redis)(nil)
)

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

// testPrefix returns a random key prefix and deletes its keys at cleanup.
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

func TestMemory(t *testing.T) {
	t.Parallel()
	coretest.RunAuthCacheContract(t, func(_ *testing.T, clock core.Clock) (a, b core.AuthCache) {
		m := authcache.NewMemory(clock)
		return m, m
	}, coretest.AuthCacheOpts{ClockControlsTTL: true})
}

func TestRedis(t *testing.T) {
	t.Parallel()
	coretest.RunAuthCacheContract(t, func(t *testing.T, clock core.Clock) (a, b core.AuthCache) {
		url := testRedisURL(t)
		clientA, clientB := testClient(t, url), testClient(t, url)
		prefix := testPrefix(t, clientA)
		return authcache.NewRedis(clientA, prefix, clock), authcache.NewRedis(clientB, prefix, clock)
	}, coretest.AuthCacheOpts{ClockControlsTTL: true})
}

var epoch = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func hashOf(n int) string { return fmt.Sprintf("%064x", n) }

func TestMemory_Bounds(t *testing.T) {
	t.Parallel()

	t.Run("DropsEntriesBeyondMax", func(t *testing.T) {
		t.Parallel()
		m := authcache.NewMemory(coretest.NewStubClock(epoch))

		for i := range authcache.MaxMemoryEntries + 100 {
			require.NoError(t, m.Put(t.Context(), hashOf(i), coretest.AuthCacheUser(hashOf(i)), time.Minute))
		}
		entries, _ := m.Len()
		require.Equal(t, authcache.MaxMemoryEntries, entries)
	})

	t.Run("RefusesPutsWhileADroppedTombstoneWouldLive", func(t *testing.T) {
		t.Parallel()
		clock := coretest.NewStubClock(epoch)
		m := authcache.NewMemory(clock)

		for i := range authcache.MaxMemoryEntries + 1 {
			require.NoError(t, m.Invalidate(t.Context(), hashOf(i)))
		}
		_, tombstones := m.Len()
		require.Equal(t, authcache.MaxMemoryEntries, tombstones)

		// One tombstone was dropped early; its hash must still refuse a
		// late Put, so every Put is refused until it would have expired.
		for i := range authcache.MaxMemoryEntries + 1 {
			h := hashOf(i)
			require.NoError(t, m.Put(t.Context(), h, coretest.AuthCacheUser(h), time.Minute))
		}
		h := hashOf(-1)
		require.NoError(t, m.Put(t.Context(), h, coretest.AuthCacheUser(h), time.Minute))
		_, ok, err := m.Get(t.Context(), h)
		require.NoError(t, err)
		require.False(t, ok)

		clock.Advance(authcache.TombstoneTTL)
		require.NoError(t, m.Put(t.Context(), h, coretest.AuthCacheUser(h), time.Minute))
		_, ok, err = m.Get(t.Context(), h)
		require.NoError(t, err)
		require.True(t, ok)
		_, tombstones = m.Len()
		require.Zero(t, tombstones, "expired tombstones are swept")
	})

	t.Run("SweepsExpiredEntries", func(t *testing.T) {
		t.Parallel()
		clock := coretest.NewStubClock(epoch)
		m := authcache.NewMemory(clock)

		for i := range 10 {
			require.NoError(t, m.Put(t.Context(), hashOf(i), coretest.AuthCacheUser(hashOf(i)), time.Minute))
		}
		clock.Advance(2 * time.Minute)
		require.NoError(t, m.Put(t.Context(), hashOf(99), coretest.AuthCacheUser(hashOf(99)), time.Minute))
		entries, _ := m.Len()
		require.Equal(t, 1, entries)
	})
}

func TestAuthCache_Tombstones(t *testing.T) {
	t.Parallel()

	t.Run("MemoryTombstoneExpiresAfterTombstoneTTL", func(t *testing.T) {
		t.Parallel()
		clock := coretest.NewStubClock(epoch)
		m := authcache.NewMemory(clock)
		h := hashOf(1)

		require.NoError(t, m.Invalidate(t.Context(), h))
		clock.Advance(authcache.TombstoneTTL - time.Microsecond)
		require.NoError(t, m.Put(t.Context(), h, coretest.AuthCacheUser(h), time.Minute))
		_, ok, err := m.Get(t.Context(), h)
		require.NoError(t, err)
		require.False(t, ok)

		clock.Advance(time.Microsecond)
		require.NoError(t, m.Put(t.Context(), h, coretest.AuthCacheUser(h), time.Minute))
		_, ok, err = m.Get(t.Context(), h)
		require.NoError(t, err)
		require.True(t, ok)
	})

	t.Run("NonPositiveTTLCachesNothing", func(t *testing.T) {
		t.Parallel()
		url := testRedisURL(t)
		client := testClient(t, url)
		prefix := testPrefix(t, client)
		clock := coretest.NewStubClock(epoch)
		h := hashOf(1)

		for _, c := range []core.AuthCache{authcache.NewMemory(clock), authcache.NewRedis(client, prefix, clock)} {
			require.NoError(t, c.Put(t.Context(), h, coretest.AuthCacheUser(h), 0))
			require.NoError(t, c.Put(t.Context(), h, coretest.AuthCacheUser(h), -time.Second))
			_, ok, err := c.Get(t.Context(), h)
			require.NoError(t, err)
			require.False(t, ok)
			require.Error(t, c.Put(t.Context(), h, nil, time.Minute))
		}
	})
}

func TestRedis_Storage(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		client *redis.Client
		prefix string
		cache  *authcache.Redis
	}

	setup := func(t *testing.T) *testBundle {
		t.Helper()
		client := testClient(t, testRedisURL(t))
		prefix := testPrefix(t, client)
		return &testBundle{client: client, prefix: prefix, cache: authcache.NewRedis(client, prefix, core.SystemClock{})}
	}

	t.Run("EntryExpiresByRedisTTL", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		h := hashOf(1)

		require.NoError(t, bundle.cache.Put(t.Context(), h, coretest.AuthCacheUser(h), 300*time.Second))
		ttl, err := bundle.client.PTTL(t.Context(), bundle.prefix+"auth:"+h).Result()
		require.NoError(t, err)
		require.Greater(t, ttl, 299*time.Second)
		require.LessOrEqual(t, ttl, 300*time.Second)

		// A hit does not extend it.
		require.NoError(t, bundle.client.PExpire(t.Context(), bundle.prefix+"auth:"+h, 10*time.Second).Err())
		_, ok, err := bundle.cache.Get(t.Context(), h)
		require.NoError(t, err)
		require.True(t, ok)
		ttl, err = bundle.client.PTTL(t.Context(), bundle.prefix+"auth:"+h).Result()
		require.NoError(t, err)
		require.LessOrEqual(t, ttl, 10*time.Second)
	})

	t.Run("InvalidateWritesTombstoneAndDeletesEntry", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		h := hashOf(1)

		require.NoError(t, bundle.cache.Put(t.Context(), h, coretest.AuthCacheUser(h), time.Minute))
		require.NoError(t, bundle.cache.Invalidate(t.Context(), h))

		n, err := bundle.client.Exists(t.Context(), bundle.prefix+"auth:"+h).Result()
		require.NoError(t, err)
		require.Zero(t, n)
		ttl, err := bundle.client.PTTL(t.Context(), bundle.prefix+"authdead:"+h).Result()
		require.NoError(t, err)
		require.Greater(t, ttl, authcache.TombstoneTTL-time.Minute)
		require.LessOrEqual(t, ttl, authcache.TombstoneTTL)

		// Once the tombstone is gone the hash caches again.
		require.NoError(t, bundle.client.Del(t.Context(), bundle.prefix+"authdead:"+h).Err())
		require.NoError(t, bundle.cache.Put(t.Context(), h, coretest.AuthCacheUser(h), time.Minute))
		_, ok, err := bundle.cache.Get(t.Context(), h)
		require.NoError(t, err)
		require.True(t, ok)
	})

	t.Run("StoresJSONWithoutPlaintextSecrets", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		h := hashOf(1)
		u := coretest.AuthCacheUser(h)

		require.NoError(t, bundle.cache.Put(t.Context(), h, u, time.Minute))
		raw, err := bundle.client.Get(t.Context(), bundle.prefix+"auth:"+h).Bytes()
		require.NoError(t, err)
		var fields map[string]any
		require.NoError(t, json.Unmarshal(raw, &fields))
		require.Equal(t, string(u.ID), fields["id"])
		require.Equal(t, u.Email, fields["email"])
		require.Equal(t, u.Plan, fields["plan"])
		require.InDelta(t, u.RateLimitPerMinute, fields["rate_limit_per_minute"], 0)
		require.Equal(t, *u.APIKeySealed, fields["api_key_sealed"], "only the sealed form")
		require.NotContains(t, fields, "api_key")
	})

	t.Run("ForeignEntryIsAMiss", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		h := hashOf(1)

		// The reference server's format (security.md §1.3).
		require.NoError(t, bundle.client.Set(t.Context(), bundle.prefix+"auth:"+h,
			`{"id":"u1","email":"a@example.com","plan":"free","active_cue_limit":10,"monthly_execution_limit":300,"rate_limit_per_minute":60}`,
			time.Minute).Err())
		_, ok, err := bundle.cache.Get(t.Context(), h)
		require.NoError(t, err)
		require.False(t, ok)

		require.NoError(t, bundle.client.Set(t.Context(), bundle.prefix+"auth:"+h, "not json", time.Minute).Err())
		_, ok, err = bundle.cache.Get(t.Context(), h)
		require.ErrorContains(t, err, "authcache: get: decode")
		require.False(t, ok)
	})

	t.Run("ReturnsErrorsWhenRedisIsDown", func(t *testing.T) {
		t.Parallel()
		client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second})
		t.Cleanup(func() { _ = client.Close() })
		c := authcache.NewRedis(client, "dead:", core.SystemClock{})
		h := hashOf(1)

		_, ok, err := c.Get(t.Context(), h)
		require.ErrorContains(t, err, "authcache: get")
		require.False(t, ok)
		require.ErrorContains(t, c.Put(t.Context(), h, coretest.AuthCacheUser(h), time.Minute), "authcache: put")
		require.ErrorContains(t, c.Invalidate(t.Context(), h), "authcache: invalidate")
	})
}
