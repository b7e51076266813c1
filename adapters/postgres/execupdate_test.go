package postgres_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/adapters/postgres/pgtest"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/coretest"
)

// A group of execution updates gives each the result it would have had
// alone: a foreign or missing execution is not found, a refusing Fn fails
// only its own update, and two updates of one cue (or one execution) run
// one after the other, the second seeing what the first saved.
func TestExecutionUpdateGroupActsAsIfAlone(t *testing.T) {
	t.Parallel()
	s := pgtest.NewStore(t)
	ctx := t.Context()
	u := coretest.CreateUser(t, s, nil)
	other := coretest.CreateUser(t, s, nil)
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	newExec := func(c *core.Cue, i int) *core.Execution {
		got, err := s.ExecutionCreate(ctx, &core.ExecutionCreateParams{Execution: coretest.NewExecution(c, at.Add(time.Duration(i)*time.Minute))})
		require.NoError(t, err)
		return got
	}
	c1, c2 := coretest.CreateCue(t, s, u.ID, nil), coretest.CreateCue(t, s, u.ID, nil)
	e1, e2, e3 := newExec(c1, 0), newExec(c2, 0), newExec(c1, 1)
	foreign := newExec(coretest.CreateCue(t, s, other.ID, nil), 0)

	refused := errors.New("refused")
	// mark appends to the error message, so a later update shows whether
	// it saw an earlier one's write.
	mark := func(id core.ExecutionID, m string) *core.ExecutionUpdateParams {
		return &core.ExecutionUpdateParams{TenantID: u.ID, ID: id, Fn: func(e *core.Execution, c *core.Cue) (*core.CueEffect, error) {
			prev := ""
			if e.ErrorMessage != nil {
				prev = *e.ErrorMessage
			}
			msg := prev + m
			e.ErrorMessage = &msg
			return nil, nil
		}}
	}
	outs, errs := s.UpdateGroupForTest(ctx, []*core.ExecutionUpdateParams{
		mark(e1.ID, "a"),
		mark(e2.ID, "b"),
		mark(foreign.ID, "x"), // another tenant's
		mark("00000000-0000-4000-8000-000000000000", "x"),
		{TenantID: u.ID, ID: e2.ID, Fn: func(*core.Execution, *core.Cue) (*core.CueEffect, error) { return nil, refused }},
		mark(e3.ID, "c"), // c1 again: after the group
		mark(e1.ID, "d"), // e1 again: after the group, on top of "a"
	})
	require.NoError(t, errs[0])
	require.Equal(t, "a", *outs[0].ErrorMessage)
	require.NoError(t, errs[1])
	require.ErrorIs(t, errs[2], core.ErrNotFound)
	require.ErrorIs(t, errs[3], core.ErrNotFound)
	require.ErrorIs(t, errs[4], refused)
	require.NoError(t, errs[5])
	require.Equal(t, "c", *outs[5].ErrorMessage)
	require.NoError(t, errs[6])
	require.Equal(t, "ad", *outs[6].ErrorMessage, "the second update of e1 saw the first's write")
	got, err := s.ExecutionGet(ctx, &core.ExecutionGetParams{TenantID: u.ID, ID: e2.ID})
	require.NoError(t, err)
	require.Equal(t, "b", *got.ErrorMessage, "the refused update changed nothing")
	got, err = s.ExecutionGet(ctx, &core.ExecutionGetParams{TenantID: other.ID, ID: foreign.ID})
	require.NoError(t, err)
	require.Nil(t, got.ErrorMessage)

	// Cue effects of a group are applied to each update's cue.
	_, errs = s.UpdateGroupForTest(ctx, []*core.ExecutionUpdateParams{
		{TenantID: u.ID, ID: e1.ID, Fn: func(*core.Execution, *core.Cue) (*core.CueEffect, error) {
			return &core.CueEffect{CountRun: true, SetLastRun: true, Now: at}, nil
		}},
		{TenantID: u.ID, ID: e2.ID, Fn: func(*core.Execution, *core.Cue) (*core.CueEffect, error) {
			return &core.CueEffect{CountRun: true, SetLastRun: true, Now: at.Add(time.Second)}, nil
		}},
	})
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	for _, c := range []*core.Cue{c1, c2} {
		got, err := s.CueGet(ctx, &core.CueGetParams{TenantID: u.ID, ID: c.ID})
		require.NoError(t, err)
		require.Equal(t, c.RunCount+1, got.RunCount, "cue %s", c.Name)
		require.NotNil(t, got.LastRun)
	}
}

// A statement that fails inside a group (here a save PostgreSQL refuses)
// rolls the group back; each update is then retried alone and gets its own
// result.
func TestExecutionUpdateGroupFailureRetriesEachAlone(t *testing.T) {
	t.Parallel()
	s := pgtest.NewStore(t)
	ctx := t.Context()
	u := coretest.CreateUser(t, s, nil)
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var ids []core.ExecutionID
	for range 3 {
		e, err := s.ExecutionCreate(ctx, &core.ExecutionCreateParams{Execution: coretest.NewExecution(coretest.CreateCue(t, s, u.ID, nil), at)})
		require.NoError(t, err)
		ids = append(ids, e.ID)
	}
	set := func(id core.ExecutionID, msg string) *core.ExecutionUpdateParams {
		return &core.ExecutionUpdateParams{TenantID: u.ID, ID: id, Fn: func(e *core.Execution, _ *core.Cue) (*core.CueEffect, error) {
			e.ErrorMessage = &msg
			return nil, nil
		}}
	}
	outs, errs := s.UpdateGroupForTest(ctx, []*core.ExecutionUpdateParams{set(ids[0], "ok"), set(ids[1], "nul \x00 byte"), set(ids[2], "ok too")})
	require.NoError(t, errs[0])
	require.Error(t, errs[1])
	require.NoError(t, errs[2])
	require.Equal(t, "ok", *outs[0].ErrorMessage)
	require.Equal(t, "ok too", *outs[2].ErrorMessage)
	got, err := s.ExecutionGet(ctx, &core.ExecutionGetParams{TenantID: u.ID, ID: ids[1]})
	require.NoError(t, err)
	require.Nil(t, got.ErrorMessage)
}
