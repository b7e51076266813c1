package coretest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

// changeWait bounds every wait for a change: far above any healthy
// delivery, so only a lost change reaches it.
const changeWait = 10 * time.Second

// RunChangeFeedContract runs the core.ChangeFeed contract. newFeeds must
// return two feeds sharing one backend — two replicas: for PostgreSQL two
// feeds on one channel, for the in-process feed the same instance twice.
// Every subtest calls newFeeds once and runs in parallel.
//
// The contract: a change published on either feed reaches the subscribers
// of its tenant on both, exactly once each, in publication order per
// publisher; subscribers of another tenant never see it; an all-tenant
// subscription (empty tenant) sees every tenant's changes; cancel and the
// end of the subscription's context close its channel; a subscriber that
// does not read loses changes beyond its buffer but never blocks Publish.
func RunChangeFeedContract(t *testing.T, newFeeds func(t *testing.T) (a, b core.ChangeFeed)) {
	t.Helper()
	recv := func(t *testing.T, ch <-chan core.Change) core.Change {
		t.Helper()
		select {
		case c, ok := <-ch:
			require.True(t, ok, "channel closed while a change was expected")
			return c
		case <-time.After(changeWait):
			t.Fatal("no change within the bound")
			return core.Change{}
		}
	}
	change := func(tenant, id string) core.Change {
		return core.Change{Kind: core.ChangeExecution, TenantID: core.TenantID(tenant), EntityID: id, CueID: "cue_abcdefabcdef"}
	}

	t.Run("delivered to the tenant's subscribers on both replicas, once", func(t *testing.T) {
		t.Parallel()
		a, b := newFeeds(t)
		ctx := t.Context()
		onA, cancelA := a.Subscribe(ctx, "u1")
		defer cancelA()
		onB, cancelB := b.Subscribe(ctx, "u1")
		defer cancelB()
		require.NoError(t, a.Publish(ctx, change("u1", "e1")))
		require.NoError(t, a.Publish(ctx, change("u1", "e2")))
		require.Equal(t, change("u1", "e1"), recv(t, onA))
		require.Equal(t, change("u1", "e2"), recv(t, onA))
		require.Equal(t, change("u1", "e1"), recv(t, onB))
		require.Equal(t, change("u1", "e2"), recv(t, onB))
		// Exactly once: the next thing each sees is the next publication.
		require.NoError(t, b.Publish(ctx, change("u1", "e3")))
		require.Equal(t, "e3", recv(t, onA).EntityID)
		require.Equal(t, "e3", recv(t, onB).EntityID)
	})

	t.Run("a fire's due instant reaches the other replica", func(t *testing.T) {
		t.Parallel()
		a, b := newFeeds(t)
		ctx := t.Context()
		onB, cancelB := b.Subscribe(ctx, "")
		defer cancelB()
		due := time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)
		require.NoError(t, a.Publish(ctx, core.Change{Kind: core.ChangeExecution, TenantID: "u1", CueID: "cue_abcdefabcdef", DueAt: &due}))
		got := recv(t, onB)
		require.NotNil(t, got.DueAt, "FollowChanges wakes dispatchers from it")
		require.True(t, due.Equal(*got.DueAt), "got %v", *got.DueAt)
	})

	t.Run("a batch is delivered in order, filtered per tenant", func(t *testing.T) {
		t.Parallel()
		a, b := newFeeds(t)
		ctx := t.Context()
		ch, cancel := b.Subscribe(ctx, "u1")
		defer cancel()
		require.NoError(t, a.Publish(ctx))                                                                                    // empty: a no-op
		require.NoError(t, a.Publish(ctx, change("u1", "b1"), change("u2", "other"), change("u1", "b2"), change("u1", "b3"))) // one call
		for _, want := range []string{"b1", "b2", "b3"} {
			require.Equal(t, want, recv(t, ch).EntityID)
		}
	})

	t.Run("another tenant's changes are not delivered", func(t *testing.T) {
		t.Parallel()
		a, b := newFeeds(t)
		ctx := t.Context()
		ch, cancel := b.Subscribe(ctx, "u1")
		defer cancel()
		require.NoError(t, a.Publish(ctx, change("u2", "foreign")))
		require.NoError(t, b.Publish(ctx, change("u2", "foreign-local")))
		require.NoError(t, a.Publish(ctx, change("u1", "mine")))
		require.Equal(t, "mine", recv(t, ch).EntityID)
	})

	t.Run("an all-tenant subscription sees every tenant", func(t *testing.T) {
		t.Parallel()
		a, b := newFeeds(t)
		ctx := t.Context()
		ch, cancel := b.Subscribe(ctx, "")
		defer cancel()
		require.NoError(t, a.Publish(ctx, change("u1", "x1")))
		require.NoError(t, a.Publish(ctx, change("u2", "x2")))
		require.Equal(t, core.TenantID("u1"), recv(t, ch).TenantID)
		require.Equal(t, core.TenantID("u2"), recv(t, ch).TenantID)
	})

	t.Run("cancel and context end close the channel", func(t *testing.T) {
		t.Parallel()
		a, _ := newFeeds(t)
		ch, cancel := a.Subscribe(t.Context(), "u1")
		cancel()
		cancel() // idempotent
		_, ok := <-ch
		require.False(t, ok)

		ctx, stop := context.WithCancel(t.Context())
		ch2, cancel2 := a.Subscribe(ctx, "u1")
		defer cancel2()
		stop()
		select {
		case _, ok := <-ch2:
			require.False(t, ok)
		case <-time.After(changeWait):
			t.Fatal("channel not closed after the context ended")
		}
	})

	t.Run("a stalled subscriber never blocks publishing", func(t *testing.T) {
		t.Parallel()
		a, b := newFeeds(t)
		ctx := t.Context()
		stalled, cancelStalled := a.Subscribe(ctx, "u1")
		defer cancelStalled()
		live, cancelLive := b.Subscribe(ctx, "u1")
		defer cancelLive()
		// Lock-step with the live subscriber (so only the stalled one can
		// overflow): every publication returns and reaches it.
		n := core.ChangeBufferSize * 3
		for i := range n {
			id := "s" + strconv.Itoa(i)
			require.NoError(t, a.Publish(ctx, change("u1", id)))
			require.Equal(t, id, recv(t, live).EntityID)
		}
		held := 0
		for len(stalled) > 0 {
			<-stalled
			held++
		}
		require.LessOrEqual(t, held, core.ChangeBufferSize)
	})
}
