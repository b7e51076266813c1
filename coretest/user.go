package coretest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cueapi/cueapi/core"
	"github.com/stretchr/testify/require"
)

func (s *storeSuite) testRotatedKeyGet(t *testing.T) {
	t.Parallel()

	t.Run("ReturnsNotFoundForUnknownHash", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		CreateUser(t, b.store, nil)
		_, err := b.store.RotatedKeyGet(b.ctx, &core.RotatedKeyGetParams{Hash: core.HashAPIKey(core.NewAPIKey())})
		require.ErrorIs(t, err, core.ErrNotFound)
	})
}

func (s *storeSuite) testUserCreate(t *testing.T) {
	t.Parallel()

	t.Run("AcceptsEmailDifferingOnlyInCase", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		_, err := b.store.UserCreate(b.ctx, &core.UserCreateParams{User: NewUser(&UserOpts{Email: strings.ToUpper(u.Email)})})
		require.NoError(t, err)
	})

	t.Run("ReturnsConflictForDuplicateEmail", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		_, err := b.store.UserCreate(b.ctx, &core.UserCreateParams{User: NewUser(&UserOpts{Email: u.Email})})
		require.ErrorIs(t, err, core.ErrConflict)
	})

	t.Run("ReturnsConflictForDuplicateSlug", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		dup := NewUser(nil)
		dup.Slug = u.Slug
		_, err := b.store.UserCreate(b.ctx, &core.UserCreateParams{User: dup})
		require.ErrorIs(t, err, core.ErrConflict)
		got, err := b.store.UserGet(b.ctx, &core.UserGetParams{ID: u.ID})
		require.NoError(t, err)
		require.Equal(t, u.Slug, got.Slug)
	})

	t.Run("ReturnsConflictForDuplicateKeyHash", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		dup := NewUser(nil)
		dup.APIKeyHash = u.APIKeyHash
		_, err := b.store.UserCreate(b.ctx, &core.UserCreateParams{User: dup})
		require.ErrorIs(t, err, core.ErrConflict)
	})

	t.Run("RoundTripsEveryField", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := NewUser(nil)
		u.APIKeySealed = new("sealed:key")
		u.Plan = "pro"
		u.ActiveCueLimit = 100
		u.MonthlyExecutionLimit = 5000
		u.RateLimitPerMinute = 600
		u.AlertWebhookURL = new("https://alerts.example.com/hook")
		u.AlertSecretSealed = new("sealed:alert")
		u.CreatedAt = oddTime(0)
		u.UpdatedAt = oddTime(time.Hour)

		created, err := b.store.UserCreate(b.ctx, &core.UserCreateParams{User: u})
		require.NoError(t, err)
		requireUserEqual(t, s.opts.TimePrecision, u, created)

		got, err := b.store.UserGet(b.ctx, &core.UserGetParams{ID: u.ID})
		require.NoError(t, err)
		requireUserEqual(t, s.opts.TimePrecision, u, got)
	})

	t.Run("RoundTripsNilOptionalFields", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := NewUser(nil)
		require.Nil(t, u.APIKeySealed)
		require.Nil(t, u.AlertWebhookURL)
		require.Nil(t, u.AlertSecretSealed)

		_, err := b.store.UserCreate(b.ctx, &core.UserCreateParams{User: u})
		require.NoError(t, err)
		got, err := b.store.UserGet(b.ctx, &core.UserGetParams{ID: u.ID})
		require.NoError(t, err)
		requireUserEqual(t, s.opts.TimePrecision, u, got)
	})
}

func (s *storeSuite) testUserGet(t *testing.T) {
	t.Parallel()

	t.Run("ReturnsNotFoundForNonUUID", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		CreateUser(t, b.store, nil)
		_, err := b.store.UserGet(b.ctx, &core.UserGetParams{ID: "not-a-uuid"})
		require.ErrorIs(t, err, core.ErrNotFound)
	})

	t.Run("ReturnsNotFoundForUnknownID", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		CreateUser(t, b.store, nil)
		_, err := b.store.UserGet(b.ctx, &core.UserGetParams{ID: core.NewTenantID()})
		require.ErrorIs(t, err, core.ErrNotFound)
	})
}

func (s *storeSuite) testUserGetByAPIKeyHash(t *testing.T) {
	t.Parallel()

	t.Run("ReturnsNotFoundForUnknownHash", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		CreateUser(t, b.store, nil)
		_, err := b.store.UserGetByAPIKeyHash(b.ctx, &core.UserGetByAPIKeyHashParams{Hash: core.HashAPIKey(core.NewAPIKey())})
		require.ErrorIs(t, err, core.ErrNotFound)
	})

	t.Run("ReturnsUserOfCurrentKey", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		CreateUser(t, b.store, nil)
		got, err := b.store.UserGetByAPIKeyHash(b.ctx, &core.UserGetByAPIKeyHashParams{Hash: u.APIKeyHash})
		require.NoError(t, err)
		requireUserEqual(t, s.opts.TimePrecision, u, got)
	})
}

func (s *storeSuite) testUserRotateAPIKey(t *testing.T) {
	t.Parallel()

	t.Run("ReplacesKeyAndRecordsRotation", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		key := core.NewAPIKey()
		now := oddTime(24 * time.Hour)

		rotated, oldHash, err := b.store.UserRotateAPIKey(b.ctx, &core.UserRotateAPIKeyParams{
			ID: u.ID, NewHash: core.HashAPIKey(key), NewPrefix: core.APIKeyPrefix(key), NewSealed: new("sealed:new"), Now: now,
		})
		require.NoError(t, err)
		require.Equal(t, u.APIKeyHash, oldHash)
		want := *u
		want.APIKeyHash = core.HashAPIKey(key)
		want.APIKeyPrefix = core.APIKeyPrefix(key)
		want.APIKeySealed = new("sealed:new")
		want.UpdatedAt = now
		requireUserEqual(t, s.opts.TimePrecision, &want, rotated)

		_, err = b.store.UserGetByAPIKeyHash(b.ctx, &core.UserGetByAPIKeyHashParams{Hash: oldHash})
		require.ErrorIs(t, err, core.ErrNotFound)
		got, err := b.store.UserGetByAPIKeyHash(b.ctx, &core.UserGetByAPIKeyHashParams{Hash: core.HashAPIKey(key)})
		require.NoError(t, err)
		requireUserEqual(t, s.opts.TimePrecision, &want, got)

		at, err := b.store.RotatedKeyGet(b.ctx, &core.RotatedKeyGetParams{Hash: oldHash})
		require.NoError(t, err)
		requireTimeEqual(t, s.opts.TimePrecision, now, at, "rotated at")
		_, err = b.store.RotatedKeyGet(b.ctx, &core.RotatedKeyGetParams{Hash: core.HashAPIKey(key)})
		require.ErrorIs(t, err, core.ErrNotFound)
	})

	t.Run("ReturnsConflictForTakenHashAndChangesNothing", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		other := CreateUser(t, b.store, nil)

		_, _, err := b.store.UserRotateAPIKey(b.ctx, &core.UserRotateAPIKeyParams{
			ID: u.ID, NewHash: other.APIKeyHash, NewPrefix: other.APIKeyPrefix, Now: oddTime(time.Hour),
		})
		require.ErrorIs(t, err, core.ErrConflict)

		got, err := b.store.UserGetByAPIKeyHash(b.ctx, &core.UserGetByAPIKeyHashParams{Hash: u.APIKeyHash})
		require.NoError(t, err)
		requireUserEqual(t, s.opts.TimePrecision, u, got)
		_, err = b.store.RotatedKeyGet(b.ctx, &core.RotatedKeyGetParams{Hash: u.APIKeyHash})
		require.ErrorIs(t, err, core.ErrNotFound)
	})

	t.Run("ReturnsNotFoundForUnknownUser", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		key := core.NewAPIKey()
		_, _, err := b.store.UserRotateAPIKey(b.ctx, &core.UserRotateAPIKeyParams{
			ID: core.NewTenantID(), NewHash: core.HashAPIKey(key), NewPrefix: core.APIKeyPrefix(key), Now: oddTime(0),
		})
		require.ErrorIs(t, err, core.ErrNotFound)
	})
}

func (s *storeSuite) testUserUpdate(t *testing.T) {
	t.Parallel()

	t.Run("ClearsOptionalFieldsSetToNil", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := NewUser(nil)
		u.AlertWebhookURL = new("https://alerts.example.com/hook")
		u.AlertSecretSealed = new("sealed:alert")
		_, err := b.store.UserCreate(b.ctx, &core.UserCreateParams{User: u})
		require.NoError(t, err)

		updated, err := b.store.UserUpdate(b.ctx, &core.UserUpdateParams{ID: u.ID, Fn: func(u *core.User) error {
			u.AlertWebhookURL = nil
			u.AlertSecretSealed = nil
			return nil
		}})
		require.NoError(t, err)
		require.Nil(t, updated.AlertWebhookURL)
		require.Nil(t, updated.AlertSecretSealed)
		got, err := b.store.UserGet(b.ctx, &core.UserGetParams{ID: u.ID})
		require.NoError(t, err)
		require.Nil(t, got.AlertWebhookURL)
		require.Nil(t, got.AlertSecretSealed)
	})

	t.Run("FnErrorAbortsWithoutSaving", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		boom := errors.New("boom")

		_, err := b.store.UserUpdate(b.ctx, &core.UserUpdateParams{ID: u.ID, Fn: func(u *core.User) error {
			u.Email = "changed@example.com"
			u.Plan = "pro"
			return boom
		}})
		require.Same(t, boom, err)

		got, err := b.store.UserGet(b.ctx, &core.UserGetParams{ID: u.ID})
		require.NoError(t, err)
		requireUserEqual(t, s.opts.TimePrecision, u, got)
	})

	t.Run("KeepsKeyAndCreationFields", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)

		updated, err := b.store.UserUpdate(b.ctx, &core.UserUpdateParams{ID: u.ID, Fn: func(u *core.User) error {
			u.ID = core.NewTenantID()
			u.APIKeyHash = core.HashAPIKey(core.NewAPIKey())
			u.APIKeyPrefix = "cue_sk_zzzzz"
			u.APIKeySealed = new("sealed:other")
			u.CreatedAt = oddTime(0)
			return nil
		}})
		require.NoError(t, err)
		requireUserEqual(t, s.opts.TimePrecision, u, updated)
		got, err := b.store.UserGetByAPIKeyHash(b.ctx, &core.UserGetByAPIKeyHashParams{Hash: u.APIKeyHash})
		require.NoError(t, err)
		requireUserEqual(t, s.opts.TimePrecision, u, got)
	})

	t.Run("ReturnsConflictForTakenEmail", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		other := CreateUser(t, b.store, nil)

		_, err := b.store.UserUpdate(b.ctx, &core.UserUpdateParams{ID: u.ID, Fn: func(u *core.User) error {
			u.Email = other.Email
			return nil
		}})
		require.ErrorIs(t, err, core.ErrConflict)
		got, err := b.store.UserGet(b.ctx, &core.UserGetParams{ID: u.ID})
		require.NoError(t, err)
		require.Equal(t, u.Email, got.Email)
	})

	t.Run("ReturnsNotFoundForUnknownUser", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		called := false
		_, err := b.store.UserUpdate(b.ctx, &core.UserUpdateParams{ID: core.NewTenantID(), Fn: func(*core.User) error {
			called = true
			return nil
		}})
		require.ErrorIs(t, err, core.ErrNotFound)
		require.False(t, called, "Fn must not run without a row")
	})

	t.Run("SavesFieldsSetByFn", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		var seen core.User
		want := *u
		want.Email = "renamed@example.com"
		want.Plan = "pro"
		want.ActiveCueLimit = 100
		want.MonthlyExecutionLimit = 5000
		want.RateLimitPerMinute = 600
		want.WebhookSecretSealed = "sealed:rotated-secret"
		want.AlertWebhookURL = new("https://alerts.example.com/hook")
		want.AlertSecretSealed = new("sealed:alert")
		want.UpdatedAt = oddTime(time.Hour)

		updated, err := b.store.UserUpdate(b.ctx, &core.UserUpdateParams{ID: u.ID, Fn: func(u *core.User) error {
			seen = *u
			u.Email = want.Email
			u.Plan = want.Plan
			u.ActiveCueLimit = want.ActiveCueLimit
			u.MonthlyExecutionLimit = want.MonthlyExecutionLimit
			u.RateLimitPerMinute = want.RateLimitPerMinute
			u.WebhookSecretSealed = want.WebhookSecretSealed
			u.AlertWebhookURL = want.AlertWebhookURL
			u.AlertSecretSealed = want.AlertSecretSealed
			u.UpdatedAt = want.UpdatedAt
			return nil
		}})
		require.NoError(t, err)
		requireUserEqual(t, s.opts.TimePrecision, u, &seen)
		requireUserEqual(t, s.opts.TimePrecision, &want, updated)

		got, err := b.store.UserGet(b.ctx, &core.UserGetParams{ID: u.ID})
		require.NoError(t, err)
		requireUserEqual(t, s.opts.TimePrecision, &want, got)
	})
}
