package core_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/coretest"
)

func TestLocalFeedContract(t *testing.T) {
	t.Parallel()
	coretest.RunChangeFeedContract(t, func(t *testing.T) (a, b core.ChangeFeed) {
		f := core.NewLocalFeed()
		t.Cleanup(func() {
			if n := f.Subscribers(); n != 0 {
				t.Errorf("%d subscriptions left open", n)
			}
		})
		return f, f
	})
}

// TestFollowChangesWakesSchedulerAndDispatcher: cue changes wake the
// scheduler, fires wake the dispatcher at their due instant, other changes
// wake nothing.
func TestFollowChangesWakesSchedulerAndDispatcher(t *testing.T) {
	t.Parallel()
	feed := core.NewLocalFeed()
	ctx, cancel := context.WithCancel(t.Context())
	sched := make(chan struct{}, 8)
	disp := make(chan time.Time, 8)
	done := make(chan struct{})
	go func() {
		defer close(done)
		core.FollowChanges(ctx, feed, func() { sched <- struct{}{} }, func(at time.Time) { disp <- at })
	}()
	require.Eventually(t, func() bool { return feed.Subscribers() == 1 }, 5*time.Second, time.Millisecond)

	due := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	require.NoError(t, feed.Publish(ctx,
		core.Change{Kind: core.ChangeExecution, TenantID: "t", EntityID: "e"}, // a delivery: no wake
		core.Change{Kind: core.ChangeAlert, TenantID: "t", EntityID: "a"},
		core.Change{Kind: core.ChangeExecution, TenantID: "t", CueID: "c", DueAt: &due},
		core.Change{Kind: core.ChangeCue, TenantID: "t", EntityID: "c", CueID: "c"},
	))
	select {
	case at := <-disp:
		require.True(t, due.Equal(at))
	case <-time.After(5 * time.Second):
		t.Fatal("the fire did not wake the dispatcher")
	}
	select {
	case <-sched:
	case <-time.After(5 * time.Second):
		t.Fatal("the cue change did not wake the scheduler")
	}
	cancel()
	<-done
	require.Empty(t, disp, "only the fire wakes the dispatcher")
	require.Empty(t, sched, "only the cue change wakes the scheduler")
}
