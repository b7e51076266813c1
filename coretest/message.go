package coretest

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

// msgBundle is a tenant with two agents, the second with a webhook.
type msgBundle struct {
	*storeBundle
	t    *testing.T
	user *core.User
	a, b *core.Agent
}

func (s *storeSuite) setupMsg(t *testing.T) *msgBundle {
	t.Helper()
	b := s.setup(t)
	u := CreateUser(t, b.store, nil)
	a := CreateAgent(t, b.store, u.ID, "a")
	hooked := NewAgent(u.ID, "b")
	hooked.WebhookURL, hooked.WebhookSecretSealed = new("https://hooks.example.com/b"), new("sealed")
	bb, err := b.store.AgentCreate(b.ctx, &core.AgentCreateParams{Agent: hooked})
	require.NoError(t, err)
	return &msgBundle{storeBundle: b, t: t, user: u, a: a, b: bb}
}

// NewMessage returns a queued message from one agent to another, not stored
// yet; a push is due at created when the recipient has a webhook.
func NewMessage(from, to *core.Agent, created time.Time) *core.Message {
	id := core.NewMessageID()
	m := &core.Message{
		ID: id, TenantID: from.TenantID, ToTenantID: to.TenantID, FromAgentID: from.ID, ToAgentID: to.ID, ThreadID: id,
		Body: "hello", Preview: "hello", Priority: 3, State: core.MsgQueued, Metadata: json.RawMessage(`{}`),
		EffectiveDeliveryMode: core.ModeInbox, CreatedAt: created, UpdatedAt: created, ExpiresAt: created.Add(30 * 24 * time.Hour),
	}
	if to.WebhookURL != nil {
		m.EffectiveDeliveryMode, m.Destination, m.NextAttemptAt = core.ModeWebhook, core.DestinationOf(*to.WebhookURL), new(created)
	}
	return m
}

// create stores messages in one MessageCreate.
func (b *msgBundle) create(msgs ...*core.Message) []*core.Message {
	b.t.Helper()
	out, err := b.store.MessageCreate(b.ctx, &core.MessageCreateParams{
		Messages: msgs, TouchSender: &msgs[0].FromAgentID, CountUsage: true, Month: core.MonthStart(msgs[0].CreatedAt),
		Now: msgs[0].CreatedAt, ReleaseKeysBefore: msgs[0].CreatedAt.Add(-core.IdempotencyWindow),
	})
	require.NoError(b.t, err)
	return out
}

func (b *msgBundle) get(id core.MessageID) *core.Message {
	b.t.Helper()
	m, err := b.store.MessageGet(b.ctx, &core.MessageGetParams{ID: id})
	require.NoError(b.t, err)
	return m
}

func (b *msgBundle) list(p *core.MessageListParams) *core.MessageListResult {
	b.t.Helper()
	r, err := b.store.MessageList(b.ctx, p)
	require.NoError(b.t, err)
	return r
}

func messageIDs(ms []*core.Message) []core.MessageID {
	ids := make([]core.MessageID, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return ids
}

func (s *storeSuite) testMessageCreate(t *testing.T) {
	t.Parallel()

	t.Run("RoundTripsAndCountsUsage", func(t *testing.T) {
		t.Parallel()
		b := s.setupMsg(t)
		m := NewMessage(b.a, b.b, oddTime(0))
		m.Subject, m.ReplyToAgentID, m.CorrelationID = new("s"), &b.a.ID, new("corr")
		m.ExpectsReply, m.Priority, m.Metadata = true, 5, json.RawMessage(`{"k":"é"}`)
		m.SendAt, m.IdempotencyKey, m.IdempotencyFingerprint = new(oddTime(time.Minute)), new("k"), new("fp")
		cp := NewMessage(b.a, b.a, oddTime(0))
		cp.NotificationFor, cp.ThreadID = &m.ID, m.ID
		got := b.create(m, cp)
		require.Len(t, got, 2)
		read := b.get(m.ID)
		for _, g := range []*core.Message{got[0], read} {
			requireTimeEqual(t, s.opts.TimePrecision, m.CreatedAt, g.CreatedAt, "CreatedAt")
			requireTimePtrEqual(t, s.opts.TimePrecision, m.SendAt, g.SendAt, "SendAt")
			require.Equal(t, m.Subject, g.Subject)
			require.Equal(t, m.ReplyToAgentID, g.ReplyToAgentID)
			require.True(t, g.ExpectsReply)
			require.Equal(t, 5, g.Priority)
			require.JSONEq(t, `{"k":"é"}`, string(g.Metadata))
			require.Equal(t, "k", *g.IdempotencyKey)
			require.Equal(t, b.user.ID, g.ToTenantID)
			require.Equal(t, "hooks.example.com", g.Destination)
		}
		require.Equal(t, &m.ID, got[1].NotificationFor)
		n, err := b.store.MessageMonthCount(b.ctx, &core.MessageMonthCountParams{TenantID: b.user.ID, Month: m.CreatedAt})
		require.NoError(t, err)
		require.Equal(t, 1, n, "one per MessageCreate, copies not counted")
		a, err := b.store.AgentGet(b.ctx, &core.AgentGetParams{ID: b.a.ID})
		require.NoError(t, err)
		requireTimePtrEqual(t, s.opts.TimePrecision, &m.CreatedAt, a.LastSeenAt, "sender LastSeenAt")
	})

	t.Run("HeldKeyConflictsAndWritesNothing", func(t *testing.T) {
		t.Parallel()
		b := s.setupMsg(t)
		m := NewMessage(b.a, b.b, FactoryTime)
		m.IdempotencyKey = new("k")
		b.create(m)
		again := NewMessage(b.a, b.b, FactoryTime.Add(time.Hour))
		again.IdempotencyKey = new("k")
		_, err := b.store.MessageCreate(b.ctx, &core.MessageCreateParams{Messages: []*core.Message{again}, TouchSender: &b.a.ID, CountUsage: true,
			Month: FactoryTime, Now: again.CreatedAt, ReleaseKeysBefore: again.CreatedAt.Add(-core.IdempotencyWindow)})
		require.ErrorIs(t, err, core.ErrConflict)
		_, err = b.store.MessageGet(b.ctx, &core.MessageGetParams{ID: again.ID})
		require.ErrorIs(t, err, core.ErrNotFound)
		n, err := b.store.MessageMonthCount(b.ctx, &core.MessageMonthCountParams{TenantID: b.user.ID, Month: FactoryTime})
		require.NoError(t, err)
		require.Equal(t, 1, n)
		held, err := b.store.MessageGetByKey(b.ctx, &core.MessageGetByKeyParams{TenantID: b.user.ID, Key: "k"})
		require.NoError(t, err)
		require.Equal(t, m.ID, held.ID)
	})

	t.Run("ExpiredKeyIsReleasedAtInsert", func(t *testing.T) {
		t.Parallel()
		b := s.setupMsg(t)
		m := NewMessage(b.a, b.b, FactoryTime)
		m.IdempotencyKey = new("k")
		b.create(m)
		later := NewMessage(b.a, b.b, FactoryTime.Add(core.IdempotencyWindow+time.Second))
		later.IdempotencyKey = new("k")
		b.create(later)
		held, err := b.store.MessageGetByKey(b.ctx, &core.MessageGetByKeyParams{TenantID: b.user.ID, Key: "k"})
		require.NoError(t, err)
		require.Equal(t, later.ID, held.ID)
		require.Nil(t, b.get(m.ID).IdempotencyKey)
	})
}

func (s *storeSuite) testMessageGet(t *testing.T) {
	t.Parallel()

	t.Run("VisibleToSenderAndRecipientOwnerOnly", func(t *testing.T) {
		t.Parallel()
		b := s.setupMsg(t)
		other := CreateUser(t, b.store, nil)
		x := CreateAgent(t, b.store, other.ID, "x")
		m := b.create(NewMessage(b.a, x, FactoryTime))[0]
		for _, viewer := range []core.TenantID{b.user.ID, other.ID, ""} {
			_, err := b.store.MessageGet(b.ctx, &core.MessageGetParams{Viewer: viewer, ID: m.ID})
			require.NoError(t, err)
		}
		stranger := CreateUser(t, b.store, nil)
		for _, viewer := range []core.TenantID{stranger.ID, "not-a-uuid"} {
			_, err := b.store.MessageGet(b.ctx, &core.MessageGetParams{Viewer: viewer, ID: m.ID})
			require.ErrorIs(t, err, core.ErrNotFound)
			_, err = b.store.MessageUpdate(b.ctx, &core.MessageUpdateParams{Viewer: viewer, ID: m.ID, Fn: func(*core.Message) error { return nil }})
			require.ErrorIs(t, err, core.ErrNotFound)
		}
	})
}

func (s *storeSuite) testMessageList(t *testing.T) {
	t.Parallel()

	t.Run("InboxDeliversDueQueuedFirst", func(t *testing.T) {
		t.Parallel()
		b := s.setupMsg(t)
		c := CreateAgent(t, b.store, b.user.ID, "c")
		m1 := b.create(NewMessage(b.a, c, FactoryTime))[0]
		later := NewMessage(b.a, c, FactoryTime.Add(time.Second))
		later.SendAt = new(FactoryTime.Add(time.Hour))
		b.create(later)
		m3 := b.create(NewMessage(b.b, c, FactoryTime.Add(2*time.Second)))[0]
		now := FactoryTime.Add(time.Minute)
		r := b.list(&core.MessageListParams{AgentID: c.ID, Inbox: true, DueBy: &now, CountOnly: true})
		require.Equal(t, 2, r.Total)
		require.Empty(t, r.Delivered)
		r = b.list(&core.MessageListParams{AgentID: c.ID, Inbox: true, DueBy: &now, Counterpart: &b.a.ID, Deliver: &core.MessageDeliver{Now: now}})
		require.Equal(t, []core.MessageID{m1.ID}, messageIDs(r.Messages))
		require.Equal(t, []core.MessageID{m1.ID}, messageIDs(r.Delivered))
		require.Equal(t, core.MsgDelivered, r.Messages[0].State)
		requireTimePtrEqual(t, s.opts.TimePrecision, &now, r.Messages[0].DeliveredAt, "DeliveredAt")
		require.Equal(t, core.MsgQueued, b.get(m3.ID).State, "other senders untouched")
		require.Equal(t, core.MsgQueued, b.get(later.ID).State, "not due")
		r = b.list(&core.MessageListParams{AgentID: c.ID, Inbox: true, DueBy: &now, States: []string{core.MsgQueued}, Limit: 10})
		require.Equal(t, []core.MessageID{m3.ID}, messageIDs(r.Messages))
		r = b.list(&core.MessageListParams{AgentID: b.a.ID, Inbox: false, Sender: b.user.ID, Limit: 1, Offset: 1})
		require.Equal(t, 2, r.Total)
		require.Equal(t, []core.MessageID{m1.ID}, messageIDs(r.Messages), "newest first, paged")
		since := FactoryTime
		r = b.list(&core.MessageListParams{AgentID: b.a.ID, Inbox: false, Since: &since, ThreadID: (*string)(&later.ID)})
		require.Equal(t, []core.MessageID{later.ID}, messageIDs(r.Messages))
		a, err := b.store.AgentGet(b.ctx, &core.AgentGetParams{ID: c.ID})
		require.NoError(t, err)
		requireTimePtrEqual(t, s.opts.TimePrecision, &now, a.LastSeenAt, "recipient LastSeenAt")
	})
}

func (s *storeSuite) testMessagePush(t *testing.T) {
	t.Parallel()

	t.Run("ClaimsDueOnceAndRecoversLostLeases", func(t *testing.T) {
		t.Parallel()
		b := s.setupMsg(t)
		m := b.create(NewMessage(b.a, b.b, FactoryTime))[0]
		b.create(NewMessage(b.b, b.a, FactoryTime)) // no webhook: never claimed
		claim := func(now time.Time) []*core.Message {
			got, err := b.store.MessagePushClaim(b.ctx, &core.MessagePushClaimParams{Now: now, Lease: time.Minute, Limit: 10})
			require.NoError(t, err)
			return got
		}
		var wg sync.WaitGroup
		got := make([][]*core.Message, 4)
		for i := range got {
			wg.Add(1)
			go func() { defer wg.Done(); got[i] = claim(FactoryTime) }()
		}
		wg.Wait()
		var all []*core.Message
		for _, g := range got {
			all = append(all, g...)
		}
		require.Len(t, all, 1, "claimed exactly once")
		require.Equal(t, m.ID, all[0].ID)
		require.Equal(t, core.MsgDelivering, all[0].State)
		require.Equal(t, 1, all[0].Attempts)
		require.Empty(t, claim(FactoryTime.Add(59*time.Second)), "leased")
		again := claim(FactoryTime.Add(time.Minute))
		require.Len(t, again, 1, "the lost lease is due again")
		require.Equal(t, 2, again[0].Attempts)

		// A stale result is not applied; the current one is.
		stored, err := b.store.MessagePushRecord(b.ctx, &core.MessagePushRecordParams{Now: FactoryTime.Add(2 * time.Minute), Results: []*core.MessagePushResult{
			{ID: m.ID, Attempt: 1, State: core.MsgDelivered, Attempts: 1, DeliveredAt: new(FactoryTime)},
			{ID: m.ID, Attempt: 2, State: core.MsgRetryReady, Attempts: 2, NextAttemptAt: new(FactoryTime.Add(time.Hour)), LastError: new("boom")},
		}})
		require.NoError(t, err)
		require.Nil(t, stored[0])
		require.NotNil(t, stored[1])
		got1 := b.get(m.ID)
		require.Equal(t, core.MsgRetryReady, got1.State)
		require.Equal(t, "boom", *got1.LastError)
		require.Empty(t, claim(FactoryTime.Add(59*time.Minute)))
		require.Len(t, claim(FactoryTime.Add(time.Hour)), 1)
	})

	t.Run("ClaimIsFairAcrossDestinations", func(t *testing.T) {
		t.Parallel()
		b := s.setupMsg(t)
		other := NewAgent(b.user.ID, "o")
		other.WebhookURL, other.WebhookSecretSealed = new("https://other.example.com/x"), new("sealed")
		o, err := b.store.AgentCreate(b.ctx, &core.AgentCreateParams{Agent: other})
		require.NoError(t, err)
		for i := range 5 {
			b.create(NewMessage(b.a, b.b, FactoryTime.Add(time.Duration(i)*time.Second)))
		}
		late := b.create(NewMessage(b.a, o, FactoryTime.Add(time.Minute)))[0]
		got, err := b.store.MessagePushClaim(b.ctx, &core.MessagePushClaimParams{Now: FactoryTime.Add(time.Hour), Lease: time.Minute, Limit: 3, PerDestination: 2})
		require.NoError(t, err)
		require.Len(t, got, 3)
		require.Contains(t, messageIDs(got), late.ID, "round-robin: the other destination's oldest before a third of the first")
	})
}

func (s *storeSuite) testMessageSweep(t *testing.T) {
	t.Parallel()

	t.Run("ExpiresPurgesAndReleases", func(t *testing.T) {
		t.Parallel()
		b := s.setupMsg(t)
		old := NewMessage(b.a, b.a, FactoryTime)
		old.ExpiresAt, old.IdempotencyKey = FactoryTime.Add(time.Hour), new("k")
		fresh := NewMessage(b.a, b.a, FactoryTime.Add(2*time.Hour))
		acked := NewMessage(b.a, b.a, FactoryTime)
		acked.State, acked.AckedAt = core.MsgAcked, new(FactoryTime)
		for _, m := range []*core.Message{old, fresh, acked} {
			b.create(m)
		}
		now := FactoryTime.Add(25 * time.Hour)
		r, err := b.store.MessageSweep(b.ctx, &core.MessageSweepParams{Now: now, PurgeBefore: FactoryTime.Add(time.Minute), ReleaseBefore: now.Add(-core.IdempotencyWindow), Limit: 100})
		require.NoError(t, err)
		require.Equal(t, core.MessageSweepResult{Expired: 1, Purged: 1, Released: 1}, r)
		got := b.get(old.ID)
		require.Equal(t, core.MsgExpired, got.State)
		require.Nil(t, got.IdempotencyKey)
		require.Nil(t, got.NextAttemptAt)
		require.Equal(t, core.MsgQueued, b.get(fresh.ID).State)
		_, err = b.store.MessageGet(b.ctx, &core.MessageGetParams{ID: acked.ID})
		require.ErrorIs(t, err, core.ErrNotFound)
	})
}

func (s *storeSuite) testMessageUpdate(t *testing.T) {
	t.Parallel()

	t.Run("SavesStateAndAbortsOnError", func(t *testing.T) {
		t.Parallel()
		b := s.setupMsg(t)
		m := b.create(NewMessage(b.a, b.b, FactoryTime))[0]
		now := FactoryTime.Add(time.Minute)
		got, err := b.store.MessageUpdate(b.ctx, &core.MessageUpdateParams{Viewer: b.user.ID, ID: m.ID, Fn: func(m *core.Message) error {
			m.State, m.ReadAt, m.UpdatedAt, m.NextAttemptAt = core.MsgRead, &now, now, nil
			return nil
		}})
		require.NoError(t, err)
		require.Equal(t, core.MsgRead, got.State)
		requireTimePtrEqual(t, s.opts.TimePrecision, &now, got.ReadAt, "ReadAt")
		require.Nil(t, got.NextAttemptAt)
		sentinel := core.Conflict("x", "y")
		_, err = b.store.MessageUpdate(b.ctx, &core.MessageUpdateParams{ID: m.ID, Fn: func(m *core.Message) error {
			m.State = core.MsgAcked
			return sentinel
		}})
		require.Same(t, sentinel, err)
		require.Equal(t, core.MsgRead, b.get(m.ID).State)
	})
}

func (s *storeSuite) testMessagePushRoom(t *testing.T) {
	t.Parallel()

	t.Run("SkipsDestinationsWithoutRoom", func(t *testing.T) {
		t.Parallel()
		b := s.setupMsg(t)
		other := NewAgent(b.user.ID, "o")
		other.WebhookURL, other.WebhookSecretSealed = new("https://other.example.com/x"), new("sealed")
		o, err := b.store.AgentCreate(b.ctx, &core.AgentCreateParams{Agent: other})
		require.NoError(t, err)
		for i := range 3 {
			b.create(NewMessage(b.a, b.b, FactoryTime.Add(time.Duration(i)*time.Second)))
		}
		want := b.create(NewMessage(b.a, o, FactoryTime.Add(time.Minute)))[0]
		got, err := b.store.MessagePushClaim(b.ctx, &core.MessagePushClaimParams{Now: FactoryTime.Add(time.Hour), Lease: time.Minute, Limit: 10,
			PerDestination: 5, Room: map[string]int{"hooks.example.com": 0, "other.example.com": 1}})
		require.NoError(t, err)
		require.Equal(t, []core.MessageID{want.ID}, messageIDs(got), "room 0 skips a destination (an open breaker)")
		got, err = b.store.MessagePushClaim(b.ctx, &core.MessagePushClaimParams{Now: FactoryTime.Add(time.Hour), Lease: time.Minute, Limit: 10,
			PerDestination: 5, Room: map[string]int{"hooks.example.com": 2}})
		require.NoError(t, err)
		require.Len(t, got, 2, "a destination's room bounds its claims")
	})
}
