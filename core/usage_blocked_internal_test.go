package core

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// gateStore answers Blocked's reads; UserGet waits for release.
type gateStore struct {
	Store
	userGets atomic.Int32
	release  chan struct{}
}

func (s *gateStore) UserGet(context.Context, *UserGetParams) (*User, error) {
	s.userGets.Add(1)
	<-s.release
	return &User{MonthlyExecutionLimit: 10}, nil
}

func (s *gateStore) UsageGet(context.Context, *UsageGetParams) (*Usage, error) {
	return &Usage{Executions: 3}, nil
}

// A burst of one tenant's deliveries asks the store once: the callers that
// arrive while the lookup runs wait for its answer.
func TestUsageBlockedLooksUpOncePerBurst(t *testing.T) {
	t.Parallel()
	st := &gateStore{release: make(chan struct{})}
	u := NewUsage(st, st, nil, fixedClock{time.Date(2026, 12, 5, 4, 0, 0, 0, time.UTC)})
	const n = 20
	var wg sync.WaitGroup
	results := make([]bool, n)
	for i := range n {
		wg.Go(func() { results[i] = u.Blocked(t.Context(), "tenant") })
	}
	// Release the one lookup once every other caller waits for it.
	for i := 0; ; i++ {
		require.Less(t, i, 1_000_000, "callers never all waited")
		u.blocks.mu.Lock()
		l := u.blocks.pending["tenant"]
		waiting := l != nil && l.waiters == n-1
		u.blocks.mu.Unlock()
		if waiting {
			break
		}
		runtime.Gosched()
	}
	close(st.release)
	wg.Wait()
	require.Equal(t, int32(1), st.userGets.Load())
	require.Equal(t, make([]bool, n), results, "under the limit: none blocked")
	require.False(t, u.Blocked(t.Context(), "tenant"))
	require.Equal(t, int32(1), st.userGets.Load(), "answered from the cache")
}
