package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cueapi/cueapi/sql/migrations"
	"github.com/cueapi/cueapi/sql/sqlkit"
)

// Migration bookkeeping and the lock are the only SQL outside sqlc.
const (
	// migrateLockSQL serializes migrations of one schema across processes
	// until the transaction ends; other schemas migrate in parallel.
	migrateLockSQL = `SELECT pg_advisory_xact_lock(hashtext('cueapi.migrate:' || coalesce(current_schema(), '')))`
	migrateInitSQL = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text        PRIMARY KEY,
    applied_at timestamptz NOT NULL
)`
	migrateAppliedSQL = `SELECT version FROM schema_migrations`
	migrateRecordSQL  = `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`
)

// Migrate applies the migrations of migrations.Postgres that are not yet
// recorded in schema_migrations (see sqlkit.Migrate), in one transaction
// under an advisory lock, so concurrent callers (replicas starting at once)
// are safe: the first applies, the others find nothing left to do. New calls
// it; calling it again is a no-op.
func (s *Store) Migrate(ctx context.Context) error {
	const op = "migrate"
	return s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		return dbErr.Interpret(op, sqlkit.Migrate(ctx, migrations.Postgres, migrator{tx}))
	})
}

// migrator is sqlkit.Migrator on a PostgreSQL transaction.
type migrator struct{ tx pgx.Tx }

func (m migrator) Lock(ctx context.Context) error { return m.exec(ctx, migrateLockSQL) }

func (m migrator) Init(ctx context.Context) error { return m.exec(ctx, migrateInitSQL) }

func (m migrator) Applied(ctx context.Context) (map[string]bool, error) {
	rows, err := m.tx.Query(ctx, migrateAppliedSQL)
	if err != nil {
		return nil, err
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[string])
	done := make(map[string]bool, len(versions))
	for _, v := range versions {
		done[v] = true
	}
	return done, err
}

// Apply runs a file without arguments, so pgx uses the simple protocol,
// which runs several statements.
func (m migrator) Apply(ctx context.Context, body string) error { return m.exec(ctx, body) }

func (m migrator) Record(ctx context.Context, version string, at time.Time) error {
	return m.exec(ctx, migrateRecordSQL, version, at)
}

func (m migrator) exec(ctx context.Context, sql string, args ...any) error {
	_, err := m.tx.Exec(ctx, sql, args...)
	return err
}
