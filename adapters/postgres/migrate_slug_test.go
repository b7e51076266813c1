package postgres_test

import (
	"io/fs"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/adapters/postgres"
	"github.com/cueapi/cueapi/adapters/postgres/pgtest"
	"github.com/cueapi/cueapi/coretest"
	"github.com/cueapi/cueapi/sql/migrations"
)

// Migration 0005 gives accounts created before it the slug new accounts
// get (core.SlugBase), suffixing duplicates.
func TestMigrateBackfillsUserSlugs(t *testing.T) {
	t.Parallel()
	url := pgtest.SchemaURL(t)
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	_, err = conn.Exec(t.Context(), `CREATE TABLE schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL)`)
	require.NoError(t, err)
	for _, name := range coretest.MigrationsBefore(t, migrations.Postgres, "0005") {
		body, err := fs.ReadFile(migrations.Postgres, name)
		require.NoError(t, err)
		_, err = conn.Exec(t.Context(), string(body))
		require.NoError(t, err, name)
		_, err = conn.Exec(t.Context(), `INSERT INTO schema_migrations VALUES ($1, now())`, name[:len(name)-len(".up.sql")])
		require.NoError(t, err)
	}
	users := coretest.SlugBackfillUsers()
	for i, u := range users {
		_, err = conn.Exec(t.Context(), `INSERT INTO users (id, email, api_key_hash, api_key_prefix, active_cue_limit, monthly_execution_limit,
			rate_limit_per_minute, webhook_secret_sealed, created_at, updated_at) VALUES ($1, $2, $3, 'cue_sk_x', 10, 300, 60, 's', $4, $4)`,
			string(u.ID), u.Email, "hash"+string(rune('a'+i)), u.CreatedAt)
		require.NoError(t, err)
	}
	require.NoError(t, conn.Close(t.Context()))

	s, err := postgres.New(t.Context(), postgres.Config{URL: url, MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	coretest.RequireBackfilledSlugs(t, s, users)
}
