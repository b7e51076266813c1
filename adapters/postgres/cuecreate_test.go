package postgres_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/adapters/postgres/pgtest"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/coretest"
)

// A group commit admits its creations in order, as if each had its own
// transaction: the limit counts those admitted before it, a name taken by
// an earlier one in the group conflicts, and an unknown tenant fails alone.
func TestCueCreateGroupAdmitsInOrder(t *testing.T) {
	t.Parallel()
	s := pgtest.NewStore(t)
	ctx := t.Context()
	u := coretest.CreateUser(t, s, nil)
	other := coretest.CreateUser(t, s, nil)
	_, err := s.CueCreate(ctx, &core.CueCreateParams{Cue: coretest.NewCue(u.ID, &coretest.CueOpts{Name: "existing"}), ActiveCueLimit: 3})
	require.NoError(t, err)

	create := func(tenant core.TenantID, name string) *core.CueCreateParams {
		return &core.CueCreateParams{Cue: coretest.NewCue(tenant, &coretest.CueOpts{Name: name}), ActiveCueLimit: 3}
	}
	outs, errs := s.CreateGroupForTest(ctx, []*core.CueCreateParams{
		create(u.ID, "existing"), // taken before the group
		create(u.ID, "a"),        // 2nd of 3
		create(other.ID, "a"),    // another tenant's names are its own
		create(u.ID, "a"),        // taken earlier in the group
		create("00000000-0000-4000-8000-000000000000", "ghost"), // no such tenant
		create(u.ID, "b"), // 3rd of 3
		create(u.ID, "c"), // over the limit
	})
	require.ErrorIs(t, errs[0], core.ErrConflict)
	require.NoError(t, errs[1])
	require.NoError(t, errs[2])
	require.ErrorIs(t, errs[3], core.ErrConflict)
	require.ErrorIs(t, errs[4], core.ErrNotFound)
	require.NoError(t, errs[5])
	require.ErrorIs(t, errs[6], core.ErrLimitExceeded)
	require.Equal(t, "a", outs[1].Name)
	require.Equal(t, other.ID, outs[2].TenantID)

	for tenant, want := range map[core.TenantID][]string{u.ID: {"b", "a", "existing"}, other.ID: {"a"}} {
		cues, _, err := s.CueList(ctx, &core.CueListParams{TenantID: tenant, Limit: 10})
		require.NoError(t, err)
		var names []string
		for _, c := range cues {
			names = append(names, c.Name)
		}
		require.ElementsMatch(t, want, names)
	}
}

// A statement that fails inside a group rolls the group back; each
// creation is then retried alone and gets its own result, so one bad
// creation costs the others nothing.
func TestCueCreateGroupFailureRetriesEachAlone(t *testing.T) {
	t.Parallel()
	s := pgtest.NewStore(t)
	ctx := t.Context()
	u := coretest.CreateUser(t, s, nil)
	first := coretest.NewCue(u.ID, &coretest.CueOpts{Name: "first"})
	dup := coretest.NewCue(u.ID, &coretest.CueOpts{Name: "second"})
	dup.ID = first.ID // the insert, not the admission, fails
	third := coretest.NewCue(u.ID, &coretest.CueOpts{Name: "third"})

	_, errs := s.CreateGroupForTest(ctx, []*core.CueCreateParams{
		{Cue: first, ActiveCueLimit: 10}, {Cue: dup, ActiveCueLimit: 10}, {Cue: third, ActiveCueLimit: 10},
	})
	require.NoError(t, errs[0])
	require.ErrorIs(t, errs[1], core.ErrConflict)
	require.NoError(t, errs[2])
	cues, total, err := s.CueList(ctx, &core.CueListParams{TenantID: u.ID, Limit: 10})
	require.NoError(t, err)
	require.Equal(t, 2, total)
	require.ElementsMatch(t, []string{"first", "third"}, []string{cues[0].Name, cues[1].Name})
	counts, err := s.CueCountByStatus(ctx, &core.CueCountByStatusParams{TenantID: u.ID})
	require.NoError(t, err)
	require.Equal(t, 2, counts[core.CueActive], "the rolled-back group left no count behind")
}

// Creations count themselves (migration 0014): a group adds each tenant's
// admitted active and paused cues to its count in the same transaction and
// appends nothing to cue_count_deltas, whose dead rows every later
// admission would otherwise read. Status changes still go through deltas.
func TestCueCreateGroupCountsItsOwnInserts(t *testing.T) {
	t.Parallel()
	s := pgtest.NewStore(t)
	ctx := t.Context()
	u := coretest.CreateUser(t, s, nil)
	other := coretest.CreateUser(t, s, nil)
	create := func(tenant core.TenantID, st core.CueStatus) *core.CueCreateParams {
		return &core.CueCreateParams{Cue: coretest.NewCue(tenant, &coretest.CueOpts{Status: st}), ActiveCueLimit: 4}
	}
	deltas := func() string {
		t.Helper()
		n, err := s.QueryStringForTest(ctx, "SELECT count(*)::text FROM cue_count_deltas")
		require.NoError(t, err)
		return n
	}

	_, errs := s.CreateGroupForTest(ctx, []*core.CueCreateParams{
		create(u.ID, core.CueActive), create(u.ID, core.CuePaused), create(other.ID, core.CueActive),
		create(u.ID, core.CueCompleted), // not counted
		create(u.ID, core.CueActive),
	})
	for i, err := range errs {
		require.NoError(t, err, "creation %d", i)
	}
	require.Equal(t, "0", deltas(), "creations append no deltas")

	_, errs = s.CreateGroupForTest(ctx, []*core.CueCreateParams{create(u.ID, core.CueActive), create(u.ID, core.CueActive), create(other.ID, core.CuePaused)})
	require.NoError(t, errs[0], "4th of 4")
	require.ErrorIs(t, errs[1], core.ErrLimitExceeded)
	require.NoError(t, errs[2], "the other tenant has 1 of 4")
	require.Equal(t, "0", deltas())

	// A status change leaving {active, paused} frees a slot through a delta.
	cues, _, err := s.CueList(ctx, &core.CueListParams{TenantID: u.ID, Status: new(string(core.CueActive)), Limit: 1})
	require.NoError(t, err)
	_, err = s.CueUpdate(ctx, &core.CueUpdateParams{TenantID: u.ID, ID: cues[0].ID, Fn: func(c *core.Cue) error {
		c.Status = core.CueCompleted
		return nil
	}})
	require.NoError(t, err)
	require.Equal(t, "1", deltas())
	_, errs = s.CreateGroupForTest(ctx, []*core.CueCreateParams{create(u.ID, core.CueActive), create(u.ID, core.CuePaused)})
	require.NoError(t, errs[0], "the completed cue's slot")
	require.ErrorIs(t, errs[1], core.ErrLimitExceeded)
	require.Equal(t, "0", deltas(), "the settle folded the delta")
}
