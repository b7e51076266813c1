package coretest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

// claimAt is an idempotency claim of key in scope as of now, with the 24 h
// window.
func claimAt(scope, key, fingerprint string, now time.Time) *core.IdempotencyClaim {
	return &core.IdempotencyClaim{Scope: scope, Key: key, Fingerprint: fingerprint, Now: now, ExpiredBefore: now.Add(-core.IdempotencyWindow)}
}

func (s *storeSuite) testIdempotency(t *testing.T) {
	t.Parallel()

	t.Run("ExecutionCreateBindsKeyOnce", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		first := NewExecution(c, oddTime(0))
		_, err := b.store.ExecutionCreate(b.ctx, &core.ExecutionCreateParams{Execution: first, Idempotency: claimAt("fire:"+string(c.ID), "k", "fp1", oddTime(0))})
		require.NoError(t, err)
		rec, err := b.store.IdempotencyGet(b.ctx, &core.IdempotencyGetParams{TenantID: u.ID, Scope: "fire:" + string(c.ID), Key: "k"})
		require.NoError(t, err)
		require.Equal(t, "fp1", rec.Fingerprint)
		require.Equal(t, c.ID, rec.CueID)
		require.Equal(t, first.ID, *rec.ExecutionID)
		requireTimeEqual(t, s.opts.TimePrecision, oddTime(0), rec.CreatedAt, "CreatedAt")

		second := NewExecution(c, oddTime(time.Second))
		_, err = b.store.ExecutionCreate(b.ctx, &core.ExecutionCreateParams{Execution: second, Idempotency: claimAt("fire:"+string(c.ID), "k", "fp2", oddTime(time.Hour))})
		var held *core.IdempotencyHeld
		require.True(t, errors.As(err, &held), "%v", err)
		require.Equal(t, first.ID, *held.Record.ExecutionID)
		require.Equal(t, "fp1", held.Record.Fingerprint)
		require.Len(t, listExecutions(t, b.store, c), 1, "a held key inserts nothing")

		// Other tenants and other scopes are independent.
		_, err = b.store.IdempotencyGet(b.ctx, &core.IdempotencyGetParams{TenantID: CreateUser(t, b.store, nil).ID, Scope: "fire:" + string(c.ID), Key: "k"})
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = b.store.ExecutionCreate(b.ctx, &core.ExecutionCreateParams{Execution: second, Idempotency: claimAt("chain:x", "k", "fp2", oddTime(time.Hour))})
		require.NoError(t, err)
	})

	t.Run("ExpiredKeyIsReplaced", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		_, err := b.store.ExecutionCreate(b.ctx, &core.ExecutionCreateParams{Execution: NewExecution(c, oddTime(0)), Idempotency: claimAt("s", "k", "fp1", oddTime(0))})
		require.NoError(t, err)
		later := NewExecution(c, oddTime(time.Second))
		_, err = b.store.ExecutionCreate(b.ctx, &core.ExecutionCreateParams{Execution: later, Idempotency: claimAt("s", "k", "fp2", oddTime(core.IdempotencyWindow+time.Second))})
		require.NoError(t, err)
		rec, err := b.store.IdempotencyGet(b.ctx, &core.IdempotencyGetParams{TenantID: u.ID, Scope: "s", Key: "k"})
		require.NoError(t, err)
		require.Equal(t, later.ID, *rec.ExecutionID)
		require.Equal(t, "fp2", rec.Fingerprint)
	})

	t.Run("CueCreateBindsKeyAndDeleteFreesIt", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c, err := b.store.CueCreate(b.ctx, &core.CueCreateParams{Cue: NewCue(u.ID, nil), ActiveCueLimit: 10, Idempotency: claimAt("cues.create", "k", "fp", oddTime(0))})
		require.NoError(t, err)
		_, err = b.store.CueCreate(b.ctx, &core.CueCreateParams{Cue: NewCue(u.ID, nil), ActiveCueLimit: 10, Idempotency: claimAt("cues.create", "k", "fp", oddTime(time.Minute))})
		var held *core.IdempotencyHeld
		require.True(t, errors.As(err, &held), "%v", err)
		require.Equal(t, c.ID, held.Record.CueID)
		require.Nil(t, held.Record.ExecutionID)
		counts, err := b.store.CueCountByStatus(b.ctx, &core.CueCountByStatusParams{TenantID: u.ID})
		require.NoError(t, err)
		require.Equal(t, 1, counts[core.CueActive], "a held key creates nothing")

		require.NoError(t, b.store.CueDelete(b.ctx, &core.CueDeleteParams{TenantID: u.ID, ID: c.ID}))
		_, err = b.store.IdempotencyGet(b.ctx, &core.IdempotencyGetParams{TenantID: u.ID, Scope: "cues.create", Key: "k"})
		require.ErrorIs(t, err, core.ErrNotFound)
	})

	t.Run("ConcurrentClaimsHaveOneWinner", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = b.store.ExecutionCreate(b.ctx, &core.ExecutionCreateParams{
					Execution: NewExecution(c, oddTime(time.Duration(i)*time.Second)), Idempotency: claimAt("s", "race", "fp", oddTime(0)),
				})
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			var held *core.IdempotencyHeld
			switch {
			case err == nil:
				won++
			case errors.As(err, &held):
			default:
				t.Fatalf("unexpected error: %v", err)
			}
		}
		require.Equal(t, 1, won)
		require.Len(t, listExecutions(t, b.store, c), 1)
	})
}
