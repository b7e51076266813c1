package redislimiter_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/adapters/redislimiter"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/coretest"
)

var _ core.RateLimiter = (*redislimiter.Local)(nil)

// TestLocal: the limiter contract holds with a local allowance (the
// contract's limits are below 16, where the allowance is zero).
func TestLocal(t *testing.T) {
	t.Parallel()
	coretest.RunLimiterContract(t, func(t *testing.T) core.RateLimiter {
		l, _, _ := newTestLimiter(t)
		return redislimiter.NewLocal(l, 0)
	})
}

// scriptCalls counts the script calls (EVALSHA, EVAL) a client sends.
type scriptCalls struct{ n atomic.Int64 }

func (c *scriptCalls) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *scriptCalls) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if n := cmd.Name(); n == "evalsha" || n == "eval" {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (c *scriptCalls) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func TestLocal_Allowance(t *testing.T) {
	t.Parallel()
	const window = time.Minute
	epoch := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

	t.Run("OneReplicaIsExactInFewerRoundTrips", func(t *testing.T) {
		t.Parallel()
		base, client, prefix := newTestLimiter(t)
		calls := &scriptCalls{}
		client.AddHook(calls)
		l := redislimiter.NewLocal(base, 0)
		const limit = 160 // allowance 10
		require.Equal(t, 10, l.Allowance(limit))
		now := epoch
		for i := range limit {
			d, err := l.Allow(t.Context(), "k", limit, window, now)
			require.NoError(t, err)
			require.True(t, d.Allowed, i)
			require.Equal(t, limit-1-i, d.Remaining, i)
			now = now.Add(time.Millisecond)
		}
		for range 5 {
			d, err := l.Allow(t.Context(), "k", limit, window, now)
			require.NoError(t, err)
			require.False(t, d.Allowed, "Redis decides every rejection")
		}
		require.LessOrEqual(t, calls.n.Load(), int64(limit/11+1+5+2), "about one script call per allowance (+1 EVAL when the script was not cached)")
		n, err := l.Count(t.Context(), "k", window, now)
		require.NoError(t, err)
		require.Equal(t, limit, n)
		stored, err := client.ZCard(t.Context(), prefix+"ratelimit:k").Result()
		require.NoError(t, err)
		require.Equal(t, int64(limit), stored, "everything accepted is in Redis, no rejection is")

		d, err := l.Allow(t.Context(), "k", limit, window, now.Add(window))
		require.NoError(t, err)
		require.True(t, d.Allowed, "the window slides")
	})

	t.Run("TwoReplicasStayWithinTheStatedBound", func(t *testing.T) {
		t.Parallel()
		base, client, prefix := newTestLimiter(t)
		a := redislimiter.NewLocal(base, 0)
		b := redislimiter.NewLocal(redislimiter.New(client, prefix), 0)
		const limit = 160
		allowance := a.Allowance(limit)
		accepted := 0
		now := epoch
		// Replica a warms its view first, then both take turns: b's
		// requests are invisible to a until b flushes, and the reverse.
		for i := range 3 * limit {
			l := a
			if i%2 == 1 {
				l = b
			}
			d, err := l.Allow(t.Context(), "shared", limit, window, now)
			require.NoError(t, err)
			if d.Allowed {
				accepted++
			}
			now = now.Add(time.Millisecond)
		}
		require.GreaterOrEqual(t, accepted, limit)
		require.LessOrEqual(t, accepted, limit+2*allowance, "at most the allowance per replica over the limit")

		// One more request through each flushes what it accepted locally:
		// Redis then holds exactly the accepted requests (rejections never
		// inflate the window).
		for _, l := range []*redislimiter.Local{a, b} {
			d, err := l.Allow(t.Context(), "shared", limit, window, now)
			require.NoError(t, err)
			require.False(t, d.Allowed)
		}
		stored, err := client.ZCard(t.Context(), prefix+"ratelimit:shared").Result()
		require.NoError(t, err)
		require.Equal(t, int64(accepted), stored)
	})

	t.Run("ErrorKeepsPendingForTheNextCall", func(t *testing.T) {
		t.Parallel()
		base, client, prefix := newTestLimiter(t)
		l := redislimiter.NewLocal(base, 0)
		const limit = 160
		now := epoch
		for range 5 { // 1 in Redis, 4 pending
			_, err := l.Allow(t.Context(), "k", limit, window, now)
			require.NoError(t, err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		for range 20 {
			if _, err := l.Allow(ctx, "k", limit, window, now); err != nil {
				break
			}
		}
		_, err := l.Allow(ctx, "k", limit, window, now)
		require.Error(t, err, "the call that must reach Redis fails")
		d, err := l.Allow(t.Context(), "k", limit, window, now)
		require.NoError(t, err)
		require.True(t, d.Allowed)
		stored, err := client.ZCard(t.Context(), prefix+"ratelimit:k").Result()
		require.NoError(t, err)
		require.Equal(t, int64(limit-d.Remaining), stored, "requests accepted locally before the failure are recorded once")
	})
}
