package coretest

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cueapi/cueapi/core"
	"github.com/stretchr/testify/require"
)

// acctDeviceCode returns a pending device code created at created,
// expiring 15 minutes later, not stored.
func acctDeviceCode(code string, created time.Time) *core.DeviceCode {
	return &core.DeviceCode{
		ID:        core.NewUUID(),
		Code:      code,
		Status:    "pending",
		ExpiresAt: created.Add(15 * time.Minute),
		CreatedAt: created,
	}
}

func acctCode() string { return "code-" + core.RandomHex(6) }

func acctCreateDeviceCode(t testing.TB, s core.Store, d *core.DeviceCode) {
	t.Helper()
	require.NoError(t, s.DeviceCodeCreate(t.Context(), d))
}

func acctGetDeviceCode(t testing.TB, s core.Store, code string) *core.DeviceCode {
	t.Helper()
	d, err := s.DeviceCodeGet(t.Context(), &core.DeviceCodeGetParams{Code: code})
	require.NoError(t, err)
	return d
}

func requireDeviceCodeEqual(t *testing.T, prec time.Duration, want, got *core.DeviceCode) {
	t.Helper()
	require.NotNil(t, got)
	requireTimeEqual(t, prec, want.ExpiresAt, got.ExpiresAt, "ExpiresAt")
	requireTimeEqual(t, prec, want.CreatedAt, got.CreatedAt, "CreatedAt")
	w, g := *want, *got
	w.ExpiresAt, w.CreatedAt, g.ExpiresAt, g.CreatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	require.Equal(t, w, g)
}

func (s *storeSuite) testDeviceCodeCreate(t *testing.T) {
	t.Parallel()

	t.Run("ConcurrentCreatesOfOneCodeCreateOne", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		code := acctCode()
		const n = 10
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = b.store.DeviceCodeCreate(b.ctx, acctDeviceCode(code, acctNow)) })
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
				continue
			}
			require.ErrorIs(t, err, core.ErrConflict)
		}
		require.Equal(t, 1, wins)
	})

	t.Run("ReplacesClaimedCode", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		first := acctDeviceCode(acctCode(), acctNow)
		first.Status = "claimed"
		acctCreateDeviceCode(t, b.store, first)

		second := acctDeviceCode(first.Code, acctNow.Add(time.Minute))
		acctCreateDeviceCode(t, b.store, second)
		requireDeviceCodeEqual(t, s.opts.TimePrecision, second, acctGetDeviceCode(t, b.store, first.Code))
	})

	t.Run("ReplacesExpiredCode", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		byTime := acctDeviceCode(acctCode(), acctNow)
		byTime.Status = "email_sent"
		acctCreateDeviceCode(t, b.store, byTime)
		early := acctDeviceCode(byTime.Code, byTime.ExpiresAt.Add(-time.Microsecond))
		require.ErrorIs(t, b.store.DeviceCodeCreate(b.ctx, early), core.ErrConflict, "live until expires_at")
		again := acctDeviceCode(byTime.Code, byTime.ExpiresAt)
		acctCreateDeviceCode(t, b.store, again)
		requireDeviceCodeEqual(t, s.opts.TimePrecision, again, acctGetDeviceCode(t, b.store, byTime.Code))

		byStatus := acctDeviceCode(acctCode(), acctNow)
		byStatus.Status = "expired"
		acctCreateDeviceCode(t, b.store, byStatus)
		replacement := acctDeviceCode(byStatus.Code, acctNow.Add(time.Second))
		acctCreateDeviceCode(t, b.store, replacement)
		requireDeviceCodeEqual(t, s.opts.TimePrecision, replacement, acctGetDeviceCode(t, b.store, byStatus.Code))
	})

	t.Run("ReturnsConflictForLiveCode", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		for _, status := range []string{"pending", "email_sent", "approved"} {
			first := acctDeviceCode(acctCode(), acctNow)
			first.Status = status
			acctCreateDeviceCode(t, b.store, first)
			err := b.store.DeviceCodeCreate(b.ctx, acctDeviceCode(first.Code, acctNow.Add(time.Minute)))
			require.ErrorIs(t, err, core.ErrConflict, status)
			requireDeviceCodeEqual(t, s.opts.TimePrecision, first, acctGetDeviceCode(t, b.store, first.Code))
		}
	})

	t.Run("RoundTripsEveryField", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		u := acctUser(t, b.store, false)
		full := acctDeviceCode(acctCode(), oddTime(0))
		full.Email = new("dev@example.com")
		full.Status = "approved"
		full.APIKeySealed = new("sealed:key")
		full.VerificationTokenHash = new(strings.Repeat("a", 64))
		full.SessionTokenHash = new(strings.Repeat("b", 64))
		full.UserID = &u.ID
		acctCreateDeviceCode(t, b.store, full)
		requireDeviceCodeEqual(t, s.opts.TimePrecision, full, acctGetDeviceCode(t, b.store, full.Code))
	})
}

func (s *storeSuite) testDeviceCodeGet(t *testing.T) {
	t.Parallel()

	t.Run("ReturnsNotFoundForUnknownCode", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		acctCreateDeviceCode(t, b.store, acctDeviceCode(acctCode(), acctNow))
		_, err := b.store.DeviceCodeGet(b.ctx, &core.DeviceCodeGetParams{Code: acctCode()})
		require.ErrorIs(t, err, core.ErrNotFound)
	})

	t.Run("ReturnsExpiredCodes", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		d := acctDeviceCode(acctCode(), acctNow.Add(-24*time.Hour))
		acctCreateDeviceCode(t, b.store, d)
		requireDeviceCodeEqual(t, s.opts.TimePrecision, d, acctGetDeviceCode(t, b.store, d.Code))
	})
}

func (s *storeSuite) testDeviceCodeGetBySessionToken(t *testing.T) {
	t.Parallel()

	t.Run("FindsRowByHash", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		d := acctDeviceCode(acctCode(), acctNow)
		d.SessionTokenHash = new(core.RandomHex(32))
		acctCreateDeviceCode(t, b.store, d)
		acctCreateDeviceCode(t, b.store, acctDeviceCode(acctCode(), acctNow))

		got, err := b.store.DeviceCodeGetBySessionToken(b.ctx, &core.DeviceCodeGetBySessionTokenParams{Hash: *d.SessionTokenHash})
		require.NoError(t, err)
		requireDeviceCodeEqual(t, s.opts.TimePrecision, d, got)
	})

	t.Run("ReturnsNotFoundForUnknownHash", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		acctCreateDeviceCode(t, b.store, acctDeviceCode(acctCode(), acctNow))
		for _, hash := range []string{core.RandomHex(32), ""} {
			_, err := b.store.DeviceCodeGetBySessionToken(b.ctx, &core.DeviceCodeGetBySessionTokenParams{Hash: hash})
			require.ErrorIs(t, err, core.ErrNotFound)
		}
	})
}

func (s *storeSuite) testDeviceCodeUpdate(t *testing.T) {
	t.Parallel()

	t.Run("ConcurrentUpdatesSerialize", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		d := acctDeviceCode(acctCode(), acctNow)
		d.Email = new("0")
		acctCreateDeviceCode(t, b.store, d)
		const n = 10
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = b.store.DeviceCodeUpdate(b.ctx, &core.DeviceCodeUpdateParams{Code: d.Code, Fn: func(d *core.DeviceCode) error {
					k, err := strconv.Atoi(*d.Email)
					if err != nil {
						return err
					}
					d.Email = new(strconv.Itoa(k + 1))
					return nil
				}})
			})
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		require.Equal(t, new(strconv.Itoa(n)), acctGetDeviceCode(t, b.store, d.Code).Email, "no update lost")
	})

	t.Run("FnErrorAbortsWithoutSaving", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		d := acctDeviceCode(acctCode(), acctNow)
		acctCreateDeviceCode(t, b.store, d)
		boom := errors.New("boom")
		_, err := b.store.DeviceCodeUpdate(b.ctx, &core.DeviceCodeUpdateParams{Code: d.Code, Fn: func(d *core.DeviceCode) error {
			d.Status = "approved"
			d.Email = new("x@example.com")
			return boom
		}})
		require.ErrorIs(t, err, boom)
		requireDeviceCodeEqual(t, s.opts.TimePrecision, d, acctGetDeviceCode(t, b.store, d.Code))
	})

	t.Run("ReturnsNotFoundForUnknownCode", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		called := false
		_, err := b.store.DeviceCodeUpdate(b.ctx, &core.DeviceCodeUpdateParams{Code: acctCode(), Fn: func(*core.DeviceCode) error {
			called = true
			return nil
		}})
		require.ErrorIs(t, err, core.ErrNotFound)
		require.False(t, called)
	})

	t.Run("SavesTheFieldsFnLeaves", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		u := acctUser(t, b.store, false)
		d := acctDeviceCode(acctCode(), oddTime(0))
		d.VerificationTokenHash = new("old-verification")
		acctCreateDeviceCode(t, b.store, d)

		var seen *core.DeviceCode
		got, err := b.store.DeviceCodeUpdate(b.ctx, &core.DeviceCodeUpdateParams{Code: d.Code, Fn: func(x *core.DeviceCode) error {
			seen = new(*x)
			x.Email = new("dev@example.com")
			x.Status = "approved"
			x.APIKeySealed = new("sealed:key")
			x.VerificationTokenHash = nil
			x.SessionTokenHash = new("session-hash")
			x.UserID = &u.ID
			// Not saved:
			x.ExpiresAt = x.ExpiresAt.Add(time.Hour)
			x.CreatedAt = x.CreatedAt.Add(time.Hour)
			return nil
		}})
		require.NoError(t, err)
		requireDeviceCodeEqual(t, s.opts.TimePrecision, d, seen)

		want := *d
		want.Email, want.Status, want.APIKeySealed = new("dev@example.com"), "approved", new("sealed:key")
		want.VerificationTokenHash, want.SessionTokenHash, want.UserID = nil, new("session-hash"), &u.ID
		requireDeviceCodeEqual(t, s.opts.TimePrecision, &want, got)
		requireDeviceCodeEqual(t, s.opts.TimePrecision, &want, acctGetDeviceCode(t, b.store, d.Code))
	})
}

func (s *storeSuite) testDeviceCodePurge(t *testing.T) {
	t.Parallel()

	t.Run("DeletesExpiredCodesOnly", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		before := acctNow
		codeAt := func(expires time.Time) *core.DeviceCode {
			d := acctDeviceCode(acctCode(), expires.Add(-15*time.Minute))
			acctCreateDeviceCode(t, b.store, d)
			return d
		}
		goneCode := codeAt(before.Add(-time.Microsecond))
		keptCodes := []*core.DeviceCode{codeAt(before), codeAt(before.Add(time.Hour))}
		expiredEcho := acctEcho(acctEchoToken(), `{}`, before.Add(-time.Hour).Add(-core.EchoTTL))
		require.NoError(t, b.store.EchoPut(b.ctx, expiredEcho))

		n, err := b.store.DeviceCodePurge(b.ctx, &core.DeviceCodePurgeParams{Before: before})
		require.NoError(t, err)
		require.Equal(t, 1, n)

		_, err = b.store.DeviceCodeGet(b.ctx, &core.DeviceCodeGetParams{Code: goneCode.Code})
		require.ErrorIs(t, err, core.ErrNotFound)
		for _, d := range keptCodes {
			acctGetDeviceCode(t, b.store, d.Code)
		}
		long := acctNow.Add(-24 * time.Hour) // before every expiry: only deletion hides an entry
		_, err = b.store.EchoGet(b.ctx, &core.EchoGetParams{Token: expiredEcho.Token, Now: long})
		require.NoError(t, err, "echo entries are EchoPurge's")

		n, err = b.store.DeviceCodePurge(b.ctx, &core.DeviceCodePurgeParams{Before: before})
		require.NoError(t, err)
		require.Zero(t, n)
	})
}
