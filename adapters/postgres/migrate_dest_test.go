package postgres_test

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/adapters/postgres"
	"github.com/cueapi/cueapi/adapters/postgres/pgtest"
	"github.com/cueapi/cueapi/coretest"
	"github.com/cueapi/cueapi/sql/migrations"
)

// Migration 0011 gives executions still to be delivered the destination of
// their cue's callback URL (core.DestinationOf), as new ones get.
func TestMigrateBackfillsDestinations(t *testing.T) {
	t.Parallel()
	url := pgtest.SchemaURL(t)
	s, err := postgres.New(t.Context(), postgres.Config{URL: url, MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(t.Context()) })
	coretest.RequireDestinationBackfill(t, s, func(stmt string) error {
		_, err := conn.Exec(t.Context(), stmt)
		return err
	}, coretest.DestinationBackfillSQL(t, migrations.Postgres))
}

// Migration 0012 gives alerts still to be delivered the destination of
// their tenant's alert URL (core.DestinationOf), as new ones get.
func TestMigrateBackfillsAlertDestinations(t *testing.T) {
	t.Parallel()
	url := pgtest.SchemaURL(t)
	s, err := postgres.New(t.Context(), postgres.Config{URL: url, MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(t.Context()) })
	coretest.RequireAlertDestinationBackfill(t, s, func(stmt string) error {
		_, err := conn.Exec(t.Context(), stmt)
		return err
	}, coretest.AlertDestinationBackfillSQL(t, migrations.Postgres))
}
