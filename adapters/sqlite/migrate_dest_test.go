package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/adapters/sqlite"
	"github.com/cueapi/cueapi/coretest"
	"github.com/cueapi/cueapi/sql/migrations"
)

// Migration 0011 gives executions still to be delivered the destination of
// their cue's callback URL (core.DestinationOf), as new ones get.
func TestMigrateBackfillsDestinations(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "dest.db")
	s, err := sqlite.New(t.Context(), sqlite.Config{Path: path})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	coretest.RequireDestinationBackfill(t, s, func(stmt string) error {
		_, err := db.Exec(stmt)
		return err
	}, coretest.DestinationBackfillSQL(t, migrations.SQLite))
}

// Migration 0012 gives alerts still to be delivered the destination of
// their tenant's alert URL (core.DestinationOf), as new ones get.
func TestMigrateBackfillsAlertDestinations(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "alertdest.db")
	s, err := sqlite.New(t.Context(), sqlite.Config{Path: path})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	coretest.RequireAlertDestinationBackfill(t, s, func(stmt string) error {
		_, err := db.Exec(stmt)
		return err
	}, coretest.AlertDestinationBackfillSQL(t, migrations.SQLite))
}
