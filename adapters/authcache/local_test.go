package authcache_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/adapters/authcache"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/coretest"
)

var _ core.AuthCache = (*authcache.Local)(nil)

// newLocal starts a Local over a Redis cache on client, closed at cleanup.
func newLocal(t *testing.T, client *redis.Client, prefix string, clock core.Clock) *authcache.Local {
	t.Helper()
	l := authcache.NewLocal(authcache.NewRedis(client, prefix, clock), clock, &recLog{}, authcache.LocalConfig{Ping: 200 * time.Millisecond})
	t.Cleanup(l.Close)
	return l
}

// waitHealthy waits (bounded) until l trusts its subscription.
func waitHealthy(t *testing.T, l *authcache.Local) {
	t.Helper()
	require.Eventually(t, l.Healthy, 10*time.Second, 5*time.Millisecond, "the invalidation subscription never became healthy")
}

func TestLocal(t *testing.T) {
	t.Parallel()
	coretest.RunAuthCacheContract(t, func(t *testing.T, clock core.Clock) (a, b core.AuthCache) {
		url := testRedisURL(t)
		clientA, clientB := testClient(t, url), testClient(t, url)
		prefix := testPrefix(t, clientA)
		la, lb := newLocal(t, clientA, prefix, clock), newLocal(t, clientB, prefix, clock)
		waitHealthy(t, la)
		waitHealthy(t, lb)
		return la, lb
	}, coretest.AuthCacheOpts{ClockControlsTTL: true})
}

// TestLocal_Replicas: two replicas share Redis; each serves a key from
// memory, and an invalidation on one is in effect on the other by the time
// Invalidate returns (the rotated key is refused on the next request).
func TestLocal_Replicas(t *testing.T) {
	t.Parallel()
	url := testRedisURL(t)
	clientA, clientB, admin := testClient(t, url), testClient(t, url), testClient(t, url)
	prefix := testPrefix(t, admin)
	clock := coretest.NewStubClock(epoch)
	a, b := newLocal(t, clientA, prefix, clock), newLocal(t, clientB, prefix, clock)
	waitHealthy(t, a)
	waitHealthy(t, b)
	ctx := t.Context()

	for i := range 20 {
		h := hashOf(1000 + i)
		require.NoError(t, a.Put(ctx, h, coretest.AuthCacheUser(h), time.Minute))
		_, ok, err := b.Get(ctx, h) // fills b's memory from Redis
		require.NoError(t, err)
		require.True(t, ok)

		// Served from memory: the shared entry is gone behind b's back.
		require.NoError(t, admin.Del(ctx, prefix+"auth:"+h).Err())
		u, ok, err := b.Get(ctx, h)
		require.NoError(t, err)
		require.True(t, ok, "b serves the key from memory")
		require.Equal(t, h, u.APIKeyHash)

		require.NoError(t, a.Invalidate(ctx, h))
		_, ok, err = b.Get(ctx, h)
		require.NoError(t, err)
		require.False(t, ok, "round %d: the invalidation on a is in effect on b when Invalidate returns", i)
		_, ok, err = a.Get(ctx, h)
		require.NoError(t, err)
		require.False(t, ok)
	}

	t.Run("MemoryNeverOutlivesTheSharedEntry", func(t *testing.T) {
		h := hashOf(2000)
		require.NoError(t, a.Put(ctx, h, coretest.AuthCacheUser(h), time.Second))
		_, ok, err := b.Get(ctx, h)
		require.NoError(t, err)
		require.True(t, ok)
		clock.Advance(time.Second)
		_, ok, err = b.Get(ctx, h)
		require.NoError(t, err)
		require.False(t, ok)
	})
}

// TestLocal_SubscriptionLost: while the subscription is down the replica
// stops using (and empties) its memory, so an invalidation it could not
// hear still takes effect; it trusts memory again after re-subscribing.
func TestLocal_SubscriptionLost(t *testing.T) {
	t.Parallel()
	url := testRedisURL(t)
	opts, err := redis.ParseURL(url)
	require.NoError(t, err)
	proxy := coretest.NewFaultProxy(t, opts.Addr)
	opts.Addr = proxy.Addr()
	opts.MaxRetries, opts.DialerRetries, opts.DialTimeout = -1, 1, time.Second
	cut := redis.NewClient(opts)
	t.Cleanup(func() { _ = cut.Close() })
	clientA, admin := testClient(t, url), testClient(t, url)
	prefix := testPrefix(t, admin)
	clock := coretest.NewStubClock(epoch)
	a, b := newLocal(t, clientA, prefix, clock), newLocal(t, cut, prefix, clock)
	waitHealthy(t, a)
	waitHealthy(t, b)
	ctx := t.Context()

	h := hashOf(3000)
	require.NoError(t, a.Put(ctx, h, coretest.AuthCacheUser(h), time.Minute))
	_, ok, err := b.Get(ctx, h)
	require.NoError(t, err)
	require.True(t, ok)

	proxy.Cut()
	require.Eventually(t, func() bool { return !b.Healthy() }, 10*time.Second, 5*time.Millisecond, "a lost subscription is noticed")
	require.NoError(t, a.Invalidate(ctx, h), "b cannot confirm; a does not wait for it")
	_, _, err = b.Get(ctx, h)
	require.Error(t, err, "b goes to Redis (unreachable) instead of its memory")

	proxy.Restore()
	waitHealthy(t, b)
	_, ok, err = b.Get(ctx, h)
	require.NoError(t, err)
	require.False(t, ok, "the invalidation b missed is in effect after it re-subscribed")
}

// TestLocal_PutReachesEveryReplica: Put is how a changed user (email,
// secrets, limits) reaches the caches; a replica holding the old copy in
// memory serves the new one on its next Get.
func TestLocal_PutReachesEveryReplica(t *testing.T) {
	t.Parallel()
	url := testRedisURL(t)
	clientA, clientB := testClient(t, url), testClient(t, url)
	prefix := testPrefix(t, clientA)
	clock := coretest.NewStubClock(epoch)
	a, b := newLocal(t, clientA, prefix, clock), newLocal(t, clientB, prefix, clock)
	waitHealthy(t, a)
	waitHealthy(t, b)
	ctx := t.Context()

	h := hashOf(4000)
	u := coretest.AuthCacheUser(h)
	require.NoError(t, a.Put(ctx, h, u, time.Minute))
	for _, c := range []*authcache.Local{a, b} {
		_, ok, err := c.Get(ctx, h) // both hold it in memory
		require.NoError(t, err)
		require.True(t, ok)
	}
	changed := *u
	changed.Email = "changed@example.com"
	require.NoError(t, b.Put(ctx, h, &changed, time.Minute))
	for name, c := range map[string]*authcache.Local{"a": a, "b": b} {
		got, ok, err := c.Get(ctx, h)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "changed@example.com", got.Email, "replica %s serves the changed user", name)
	}
}
