package coretest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

// eventWorld is a tenant with two agents, and a second tenant with one.
type eventWorld struct {
	*storeBundle
	u, v       *core.User
	a, a2, va  string
	clockStart time.Time
}

func (s *storeSuite) eventSetup(t *testing.T) *eventWorld {
	t.Helper()
	b := s.setup(t)
	w := &eventWorld{storeBundle: b, clockStart: oddTime(0)}
	w.u = CreateUser(t, b.store, nil)
	w.v = CreateUser(t, b.store, nil)
	w.a = string(CreateAgent(t, b.store, w.u.ID, "alpha").ID)
	w.a2 = string(CreateAgent(t, b.store, w.u.ID, "beta").ID)
	w.va = string(CreateAgent(t, b.store, w.v.ID, "alpha").ID)
	return w
}

// msgEvent is a message.delivered event for agent of tenant.
func msgEvent(tenant core.TenantID, agent string, prio int, at time.Time) *core.EventEmit {
	return &core.EventEmit{
		TenantID: tenant, Type: core.EventMessageDelivered, RecipientAgentID: agent, EmittedAt: at,
		Payload:  json.RawMessage(fmt.Sprintf(`{"message_id": "msg_%s", "priority": %d}`, core.RandomHex(6), prio)),
		Priority: &prio,
	}
}

func (w *eventWorld) emit(t *testing.T, evs ...*core.EventEmit) []*core.Event {
	t.Helper()
	got, err := w.store.EventEmit(w.ctx, &core.EventEmitParams{Events: evs})
	require.NoError(t, err)
	require.Len(t, got, len(evs))
	return got
}

func (w *eventWorld) list(t *testing.T, tenant core.TenantID, agent string, since int64, typ string, limit int) []*core.Event {
	t.Helper()
	got, err := w.store.EventList(w.ctx, &core.EventListParams{TenantID: tenant, AgentID: agent, Since: since, Type: typ, Limit: limit})
	require.NoError(t, err)
	return got
}

func ids(evs []*core.Event) []int64 {
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func (s *storeSuite) testEventEmit(t *testing.T) {
	t.Parallel()

	t.Run("RoundTripsWithIncreasingIDs", func(t *testing.T) {
		t.Parallel()
		w := s.eventSetup(t)
		e1 := msgEvent(w.u.ID, w.a, 2, oddTime(0))
		e2 := msgEvent(w.u.ID, w.a, 3, oddTime(time.Second))
		got := w.emit(t, e1, e2)
		require.Greater(t, got[1].ID, got[0].ID)
		g := got[0]
		require.Equal(t, w.u.ID, g.TenantID)
		require.Equal(t, core.EventMessageDelivered, g.Type)
		require.Equal(t, w.a, g.RecipientAgentID)
		require.JSONEq(t, string(e1.Payload), string(g.Payload))
		requireTimeEqual(t, s.opts.TimePrecision, e1.EmittedAt, g.EmittedAt, "EmittedAt")
		require.Equal(t, 2, *g.Priority)
		later := w.emit(t, msgEvent(w.u.ID, w.a2, 1, oddTime(0)))
		require.Greater(t, later[0].ID, got[1].ID)
	})

	t.Run("IdempotencyKeyReusesTheStoredEvent", func(t *testing.T) {
		t.Parallel()
		w := s.eventSetup(t)
		e := msgEvent(w.u.ID, w.a, 3, oddTime(0))
		e.IdempotencyKey = "message.delivered:msg_x"
		first := w.emit(t, e)
		again := msgEvent(w.u.ID, w.a, 5, oddTime(time.Minute))
		again.IdempotencyKey = e.IdempotencyKey
		second := w.emit(t, again)
		require.Equal(t, first[0].ID, second[0].ID)
		require.JSONEq(t, string(e.Payload), string(second[0].Payload))
		require.Len(t, w.list(t, w.u.ID, w.a, 0, "", 10), 1)
		// The same key under another type is another event.
		other := msgEvent(w.u.ID, w.a, 3, oddTime(0))
		other.Type, other.IdempotencyKey = core.EventMessageDigest, e.IdempotencyKey
		third := w.emit(t, other)
		require.NotEqual(t, first[0].ID, third[0].ID)
	})

	t.Run("UnknownAgentIsNotFound", func(t *testing.T) {
		t.Parallel()
		w := s.eventSetup(t)
		_, err := w.store.EventEmit(w.ctx, &core.EventEmitParams{Events: []*core.EventEmit{msgEvent(w.u.ID, "agt_nobody000000", 3, oddTime(0))}})
		require.ErrorIs(t, err, core.ErrNotFound)
	})

	t.Run("ConcurrentEmittersNeverSlipBehindAReader", func(t *testing.T) {
		t.Parallel()
		w := s.eventSetup(t)
		const writers, each = 8, 15
		var wg sync.WaitGroup
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range each {
					_, err := w.store.EventEmit(w.ctx, &core.EventEmitParams{Events: []*core.EventEmit{msgEvent(w.u.ID, w.a, 1+(i+j)%5, oddTime(0))}})
					if err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		// A reader that advances its cursor while writers commit must see
		// every event exactly once, in id order.
		seen := map[int64]bool{}
		var cursor int64
		finished := false
		for round := 0; round < 100_000 && len(seen) < writers*each; round++ {
			if !finished {
				select {
				case <-done:
					finished = true
				default:
				}
			}
			page := w.list(t, w.u.ID, w.a, cursor, "", 7)
			for _, e := range page {
				require.Greater(t, e.ID, cursor)
				require.False(t, seen[e.ID], "event %d returned twice", e.ID)
				seen[e.ID] = true
				cursor = e.ID
			}
			if finished && len(page) == 0 {
				break
			}
		}
		<-done
		require.Len(t, seen, writers*each, "a reader advancing its cursor lost events")
		require.Len(t, w.list(t, w.u.ID, w.a, 0, "", 1000), writers*each)
	})
}

func (s *storeSuite) testEventList(t *testing.T) {
	t.Parallel()

	t.Run("CursorLimitTypeAndScope", func(t *testing.T) {
		t.Parallel()
		w := s.eventSetup(t)
		digest := msgEvent(w.u.ID, w.a, 3, oddTime(0))
		digest.Type = core.EventMessageDigest
		got := w.emit(t, msgEvent(w.u.ID, w.a, 3, oddTime(0)), digest, msgEvent(w.u.ID, w.a, 3, oddTime(0)),
			msgEvent(w.u.ID, w.a2, 3, oddTime(0)), msgEvent(w.v.ID, w.va, 3, oddTime(0)))
		require.Equal(t, ids(got[:3]), ids(w.list(t, w.u.ID, w.a, 0, "", 100)))
		require.Equal(t, ids(got[:2]), ids(w.list(t, w.u.ID, w.a, 0, "", 2)))
		require.Equal(t, ids(got[1:3]), ids(w.list(t, w.u.ID, w.a, got[0].ID, "", 100)))
		require.Equal(t, []int64{got[0].ID, got[2].ID}, ids(w.list(t, w.u.ID, w.a, 0, core.EventMessageDelivered, 100)))
		require.Equal(t, []int64{got[1].ID}, ids(w.list(t, w.u.ID, w.a, 0, core.EventMessageDigest, 100)))
		require.Empty(t, w.list(t, w.u.ID, w.a, got[2].ID, "", 100))
		// Another tenant never sees the agent's events, nor its own agent's
		// through the wrong tenant.
		require.Empty(t, w.list(t, w.v.ID, w.a, 0, "", 100))
		require.Empty(t, w.list(t, w.u.ID, w.va, 0, "", 100))
		require.Empty(t, w.list(t, "not-a-uuid", w.a, 0, "", 100))
	})
}

func (s *storeSuite) testEventPurge(t *testing.T) {
	t.Parallel()

	t.Run("DeletesOnlyEventsEmittedBefore", func(t *testing.T) {
		t.Parallel()
		w := s.eventSetup(t)
		got := w.emit(t, msgEvent(w.u.ID, w.a, 3, oddTime(-2*time.Hour)), msgEvent(w.u.ID, w.a, 3, oddTime(-90*time.Minute)),
			msgEvent(w.u.ID, w.a, 3, oddTime(0)))
		n, err := w.store.EventPurge(w.ctx, &core.EventPurgeParams{Before: oddTime(-time.Hour), Limit: 1})
		require.NoError(t, err)
		require.Equal(t, 1, n)
		n, err = w.store.EventPurge(w.ctx, &core.EventPurgeParams{Before: oddTime(-time.Hour), Limit: 100})
		require.NoError(t, err)
		require.Equal(t, 1, n)
		// A cursor older than the window yields the oldest survivors.
		require.Equal(t, []int64{got[2].ID}, ids(w.list(t, w.u.ID, w.a, 0, "", 100)))
	})
}

func (s *storeSuite) testEventDigest(t *testing.T) {
	t.Parallel()

	t.Run("CandidatesAndMarking", func(t *testing.T) {
		t.Parallel()
		w := s.eventSetup(t)
		dig := msgEvent(w.u.ID, w.a, 1, oddTime(0))
		dig.Type = core.EventMessageDigest
		got := w.emit(t, msgEvent(w.u.ID, w.a2, 1, oddTime(0)), msgEvent(w.u.ID, w.a, 2, oddTime(0)), msgEvent(w.u.ID, w.a, 3, oddTime(0)),
			msgEvent(w.u.ID, w.a, 1, oddTime(0)), dig)
		cands, err := w.store.EventDigestCandidates(w.ctx, &core.EventDigestCandidatesParams{Limit: 100})
		require.NoError(t, err)
		var mine []int64
		for _, c := range cands {
			if c.RecipientAgentID == w.a {
				mine = append(mine, c.ID)
			}
		}
		require.Equal(t, []int64{got[1].ID, got[3].ID}, mine)

		digest := &core.EventEmit{TenantID: w.u.ID, Type: core.EventMessageDigest, RecipientAgentID: w.a, EmittedAt: oddTime(0),
			Payload: json.RawMessage(`{"bundle_count": 2}`), IdempotencyKey: fmt.Sprintf("message.digest:%s:%d", w.a, got[3].ID)}
		d, err := w.store.EventDigest(w.ctx, &core.EventDigestParams{Digest: digest, SourceIDs: mine, Now: oddTime(0)})
		require.NoError(t, err)
		require.Greater(t, d.ID, got[4].ID)
		// Sources already digested: nothing is written twice.
		_, err = w.store.EventDigest(w.ctx, &core.EventDigestParams{Digest: digest, SourceIDs: mine, Now: oddTime(0)})
		require.ErrorIs(t, err, core.ErrConflict)
		cands, err = w.store.EventDigestCandidates(w.ctx, &core.EventDigestCandidatesParams{Limit: 100})
		require.NoError(t, err)
		require.Len(t, cands, 1)
		require.Equal(t, got[0].ID, cands[0].ID)
		require.Len(t, w.list(t, w.u.ID, w.a, got[4].ID, core.EventMessageDigest, 10), 1)
	})
}

func (s *storeSuite) newSub(w *eventWorld, tenant core.TenantID, agent, typ, target string) *core.Subscription {
	sub := &core.Subscription{ID: core.NewUUID(), TenantID: tenant, AgentID: agent, EventType: typ, Target: target, CreatedAt: oddTime(0)}
	if target == core.DeliveryWebhook {
		sub.WebhookURL, sub.SecretSealed = new("https://hooks.example.com/x?token=1"), new("sealed:"+core.RandomHex(4))
	}
	return sub
}

func (s *storeSuite) testSubscriptionCreate(t *testing.T) {
	t.Parallel()

	t.Run("RoundTripsAndOneActivePerTypeAndTarget", func(t *testing.T) {
		t.Parallel()
		w := s.eventSetup(t)
		pull := s.newSub(w, w.u.ID, w.a, core.EventMessageDelivered, core.DeliveryPull)
		pull.InlineBody = true
		require.NoError(t, w.store.SubscriptionCreate(w.ctx, pull))
		hook := s.newSub(w, w.u.ID, w.a, core.EventMessageDelivered, core.DeliveryWebhook)
		require.NoError(t, w.store.SubscriptionCreate(w.ctx, hook))
		dup := s.newSub(w, w.u.ID, w.a, core.EventMessageDelivered, core.DeliveryPull)
		require.ErrorIs(t, w.store.SubscriptionCreate(w.ctx, dup), core.ErrConflict)
		// Another agent, another type: fine.
		require.NoError(t, w.store.SubscriptionCreate(w.ctx, s.newSub(w, w.u.ID, w.a2, core.EventMessageDelivered, core.DeliveryPull)))
		require.NoError(t, w.store.SubscriptionCreate(w.ctx, s.newSub(w, w.u.ID, w.a, core.EventMessageDigest, core.DeliveryPull)))

		subs, err := w.store.SubscriptionList(w.ctx, &core.SubscriptionListParams{TenantID: w.u.ID, AgentID: w.a})
		require.NoError(t, err)
		require.Len(t, subs, 3)
		for _, g := range subs {
			if g.ID == hook.ID {
				require.Equal(t, *hook.WebhookURL, *g.WebhookURL)
				require.Equal(t, *hook.SecretSealed, *g.SecretSealed)
				require.False(t, g.InlineBody)
			}
			if g.ID == pull.ID {
				require.True(t, g.InlineBody)
				require.Nil(t, g.WebhookURL)
				require.Nil(t, g.LastAckedEventID)
				require.Zero(t, g.ConsecutiveFailures)
				requireTimeEqual(t, s.opts.TimePrecision, pull.CreatedAt, g.CreatedAt, "CreatedAt")
			}
		}
		// After detaching, a new one may be created.
		require.NoError(t, w.store.SubscriptionDetach(w.ctx, &core.SubscriptionDetachParams{TenantID: w.u.ID, AgentID: w.a, ID: pull.ID, Now: oddTime(0)}))
		require.NoError(t, w.store.SubscriptionCreate(w.ctx, dup))
	})

	t.Run("ForeignTenantIsNotFound", func(t *testing.T) {
		t.Parallel()
		w := s.eventSetup(t)
		sub := s.newSub(w, "f0000000-0000-4000-8000-000000000000", w.a, core.EventMessageDelivered, core.DeliveryPull)
		require.ErrorIs(t, w.store.SubscriptionCreate(w.ctx, sub), core.ErrNotFound)
	})
}

func (s *storeSuite) testSubscriptionDetachAndAck(t *testing.T) {
	t.Parallel()

	t.Run("ScopedIdempotentAndMonotonic", func(t *testing.T) {
		t.Parallel()
		w := s.eventSetup(t)
		pull := s.newSub(w, w.u.ID, w.a, core.EventMessageDelivered, core.DeliveryPull)
		dpull := s.newSub(w, w.u.ID, w.a, core.EventMessageDigest, core.DeliveryPull)
		hook := s.newSub(w, w.u.ID, w.a, core.EventMessageDelivered, core.DeliveryWebhook)
		for _, sub := range []*core.Subscription{pull, dpull, hook} {
			require.NoError(t, w.store.SubscriptionCreate(w.ctx, sub))
		}
		acked := func(id string) *int64 {
			subs, err := w.store.SubscriptionList(w.ctx, &core.SubscriptionListParams{TenantID: w.u.ID, AgentID: w.a})
			require.NoError(t, err)
			for _, s := range subs {
				if s.ID == id {
					return s.LastAckedEventID
				}
			}
			t.Fatalf("subscription %s not listed", id)
			return nil
		}
		ack := func(tenant core.TenantID, agent, id string, n int64) {
			require.NoError(t, w.store.SubscriptionAck(w.ctx, &core.SubscriptionAckParams{TenantID: tenant, AgentID: agent, ID: id, EventID: n}))
		}
		ack(w.u.ID, w.a, pull.ID, 10)
		require.Equal(t, int64(10), *acked(pull.ID))
		ack(w.u.ID, w.a, pull.ID, 4) // never lowers
		require.Equal(t, int64(10), *acked(pull.ID))
		ack(w.v.ID, w.a, pull.ID, 50)  // foreign tenant: no change
		ack(w.u.ID, w.a2, pull.ID, 50) // other agent: no change
		ack(w.u.ID, w.a, core.NewUUID(), 50)
		ack(w.u.ID, w.a, "not-a-uuid", 50)
		require.Equal(t, int64(10), *acked(pull.ID))

		// Pull acknowledgements: pull subscriptions only, by type when given.
		pulls := func(typ string, n int64) {
			require.NoError(t, w.store.SubscriptionAckPulls(w.ctx, &core.SubscriptionAckPullsParams{TenantID: w.u.ID, AgentID: w.a, EventType: typ, EventID: n}))
		}
		pulls(core.EventMessageDigest, 20)
		require.Equal(t, int64(10), *acked(pull.ID))
		require.Equal(t, int64(20), *acked(dpull.ID))
		pulls("", 15)
		require.Equal(t, int64(15), *acked(pull.ID))
		require.Equal(t, int64(20), *acked(dpull.ID))
		require.Nil(t, acked(hook.ID))

		// Detach: foreign and unknown are silent no-ops; detached ones leave the list.
		detach := func(tenant core.TenantID, id string) {
			require.NoError(t, w.store.SubscriptionDetach(w.ctx, &core.SubscriptionDetachParams{TenantID: tenant, AgentID: w.a, ID: id, Now: oddTime(0)}))
		}
		detach(w.v.ID, pull.ID)
		detach(w.u.ID, core.NewUUID())
		detach(w.u.ID, "nope")
		subs, err := w.store.SubscriptionList(w.ctx, &core.SubscriptionListParams{TenantID: w.u.ID, AgentID: w.a})
		require.NoError(t, err)
		require.Len(t, subs, 3)
		detach(w.u.ID, pull.ID)
		detach(w.u.ID, pull.ID)
		subs, err = w.store.SubscriptionList(w.ctx, &core.SubscriptionListParams{TenantID: w.u.ID, AgentID: w.a})
		require.NoError(t, err)
		require.Len(t, subs, 2)
		// A detached subscription is not acknowledged any more.
		pulls("", 99)
		foreign, err := w.store.SubscriptionList(w.ctx, &core.SubscriptionListParams{TenantID: w.v.ID, AgentID: w.a})
		require.NoError(t, err)
		require.Empty(t, foreign)
	})
}

func (s *storeSuite) testSubscriptionDispatch(t *testing.T) {
	t.Parallel()

	t.Run("DueLeaseAndFencedRecord", func(t *testing.T) {
		t.Parallel()
		w := s.eventSetup(t)
		now := oddTime(0)
		hook := s.newSub(w, w.u.ID, w.a, core.EventMessageDelivered, core.DeliveryWebhook)
		pull := s.newSub(w, w.u.ID, w.a, core.EventMessageDelivered, core.DeliveryPull)
		idle := s.newSub(w, w.u.ID, w.a2, core.EventMessageDelivered, core.DeliveryWebhook)
		for _, sub := range []*core.Subscription{hook, pull, idle} {
			require.NoError(t, w.store.SubscriptionCreate(w.ctx, sub))
		}
		digest := msgEvent(w.u.ID, w.a, 3, now)
		digest.Type = core.EventMessageDigest
		evs := w.emit(t, msgEvent(w.u.ID, w.a, 3, now), digest, msgEvent(w.u.ID, w.a, 4, now), msgEvent(w.u.ID, w.a, 1, now))
		due := func(at time.Time) []string {
			subs, err := w.store.SubscriptionDue(w.ctx, &core.SubscriptionDueParams{Now: at, Limit: 100})
			require.NoError(t, err)
			var out []string
			for _, s := range subs {
				if s.TenantID == w.u.ID {
					out = append(out, s.ID)
				}
			}
			return out
		}
		// Only webhook subscriptions with events of their type are due.
		require.Equal(t, []string{hook.ID}, due(now))

		lease := func(at time.Time, max int) []*core.SubscriptionBatch {
			bs, err := w.store.SubscriptionLease(w.ctx, &core.SubscriptionLeaseParams{IDs: []string{hook.ID, pull.ID, "bad"}, Now: at, LeaseUntil: at.Add(time.Minute), MaxEvents: max})
			require.NoError(t, err)
			return bs
		}
		bs := lease(now, 2)
		require.Len(t, bs, 1)
		require.Equal(t, hook.ID, bs[0].Sub.ID)
		require.Equal(t, []int64{evs[0].ID, evs[2].ID}, ids(bs[0].Events), "events of its type after the watermark, at most MaxEvents")
		require.Equal(t, *hook.SecretSealed, *bs[0].Sub.SecretSealed)
		// Leased: neither due nor leasable until the lease ends.
		require.Empty(t, due(now))
		require.Empty(t, lease(now.Add(time.Second), 2))

		// A result under another lease is refused; under the claimed one it applies.
		last := evs[2].ID
		wrong := &core.SubscriptionDispatch{ID: hook.ID, ClaimedLease: now.Add(time.Hour), LastDispatchedEventID: &last, AckedEventID: &last}
		ok := &core.SubscriptionDispatch{ID: hook.ID, ClaimedLease: bs[0].LeaseUntil, LastDispatchedEventID: &last, AckedEventID: &last,
			LastDispatchedAt: &now, LastP4At: &now}
		applied, err := w.store.SubscriptionRecordDispatches(w.ctx, &core.SubscriptionRecordDispatchesParams{Results: []*core.SubscriptionDispatch{wrong, ok}})
		require.NoError(t, err)
		require.Equal(t, []bool{false, true}, applied)
		subs, err := w.store.SubscriptionList(w.ctx, &core.SubscriptionListParams{TenantID: w.u.ID, AgentID: w.a})
		require.NoError(t, err)
		var got *core.Subscription
		for _, s := range subs {
			if s.ID == hook.ID {
				got = s
			}
		}
		require.Equal(t, last, *got.LastDispatchedEventID)
		require.Equal(t, last, *got.LastAckedEventID)
		requireTimePtrEqual(t, s.opts.TimePrecision, &now, got.LastP4At, "LastP4At")
		// Released: due again for the remaining event.
		require.Equal(t, []string{hook.ID}, due(now))
		bs = lease(now, 50)
		require.Equal(t, []int64{evs[3].ID}, ids(bs[0].Events))

		// Failure with a pause: not due while paused, and a kept lease holds it.
		pause := now.Add(time.Hour)
		applied, err = w.store.SubscriptionRecordDispatches(w.ctx, &core.SubscriptionRecordDispatchesParams{Results: []*core.SubscriptionDispatch{{
			ID: hook.ID, ClaimedLease: bs[0].LeaseUntil, LastDispatchedEventID: &last, ConsecutiveFailures: 10, PausedUntil: &pause,
		}}})
		require.NoError(t, err)
		require.Equal(t, []bool{true}, applied)
		require.Empty(t, due(now.Add(time.Minute)))
		require.Equal(t, []string{hook.ID}, due(pause))
		bs = lease(pause, 50)
		require.Len(t, bs, 1)
		require.Equal(t, 10, bs[0].Sub.ConsecutiveFailures)
		// An explicit ack above the dispatch watermark is never lowered by a record.
		require.NoError(t, w.store.SubscriptionAck(w.ctx, &core.SubscriptionAckParams{TenantID: w.u.ID, AgentID: w.a, ID: hook.ID, EventID: last + 100}))
		keep := pause.Add(time.Minute)
		_, err = w.store.SubscriptionRecordDispatches(w.ctx, &core.SubscriptionRecordDispatchesParams{Results: []*core.SubscriptionDispatch{{
			ID: hook.ID, ClaimedLease: bs[0].LeaseUntil, LastDispatchedEventID: &last, AckedEventID: &last, NextLease: &keep,
		}}})
		require.NoError(t, err)
		require.Empty(t, due(pause.Add(time.Second)), "kept leased until NextLease")
		require.Equal(t, []string{hook.ID}, due(keep))
		subs, err = w.store.SubscriptionList(w.ctx, &core.SubscriptionListParams{TenantID: w.u.ID, AgentID: w.a})
		require.NoError(t, err)
		for _, s := range subs {
			if s.ID == hook.ID {
				require.Equal(t, last+100, *s.LastAckedEventID)
			}
		}
		// Detached subscriptions are never due.
		require.NoError(t, w.store.SubscriptionDetach(w.ctx, &core.SubscriptionDetachParams{TenantID: w.u.ID, AgentID: w.a, ID: hook.ID, Now: now}))
		require.Empty(t, due(keep))
	})
}
