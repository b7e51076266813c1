package sqlite_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/adapters/sqlite/sqlitetest"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/coretest"
)

func createParams(tenant core.TenantID, name string, status core.CueStatus, limit int) *core.CueCreateParams {
	return &core.CueCreateParams{Cue: coretest.NewCue(tenant, &coretest.CueOpts{Name: name, Status: status}), ActiveCueLimit: limit}
}

func cueNames(t *testing.T, s core.Store, tenant core.TenantID) []string {
	t.Helper()
	cues, _, err := s.CueList(t.Context(), &core.CueListParams{TenantID: tenant, Limit: 1000})
	require.NoError(t, err)
	names := make([]string, len(cues))
	for i, c := range cues {
		names[i] = c.Name
	}
	return names
}

// A group commit admits its creations in order, as if each had its own
// transaction: the limit counts the active and paused ones admitted before
// it, a name taken by an earlier one in the group conflicts, and an
// unknown tenant fails alone.
func TestCueCreateGroupAdmitsInOrder(t *testing.T) {
	t.Parallel()
	s := sqlitetest.NewStore(t)
	ctx := t.Context()
	u := coretest.CreateUser(t, s, nil)
	other := coretest.CreateUser(t, s, nil)
	_, err := s.CueCreate(ctx, createParams(u.ID, "existing", core.CueActive, 4))
	require.NoError(t, err)

	outs, errs := s.CreateGroupForTest(ctx, []*core.CueCreateParams{
		createParams(u.ID, "existing", core.CueActive, 4),                                // taken before the group
		createParams(u.ID, "a", core.CueActive, 4),                                       // 2nd of 4
		createParams(other.ID, "a", core.CueActive, 4),                                   // another tenant's names are its own
		createParams(u.ID, "a", core.CueActive, 4),                                       // taken earlier in the group
		createParams("00000000-0000-4000-8000-000000000000", "ghost", core.CueActive, 4), // no such tenant
		createParams(u.ID, "done", core.CueCompleted, 4),                                 // does not count
		createParams(u.ID, "b", core.CuePaused, 4),                                       // 3rd of 4
		createParams(u.ID, "c", core.CueActive, 4),                                       // 4th of 4
		createParams(u.ID, "d", core.CueActive, 4),                                       // over the limit
		createParams(u.ID, "ghost", core.CueActive, 5),                                   // a higher limit admits it
	})
	require.ErrorIs(t, errs[0], core.ErrConflict)
	require.NoError(t, errs[1])
	require.NoError(t, errs[2])
	require.ErrorIs(t, errs[3], core.ErrConflict)
	require.ErrorIs(t, errs[4], core.ErrNotFound)
	require.NoError(t, errs[5])
	require.NoError(t, errs[6])
	require.NoError(t, errs[7])
	require.ErrorIs(t, errs[8], core.ErrLimitExceeded)
	require.NoError(t, errs[9])
	require.Equal(t, "a", outs[1].Name)
	require.Equal(t, other.ID, outs[2].TenantID)
	require.Equal(t, core.CuePaused, outs[6].Status)
	for _, i := range []int{0, 3, 4, 8} {
		require.Nil(t, outs[i])
	}
	for _, i := range []int{1, 2, 5, 6, 7, 9} {
		got, err := s.CueGet(ctx, &core.CueGetParams{TenantID: outs[i].TenantID, ID: outs[i].ID})
		require.NoError(t, err)
		require.Equal(t, got, outs[i], "a creation returns the stored cue")
	}

	require.ElementsMatch(t, []string{"existing", "a", "done", "b", "c", "ghost"}, cueNames(t, s, u.ID))
	require.ElementsMatch(t, []string{"a"}, cueNames(t, s, other.ID))
	// The count the group left behind is the one the next creation sees.
	_, err = s.CueCreate(ctx, createParams(u.ID, "e", core.CueActive, 5))
	require.ErrorIs(t, err, core.ErrLimitExceeded)
	_, err = s.CueCreate(ctx, createParams(u.ID, "e", core.CueActive, 6))
	require.NoError(t, err)
}

// A statement that fails inside a group rolls the group back; each
// creation is then retried alone and gets its own result, so one bad
// creation costs the others nothing.
func TestCueCreateGroupFailureRetriesEachAlone(t *testing.T) {
	t.Parallel()
	s := sqlitetest.NewStore(t)
	ctx := t.Context()
	u := coretest.CreateUser(t, s, nil)
	first := createParams(u.ID, "first", core.CueActive, 10)
	dup := createParams(u.ID, "second", core.CueActive, 10)
	dup.Cue.ID = first.Cue.ID // the insert, not the admission, fails
	third := createParams(u.ID, "third", core.CueActive, 10)
	limited := createParams(u.ID, "fourth", core.CueActive, 2) // alone, it sees first and third

	outs, errs := s.CreateGroupForTest(ctx, []*core.CueCreateParams{first, dup, third, limited})
	require.NoError(t, errs[0])
	require.ErrorIs(t, errs[1], core.ErrConflict)
	require.Nil(t, outs[1])
	require.NoError(t, errs[2])
	require.ErrorIs(t, errs[3], core.ErrLimitExceeded)
	require.Equal(t, "third", outs[2].Name)
	require.ElementsMatch(t, []string{"first", "third"}, cueNames(t, s, u.ID))
	counts, err := s.CueCountByStatus(ctx, &core.CueCountByStatusParams{TenantID: u.ID})
	require.NoError(t, err)
	require.Equal(t, 2, counts[core.CueActive], "the rolled-back group left no count behind")
	_, err = s.CueCreate(ctx, createParams(u.ID, "fifth", core.CueActive, 3))
	require.NoError(t, err, "the rolled-back group left the stored count as it was")
	_, err = s.CueCreate(ctx, createParams(u.ID, "sixth", core.CueActive, 3))
	require.ErrorIs(t, err, core.ErrLimitExceeded)
}

// Consecutive groups carry the count from one to the next: a queue longer
// than one group is admitted as one sequence. (Skipping a creation whose
// caller has gone is the queue's: sql/sqlkit's group commit tests.)
func TestCueCreateConsecutiveGroups(t *testing.T) {
	t.Parallel()
	s := sqlitetest.NewStore(t)
	ctx := t.Context()
	u := coretest.CreateUser(t, s, nil)

	const n, limit = 150, 100
	ps := make([]*core.CueCreateParams, n)
	for i := range ps {
		ps[i] = createParams(u.ID, fmt.Sprintf("cue-%03d", i), core.CueActive, limit)
	}
	ps[80].Cue.Name = ps[3].Cue.Name // taken in the first group
	var errs []error
	for _, part := range [][]*core.CueCreateParams{ps[:64], ps[64:128], ps[128:]} {
		_, e := s.CreateGroupForTest(ctx, part)
		errs = append(errs, e...)
	}
	created := 0
	for i, err := range errs {
		switch {
		case i == 80:
			require.ErrorIs(t, err, core.ErrConflict)
		case i <= limit:
			require.NoError(t, err, i)
			created++
		default:
			require.ErrorIs(t, err, core.ErrLimitExceeded, i)
		}
	}
	require.Equal(t, limit, created)
	counts, err := s.CueCountByStatus(ctx, &core.CueCountByStatusParams{TenantID: u.ID})
	require.NoError(t, err)
	require.Equal(t, limit, counts[core.CueActive])
}
