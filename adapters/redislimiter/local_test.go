package redislimiter_test

import (
	"context"
	"strings"
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
		stored, members := storedRequests(t, client, prefix+"ratelimit2:k")
		require.Equal(t, limit, stored, "everything accepted is in Redis, no rejection is")
		require.Equal(t, limit, members, "one request per millisecond: one member each")

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
		stored, _ := storedRequests(t, client, prefix+"ratelimit2:shared")
		require.Equal(t, accepted, stored)
	})

	t.Run("RequestsOfOneMillisecondShareOneMember", func(t *testing.T) {
		t.Parallel()
		base, client, prefix := newTestLimiter(t)
		l := redislimiter.NewLocal(base, 0)
		// Allowance 100: every 101st request goes to Redis and records the
		// 100 before it, so the 2,021st records all the earlier ones.
		const limit, requests = 100_000_000, 2020
		now := epoch
		for i := range requests + 1 { // ten per millisecond
			d, err := l.Allow(t.Context(), "busy", limit, window, now)
			require.NoError(t, err)
			require.True(t, d.Allowed)
			require.Equal(t, limit-1-i, d.Remaining, i)
			now = now.Add(100 * time.Microsecond)
		}
		n, err := base.Count(t.Context(), "busy", window, now)
		require.NoError(t, err)
		stored, members := storedRequests(t, client, prefix+"ratelimit2:busy")
		require.Equal(t, requests+1, n, "everything accepted is in Redis")
		require.Equal(t, requests+1, stored)
		// 21 requests went to Redis, one member each; the 2,000 local ones
		// fall in 202 milliseconds, split at most once more per flush.
		require.LessOrEqual(t, members, 21+202+20, "about one member per millisecond, not one per request")
	})

	t.Run("LocalRequestLeavesTheWindowAtTheEndOfItsMillisecond", func(t *testing.T) {
		t.Parallel()
		base, client, prefix := newTestLimiter(t)
		l := redislimiter.NewLocal(base, 0)
		const limit = 160 // allowance 10
		at := func(us int) time.Time { return epoch.Add(time.Duration(us) * time.Microsecond) }
		allow := func(now time.Time) {
			t.Helper()
			d, err := l.Allow(t.Context(), "k", limit, window, now)
			require.NoError(t, err)
			require.True(t, d.Allowed)
		}
		allow(at(0)) // Redis
		for range 10 {
			allow(at(1300)) // local, scored at 2000 µs
		}
		allow(at(1500)) // Redis, flushing the ten
		stored, members := storedRequests(t, client, prefix+"ratelimit2:k")
		require.Equal(t, 12, stored)
		require.Equal(t, 3, members)

		count := func(now time.Time) int {
			t.Helper()
			n, err := base.Count(t.Context(), "k", window, now)
			require.NoError(t, err)
			return n
		}
		require.Equal(t, 11, count(at(1300).Add(window)), "kept until the end of their millisecond")
		require.Equal(t, 10, count(at(1999).Add(window)))
		require.Equal(t, 0, count(at(2000).Add(window)), "at most 1 ms longer than their own time")

		allow(at(2000).Add(window))
		stored, members = storedRequests(t, client, prefix+"ratelimit2:k")
		require.Equal(t, 1, stored, "trimming keeps the count member exact")
		require.Equal(t, 1, members)
	})

	t.Run("ReplayedOrStaleFlushCountsOnce", func(t *testing.T) {
		t.Parallel()
		base, client, prefix := newTestLimiter(t)
		const limit = 1000
		score := epoch.UnixMicro()
		// A flush whose reply was lost is sent again with the same member.
		d, member, err := base.AllowFlushing(t.Context(), "k", limit, window, epoch, score, 5, "")
		require.NoError(t, err)
		require.Equal(t, limit-6, d.Remaining)
		require.True(t, strings.HasSuffix(member, "x5"), member)
		d, _, err = base.AllowFlushing(t.Context(), "k", limit, window, epoch, score, 5, member)
		require.NoError(t, err)
		require.Equal(t, limit-7, d.Remaining, "the replayed group is not counted again")
		// A group that left the window before its flush is not recorded.
		later := epoch.Add(window)
		d, _, err = base.AllowFlushing(t.Context(), "k", limit, window, later, score, 3, "")
		require.NoError(t, err)
		require.Equal(t, limit-1, d.Remaining)
		stored, members := storedRequests(t, client, prefix+"ratelimit2:k")
		require.Equal(t, 1, stored)
		require.Equal(t, 1, members)
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
		stored, _ := storedRequests(t, client, prefix+"ratelimit2:k")
		require.Equal(t, limit-d.Remaining, stored, "requests accepted locally before the failure are recorded once")
	})
}
