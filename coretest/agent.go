package coretest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

// NewAgent returns a valid agent of tenant that is not stored yet.
func NewAgent(tenant core.TenantID, slug string) *core.Agent {
	return &core.Agent{
		ID: core.NewAgentID(), TenantID: tenant, Slug: slug, DisplayName: "Agent " + slug,
		Metadata: json.RawMessage(`{}`), Status: core.AgentOnline, CreatedAt: FactoryTime, UpdatedAt: FactoryTime,
	}
}

// CreateAgent stores NewAgent(tenant, slug) and returns what the store returned.
func CreateAgent(t testing.TB, s core.Store, tenant core.TenantID, slug string) *core.Agent {
	t.Helper()
	a, err := s.AgentCreate(t.Context(), &core.AgentCreateParams{Agent: NewAgent(tenant, slug)})
	require.NoError(t, err)
	return a
}

func requireAgentEqual(t *testing.T, prec time.Duration, want, got *core.Agent) {
	t.Helper()
	require.NotNil(t, got)
	requireTimeEqual(t, prec, want.CreatedAt, got.CreatedAt, "CreatedAt")
	requireTimeEqual(t, prec, want.UpdatedAt, got.UpdatedAt, "UpdatedAt")
	requireTimePtrEqual(t, prec, want.LastSeenAt, got.LastSeenAt, "LastSeenAt")
	requireTimePtrEqual(t, prec, want.DeletedAt, got.DeletedAt, "DeletedAt")
	requireJSONEqual(t, want.Metadata, got.Metadata, true, "Metadata")
	w, g := *want, *got
	for _, a := range []*core.Agent{&w, &g} {
		a.CreatedAt, a.UpdatedAt, a.LastSeenAt, a.DeletedAt, a.Metadata = time.Time{}, time.Time{}, nil, nil, nil
	}
	require.Equal(t, w, g)
}

func (s *storeSuite) testAgentCreate(t *testing.T) {
	t.Parallel()

	t.Run("RoundTripsEveryField", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		parent := CreateAgent(t, b.store, u.ID, "bg")
		a := NewAgent(u.ID, "live")
		a.WebhookURL, a.WebhookSecretSealed = new("https://hooks.example.com/a"), new("sealed:whsec_x")
		a.Metadata = json.RawMessage(`{"description":"héllo","n":1}`)
		a.Status, a.ParentAgentID = core.AgentAway, &parent.ID
		a.CreatedAt, a.UpdatedAt, a.LastSeenAt = oddTime(0), oddTime(time.Second), new(oddTime(2*time.Second))
		got, err := b.store.AgentCreate(b.ctx, &core.AgentCreateParams{Agent: a})
		require.NoError(t, err)
		requireAgentEqual(t, s.opts.TimePrecision, a, got)
		read, err := b.store.AgentGet(b.ctx, &core.AgentGetParams{ID: a.ID})
		require.NoError(t, err)
		requireAgentEqual(t, s.opts.TimePrecision, a, read)
	})

	t.Run("ReturnsConflictForTakenSlugOfSameTenantOnly", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u, v := CreateUser(t, b.store, nil), CreateUser(t, b.store, nil)
		CreateAgent(t, b.store, u.ID, "ops")
		_, err := b.store.AgentCreate(b.ctx, &core.AgentCreateParams{Agent: NewAgent(u.ID, "ops")})
		require.ErrorIs(t, err, core.ErrConflict)
		CreateAgent(t, b.store, v.ID, "ops")
	})
}

func (s *storeSuite) testAgentGet(t *testing.T) {
	t.Parallel()

	t.Run("ScopesByTenantAndDeletion", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u, v := CreateUser(t, b.store, nil), CreateUser(t, b.store, nil)
		a := CreateAgent(t, b.store, u.ID, "ops")
		_, err := b.store.AgentGet(b.ctx, &core.AgentGetParams{TenantID: v.ID, ID: a.ID})
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = b.store.AgentGet(b.ctx, &core.AgentGetParams{TenantID: "not-a-uuid", ID: a.ID})
		require.ErrorIs(t, err, core.ErrNotFound)
		got, err := b.store.AgentGet(b.ctx, &core.AgentGetParams{TenantID: u.ID, ID: a.ID})
		require.NoError(t, err)
		require.Equal(t, a.ID, got.ID)

		_, err = b.store.AgentUpdate(b.ctx, &core.AgentUpdateParams{TenantID: u.ID, ID: a.ID, Fn: func(a *core.Agent) error {
			a.DeletedAt = new(FactoryTime.Add(time.Hour))
			return nil
		}})
		require.NoError(t, err)
		_, err = b.store.AgentGet(b.ctx, &core.AgentGetParams{ID: a.ID})
		require.ErrorIs(t, err, core.ErrNotFound)
		got, err = b.store.AgentGet(b.ctx, &core.AgentGetParams{ID: a.ID, IncludeDeleted: true})
		require.NoError(t, err)
		require.NotNil(t, got.DeletedAt)
	})

	t.Run("BySlugJoinsTheUserSlug", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u, v := CreateUser(t, b.store, nil), CreateUser(t, b.store, nil)
		a := CreateAgent(t, b.store, u.ID, "ops")
		CreateAgent(t, b.store, v.ID, "ops")
		got, err := b.store.AgentGetBySlug(b.ctx, &core.AgentGetBySlugParams{UserSlug: u.Slug, Slug: "ops"})
		require.NoError(t, err)
		require.Equal(t, a.ID, got.ID)
		_, err = b.store.AgentGetBySlug(b.ctx, &core.AgentGetBySlugParams{TenantID: v.ID, UserSlug: u.Slug, Slug: "ops"})
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = b.store.AgentGetBySlug(b.ctx, &core.AgentGetBySlugParams{UserSlug: u.Slug, Slug: "nope"})
		require.ErrorIs(t, err, core.ErrNotFound)
	})
}

func (s *storeSuite) testAgentList(t *testing.T) {
	t.Parallel()

	t.Run("PagesNewestFirstWithFilters", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u, v := CreateUser(t, b.store, nil), CreateUser(t, b.store, nil)
		var ids []core.AgentID
		for i, slug := range []string{"a", "b", "c"} {
			a := NewAgent(u.ID, slug)
			a.CreatedAt = FactoryTime.Add(time.Duration(i) * time.Minute)
			if slug == "b" {
				a.Status = core.AgentAway
			}
			_, err := b.store.AgentCreate(b.ctx, &core.AgentCreateParams{Agent: a})
			require.NoError(t, err)
			ids = append(ids, a.ID)
		}
		CreateAgent(t, b.store, v.ID, "x")
		got, total, err := b.store.AgentList(b.ctx, &core.AgentListParams{TenantID: u.ID, Limit: 2})
		require.NoError(t, err)
		require.Equal(t, 3, total)
		require.Equal(t, []core.AgentID{ids[2], ids[1]}, []core.AgentID{got[0].ID, got[1].ID})
		got, total, err = b.store.AgentList(b.ctx, &core.AgentListParams{TenantID: u.ID, Status: new(core.AgentAway)})
		require.NoError(t, err)
		require.Equal(t, 1, total)
		require.Equal(t, ids[1], got[0].ID)
	})
}

func (s *storeSuite) testAgentTouch(t *testing.T) {
	t.Parallel()

	t.Run("SetsLastSeen", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		a := CreateAgent(t, b.store, u.ID, "ops")
		now := oddTime(time.Hour)
		require.NoError(t, b.store.AgentTouch(b.ctx, &core.AgentTouchParams{ID: a.ID, Now: now}))
		got, err := b.store.AgentGet(b.ctx, &core.AgentGetParams{ID: a.ID})
		require.NoError(t, err)
		requireTimePtrEqual(t, s.opts.TimePrecision, &now, got.LastSeenAt, "LastSeenAt")
	})
}

func (s *storeSuite) testAgentUpdate(t *testing.T) {
	t.Parallel()

	t.Run("SavesMutableFieldsAndRefusesOtherTenant", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u, v := CreateUser(t, b.store, nil), CreateUser(t, b.store, nil)
		a := CreateAgent(t, b.store, u.ID, "ops")
		_, err := b.store.AgentUpdate(b.ctx, &core.AgentUpdateParams{TenantID: v.ID, ID: a.ID, Fn: func(*core.Agent) error { return nil }})
		require.ErrorIs(t, err, core.ErrNotFound)
		got, err := b.store.AgentUpdate(b.ctx, &core.AgentUpdateParams{TenantID: u.ID, ID: a.ID, Fn: func(a *core.Agent) error {
			a.DisplayName, a.Status, a.Metadata = "New", core.AgentOffline, json.RawMessage(`{"k":"v"}`)
			a.WebhookURL, a.WebhookSecretSealed = new("https://hooks.example.com/x"), new("sealed")
			a.UpdatedAt = FactoryTime.Add(time.Hour)
			return nil
		}})
		require.NoError(t, err)
		require.Equal(t, "New", got.DisplayName)
		require.Equal(t, core.AgentOffline, got.Status)
		require.JSONEq(t, `{"k":"v"}`, string(got.Metadata))
		require.Equal(t, "https://hooks.example.com/x", *got.WebhookURL)
		sentinel := core.Conflict("x", "y")
		_, err = b.store.AgentUpdate(b.ctx, &core.AgentUpdateParams{TenantID: u.ID, ID: a.ID, Fn: func(a *core.Agent) error {
			a.DisplayName = "Lost"
			return sentinel
		}})
		require.Same(t, sentinel, err)
		read, err := b.store.AgentGet(b.ctx, &core.AgentGetParams{ID: a.ID})
		require.NoError(t, err)
		require.Equal(t, "New", read.DisplayName)
	})
}
