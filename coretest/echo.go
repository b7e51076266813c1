package coretest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/cueapi/cueapi/core"
	"github.com/stretchr/testify/require"
)

func acctEcho(token string, body string, received time.Time) *core.EchoEntry {
	return &core.EchoEntry{
		Token:      token,
		Body:       json.RawMessage(body),
		Headers:    map[string]string{"content-type": "application/json", "x-n": "1"},
		ReceivedAt: received,
		ExpiresAt:  received.Add(core.EchoTTL),
	}
}

func acctEchoToken() string { return "echo-" + core.RandomHex(12) }

func requireEchoEqual(t *testing.T, prec time.Duration, want, got *core.EchoEntry) {
	t.Helper()
	require.NotNil(t, got)
	require.Equal(t, want.Token, got.Token)
	require.JSONEq(t, string(want.Body), string(got.Body))
	if len(want.Headers) == 0 {
		require.Empty(t, got.Headers)
	} else {
		require.Equal(t, want.Headers, got.Headers)
	}
	requireTimeEqual(t, prec, want.ReceivedAt, got.ReceivedAt, "ReceivedAt")
	requireTimeEqual(t, prec, want.ExpiresAt, got.ExpiresAt, "ExpiresAt")
}

func (s *storeSuite) testEchoPut(t *testing.T) {
	t.Parallel()

	t.Run("OverwritesEntry", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		token := acctEchoToken()
		require.NoError(t, b.store.EchoPut(b.ctx, acctEcho(token, `{"n": 1}`, acctNow)))
		second := acctEcho(token, `[1, "two"]`, acctNow.Add(time.Minute))
		second.Headers = nil
		require.NoError(t, b.store.EchoPut(b.ctx, second))

		got, err := b.store.EchoGet(b.ctx, &core.EchoGetParams{Token: token, Now: acctNow.Add(time.Minute)})
		require.NoError(t, err)
		requireEchoEqual(t, s.opts.TimePrecision, second, got)
	})

	t.Run("StoresAnyJSONValue", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		for _, body := range []string{`"text"`, `42`, `null`, `true`, `{"a": {"b": [1, 2.5, null]}, "u": "é\u00e9"}`} {
			e := acctEcho(acctEchoToken(), body, acctNow)
			require.NoError(t, b.store.EchoPut(b.ctx, e))
			got, err := b.store.EchoGet(b.ctx, &core.EchoGetParams{Token: e.Token, Now: acctNow})
			require.NoError(t, err)
			requireEchoEqual(t, s.opts.TimePrecision, e, got)
		}
	})
}

func (s *storeSuite) testEchoGet(t *testing.T) {
	t.Parallel()

	t.Run("ReturnsNotFoundOnceExpired", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		e := acctEcho(acctEchoToken(), `{}`, acctNow)
		require.NoError(t, b.store.EchoPut(b.ctx, e))

		_, err := b.store.EchoGet(b.ctx, &core.EchoGetParams{Token: e.Token, Now: e.ExpiresAt.Add(-time.Microsecond)})
		require.NoError(t, err)
		_, err = b.store.EchoGet(b.ctx, &core.EchoGetParams{Token: e.Token, Now: e.ExpiresAt})
		require.ErrorIs(t, err, core.ErrNotFound)
	})

	t.Run("ReturnsNotFoundForUnknownToken", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		_, err := b.store.EchoGet(b.ctx, &core.EchoGetParams{Token: acctEchoToken(), Now: acctNow})
		require.ErrorIs(t, err, core.ErrNotFound)
	})

	t.Run("RoundTripsEveryField", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		e := acctEcho(acctEchoToken(), `{"attempt": 1, "payload": {"k": ["v", 2]}}`, oddTime(0))
		e.Headers["x-cueapi-signature"] = "v1=abc"
		require.NoError(t, b.store.EchoPut(b.ctx, e))
		got, err := b.store.EchoGet(b.ctx, &core.EchoGetParams{Token: e.Token, Now: oddTime(time.Second)})
		require.NoError(t, err)
		requireEchoEqual(t, s.opts.TimePrecision, e, got)
	})
}

func (s *storeSuite) testEchoPurge(t *testing.T) {
	t.Parallel()

	t.Run("DeletesExpiredEntriesOnly", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		before := acctNow
		echoAt := func(expires time.Time) *core.EchoEntry {
			e := acctEcho(acctEchoToken(), `{}`, expires.Add(-core.EchoTTL))
			require.NoError(t, b.store.EchoPut(b.ctx, e))
			return e
		}
		code := acctDeviceCode(acctCode(), before.Add(-time.Hour))
		acctCreateDeviceCode(t, b.store, code)
		goneEchoes := []*core.EchoEntry{echoAt(before.Add(-time.Hour)), echoAt(before)}
		keptEcho := echoAt(before.Add(time.Microsecond))

		n, err := b.store.EchoPurge(b.ctx, &core.EchoPurgeParams{Before: before})
		require.NoError(t, err)
		require.Equal(t, 2, n)

		long := acctNow.Add(-24 * time.Hour) // before every expiry: only deletion hides an entry
		for _, e := range goneEchoes {
			_, err := b.store.EchoGet(b.ctx, &core.EchoGetParams{Token: e.Token, Now: long})
			require.ErrorIs(t, err, core.ErrNotFound, fmt.Sprintf("echo expiring %s", e.ExpiresAt))
		}
		_, err = b.store.EchoGet(b.ctx, &core.EchoGetParams{Token: keptEcho.Token, Now: long})
		require.NoError(t, err)
		acctGetDeviceCode(t, b.store, code.Code) // device codes are DeviceCodePurge's

		n, err = b.store.EchoPurge(b.ctx, &core.EchoPurgeParams{Before: before})
		require.NoError(t, err)
		require.Zero(t, n)
	})
}
