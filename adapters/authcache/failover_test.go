package authcache_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/adapters/authcache"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/coretest"
)

var _ core.AuthCache = (*authcache.Failover)(nil)

// recLog records log lines by level.
type recLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *recLog) add(level, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level+" "+msg)
}
func (l *recLog) Info(msg string, _ ...any)  { l.add("INFO", msg) }
func (l *recLog) Warn(msg string, _ ...any)  { l.add("WARN", msg) }
func (l *recLog) Error(msg string, _ ...any) { l.add("ERROR", msg) }

func (l *recLog) count(level string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.HasPrefix(s, level+" ") {
			n++
		}
	}
	return n
}

func TestFailover_RedisCut(t *testing.T) {
	t.Parallel()
	opts, err := redis.ParseURL(testRedisURL(t))
	require.NoError(t, err)
	proxy := coretest.NewFaultProxy(t, opts.Addr)
	opts.Addr = proxy.Addr()
	opts.MaxRetries, opts.DialerRetries, opts.DialTimeout = -1, 1, time.Second
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	prefix := testPrefix(t, testClient(t, testRedisURL(t)))

	clock := coretest.NewStubClock(epoch)
	log := &recLog{}
	const retryAfter = 5 * time.Second
	cache := authcache.NewFailover(authcache.NewRedis(client, prefix, clock), clock, log,
		authcache.FailoverConfig{RetryAfter: retryAfter})

	// The store: the source of truth the caller reads on a miss.
	storeUsers := map[string]*core.User{}
	storeReads := 0
	authenticate := func(h string) (*core.User, bool) {
		u, ok, err := cache.Get(t.Context(), h)
		require.NoError(t, err, "a cache fault is never the caller's error")
		if ok {
			return u, true
		}
		storeReads++
		u, found := storeUsers[h]
		if found {
			require.NoError(t, cache.Put(t.Context(), h, u, time.Minute))
		}
		return u, found
	}

	live, rotated := hashOf(1), hashOf(2)
	storeUsers[live] = coretest.AuthCacheUser(live)
	storeUsers[rotated] = coretest.AuthCacheUser(rotated)
	for _, h := range []string{live, rotated} {
		_, ok := authenticate(h)
		require.True(t, ok)
	}
	_, ok := authenticate(live)
	require.True(t, ok)
	require.Equal(t, 2, storeReads, "healthy: the second request is a cache hit")
	require.False(t, cache.Degraded())

	proxy.Cut()
	// The rotated key leaves the store while Redis is cut; the failed
	// invalidation is returned to the caller.
	delete(storeUsers, rotated)
	require.Error(t, cache.Invalidate(t.Context(), rotated))
	require.True(t, cache.Degraded())
	dials := proxy.Accepts()

	for i := range 20 {
		_, ok := authenticate(live)
		require.True(t, ok, "request %d succeeds from the store", i)
		_, ok = authenticate(rotated)
		require.False(t, ok, "the rotated key is refused")
		clock.Advance(retryAfter / 40)
	}
	require.Equal(t, dials, proxy.Accepts(), "Redis is not dialled during the backoff")
	require.Equal(t, 1, log.count("WARN"), "one WARN per outage")

	// Backoff elapsed, still cut: one probe, then back off again.
	clock.Advance(retryAfter)
	_, ok = authenticate(live)
	require.True(t, ok)
	probed := proxy.Accepts()
	require.Greater(t, probed, dials, "after the backoff Redis is probed again")
	_, ok = authenticate(live)
	require.True(t, ok)
	require.Equal(t, probed, proxy.Accepts(), "a failed probe starts a new backoff")
	require.Equal(t, 1, log.count("WARN"))

	// Recovery: the failed invalidation is replayed before any entry is
	// served, so the rotated key's cached user never comes back.
	proxy.Restore()
	clock.Advance(retryAfter)
	before := storeReads
	_, ok = authenticate(rotated)
	require.False(t, ok, "the rotated key stays refused after recovery")
	require.False(t, cache.Degraded())
	require.Equal(t, 1, log.count("INFO"), "recovery is logged once")
	require.Equal(t, before+1, storeReads, "the rotated key is read from the store")
	_, ok = authenticate(live)
	require.True(t, ok)
	require.Equal(t, before+1, storeReads, "after recovery the live key is served from Redis again")

	raw := testClient(t, testRedisURL(t))
	n, err := raw.Exists(context.Background(), prefix+"authdead:"+rotated).Result()
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "the replayed invalidation left a tombstone")
}

// failingCache fails every call with err.
type failingCache struct{ err error }

func (f failingCache) Get(context.Context, string) (*core.User, bool, error) {
	return nil, false, f.err
}
func (f failingCache) Put(context.Context, string, *core.User, time.Duration) error {
	return f.err
}
func (f failingCache) Invalidate(context.Context, string) error { return f.err }

func TestFailover_CancelledRequestIsNotAnOutage(t *testing.T) {
	t.Parallel()
	clock := coretest.NewStubClock(epoch)
	log := &recLog{}
	cache := authcache.NewFailover(failingCache{err: context.Canceled}, clock, log, authcache.FailoverConfig{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, _, err := cache.Get(ctx, hashOf(1))
	require.True(t, errors.Is(err, context.Canceled))
	require.False(t, cache.Degraded())
	require.Zero(t, log.count("WARN"))
}
