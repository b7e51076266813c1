package sqlite_test

import (
	"database/sql"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/adapters/sqlite"
	"github.com/cueapi/cueapi/coretest"
	"github.com/cueapi/cueapi/sql/migrations"
)

// Migration 0005 gives accounts created before it the slug new accounts
// get (core.SlugBase), suffixing duplicates.
func TestMigrateBackfillsUserSlugs(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	_, err = db.Exec(`CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)`)
	require.NoError(t, err)
	for _, name := range coretest.MigrationsBefore(t, migrations.SQLite, "0005") {
		body, err := fs.ReadFile(migrations.SQLite, name)
		require.NoError(t, err)
		_, err = db.Exec(string(body))
		require.NoError(t, err, name)
		_, err = db.Exec(`INSERT INTO schema_migrations VALUES (?, '2026-01-01T00:00:00.000000Z')`, name[:len(name)-len(".up.sql")])
		require.NoError(t, err)
	}
	users := coretest.SlugBackfillUsers()
	for i, u := range users {
		at := u.CreatedAt.UTC().Format("2006-01-02T15:04:05.000000Z")
		_, err = db.Exec(`INSERT INTO users (id, email, api_key_hash, api_key_prefix, active_cue_limit, monthly_execution_limit,
			rate_limit_per_minute, webhook_secret_sealed, created_at, updated_at) VALUES (?, ?, ?, 'cue_sk_x', 10, 300, 60, 's', ?, ?)`,
			string(u.ID), u.Email, "hash"+string(rune('a'+i)), at, at)
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())

	s, err := sqlite.New(t.Context(), sqlite.Config{Path: path})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	coretest.RequireBackfilledSlugs(t, s, users)
}
