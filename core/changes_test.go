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

// TestDueWakerWakesAtEveryInstant: each distinct announced instant gets its
// own wake (duplicates within a millisecond coalesce; past instants wake
// at once); Stop cancels what is pending.
func TestDueWakerWakesAtEveryInstant(t *testing.T) {
	t.Parallel()
	woken := make(chan struct{}, 16)
	clock := coretest.NewStubClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	w := core.NewDueWaker(clock, func() { woken <- struct{}{} })
	now := clock.Now()
	w.At(now.Add(-time.Second), now, now.Add(100*time.Microsecond), now.Add(time.Millisecond))
	for i := 0; i < 3; i++ { // -1 s, now (= now+100µs, same millisecond), +1 ms
		select {
		case <-woken:
		case <-time.After(5 * time.Second):
			t.Fatalf("wake %d did not come", i+1)
		}
	}
	require.Eventually(t, func() bool { return w.Pending() == 0 }, 5*time.Second, time.Millisecond)
	require.Empty(t, woken, "an instant within the same millisecond coalesces")

	w.At(now.Add(time.Hour))
	require.Equal(t, 1, w.Pending())
	w.Stop()
	require.Zero(t, w.Pending())
	w.At(now.Add(time.Hour))
	require.Zero(t, w.Pending(), "a stopped waker arranges nothing")
}
