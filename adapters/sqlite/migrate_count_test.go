package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/adapters/sqlite"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/coretest"
)

// Migration 0014 folds the deltas 0010's triggers left into
// users.active_cue_count (CueCreate then reads only the row), and its
// triggers keep the count from then on.
func TestMigrateFoldsCueCountDeltas(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "count.db")
	s, err := sqlite.New(ctx, sqlite.Config{Path: path})
	require.NoError(t, err)
	u := coretest.CreateUser(t, s, nil)
	other := coretest.CreateUser(t, s, nil)
	for range 3 {
		coretest.CreateCue(t, s, u.ID, nil)
	}
	require.NoError(t, s.Close())

	// Back to a database migrated up to 0013: part of the count still in
	// deltas, as 0010's triggers left it.
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	for _, stmt := range []string{
		`DELETE FROM schema_migrations WHERE version LIKE '0014_%'`,
		`UPDATE users SET active_cue_count = active_cue_count - 2 WHERE id = '` + string(u.ID) + `'`,
		`INSERT INTO cue_count_deltas (user_id, delta) VALUES ('` + string(u.ID) + `', 1), ('` + string(u.ID) + `', 1)`,
	} {
		_, err := db.ExecContext(ctx, stmt)
		require.NoError(t, err, stmt)
	}
	require.NoError(t, db.Close())

	s, err = sqlite.New(ctx, sqlite.Config{Path: path})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	create := func(tenant core.TenantID, limit int) error {
		_, err := s.CueCreate(ctx, &core.CueCreateParams{Cue: coretest.NewCue(tenant, nil), ActiveCueLimit: limit})
		return err
	}
	require.ErrorIs(t, create(u.ID, 3), core.ErrLimitExceeded, "the deltas were folded in")
	require.NoError(t, create(u.ID, 4))
	require.NoError(t, create(other.ID, 1), "another tenant's count is its own")
	require.ErrorIs(t, create(other.ID, 1), core.ErrLimitExceeded)

	db, err = sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	var deltas int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM cue_count_deltas`).Scan(&deltas))
	require.Zero(t, deltas, "creations no longer append deltas")
}
