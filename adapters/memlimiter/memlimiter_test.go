package memlimiter_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/cueapi/cueapi/adapters/memlimiter"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/coretest"
)

var _ core.RateLimiter = (*memlimiter.Limiter)(nil)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	coretest.RunLimiterContract(t, func(*testing.T) core.RateLimiter { return memlimiter.New() })
}

func BenchmarkLimiter(b *testing.B) {
	coretest.BenchLimiter(b, func(*testing.B) core.RateLimiter { return memlimiter.New() })
}

func TestLimiter_Memory(t *testing.T) {
	t.Parallel()

	const window = time.Minute
	epoch := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

	t.Run("DropsLeastRecentlyUsedBeyondMaxKeys", func(t *testing.T) {
		t.Parallel()
		l := memlimiter.NewWithConfig(memlimiter.Config{MaxKeys: 640})

		// A flood of made-up keys, all inside one window.
		for i := range 20_000 {
			_, err := l.Allow(t.Context(), fmt.Sprintf("cue_sk_fake%d", i), 60, window, epoch.Add(time.Duration(i)*time.Microsecond))
			require.NoError(t, err)
		}
		require.LessOrEqual(t, l.Len(), 640)
		require.Positive(t, l.Len())
	})

	t.Run("KeepsHotKeyDuringFlood", func(t *testing.T) {
		t.Parallel()
		l := memlimiter.NewWithConfig(memlimiter.Config{MaxKeys: 128}) // two per shard
		now := epoch

		for range 3 {
			d, err := l.Allow(t.Context(), "hot", 3, window, now)
			require.NoError(t, err)
			require.True(t, d.Allowed)
		}
		for i := range 1000 {
			now = now.Add(time.Microsecond)
			_, err := l.Allow(t.Context(), fmt.Sprintf("flood%d", i), 60, window, now)
			require.NoError(t, err)
			// The hot key keeps being hit, so it stays recently used.
			d, err := l.Allow(t.Context(), "hot", 3, window, now)
			require.NoError(t, err)
			require.False(t, d.Allowed)
		}
	})

	t.Run("PrunesIdleBuckets", func(t *testing.T) {
		t.Parallel()
		l := memlimiter.New()

		for i := range 100 {
			_, err := l.Allow(t.Context(), fmt.Sprintf("key%d", i), 60, window, epoch)
			require.NoError(t, err)
		}
		require.Equal(t, 100, l.Len())

		// Still inside the window: nothing is idle.
		l.Prune(epoch.Add(window - time.Microsecond))
		require.Equal(t, 100, l.Len())

		// Creating buckets after the window drops idle ones as it goes.
		later := epoch.Add(window)
		for i := range 10 {
			_, err := l.Allow(t.Context(), fmt.Sprintf("new%d", i), 60, window, later)
			require.NoError(t, err)
		}
		require.Less(t, l.Len(), 110)

		l.Prune(later)
		require.Equal(t, 10, l.Len())
	})

	t.Run("RejectsNonPositiveWindow", func(t *testing.T) {
		t.Parallel()
		l := memlimiter.New()

		_, err := l.Allow(t.Context(), "k", 1, 0, epoch)
		require.Error(t, err)
		_, err = l.Count(t.Context(), "k", -time.Second, epoch)
		require.Error(t, err)
	})

	t.Run("ToleratesOutOfOrderNow", func(t *testing.T) {
		t.Parallel()
		l := memlimiter.New()

		// Concurrent callers may read the clock in one order and reach the
		// limiter in another.
		for _, off := range []time.Duration{2 * time.Second, 0, time.Second} {
			d, err := l.Allow(t.Context(), "k", 3, window, epoch.Add(off))
			require.NoError(t, err)
			require.True(t, d.Allowed)
		}
		d, err := l.Allow(t.Context(), "k", 3, window, epoch.Add(3*time.Second))
		require.NoError(t, err)
		require.False(t, d.Allowed)
		require.WithinDuration(t, epoch.Add(window), d.ResetAt, 0, "the oldest is the +0s request")

		n, err := l.Count(t.Context(), "k", window, epoch.Add(window+time.Second))
		require.NoError(t, err)
		require.Equal(t, 1, n)
	})
}
