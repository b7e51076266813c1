package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/cueapi/cueapi/sql/migrations"
	"github.com/cueapi/cueapi/sql/sqlkit"
)

// Migration bookkeeping is the only SQL outside sqlc.
const (
	migrateInitSQL = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    TEXT PRIMARY KEY,
    applied_at TEXT NOT NULL
)`
	migrateAppliedSQL = `SELECT version FROM schema_migrations`
	migrateRecordSQL  = `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`
)

// Migrate applies the migrations of migrations.SQLite that are not yet
// recorded in schema_migrations (see sqlkit.Migrate), in one write
// transaction (which holds the database's write lock, so a concurrent
// migrator waits and then finds nothing left to do). New calls it; calling
// it again is a no-op.
func (s *Store) Migrate(ctx context.Context) error {
	const op = "migrate"
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		return dbErr.Interpret(op, sqlkit.Migrate(ctx, migrations.SQLite, migrator{tx}))
	})
}

// migrator is sqlkit.Migrator on a SQLite write transaction.
type migrator struct{ tx *sql.Tx }

// Lock is a no-op: the write transaction holds the database's write lock.
func (m migrator) Lock(context.Context) error { return nil }

func (m migrator) Init(ctx context.Context) error { return m.exec(ctx, migrateInitSQL) }

func (m migrator) Applied(ctx context.Context) (map[string]bool, error) {
	rows, err := m.tx.QueryContext(ctx, migrateAppliedSQL)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	done := map[string]bool{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		done[v] = true
	}
	return done, rows.Err()
}

func (m migrator) Apply(ctx context.Context, body string) error { return m.exec(ctx, body) }

func (m migrator) Record(ctx context.Context, version string, at time.Time) error {
	return m.exec(ctx, migrateRecordSQL, version, timeArg(at))
}

func (m migrator) exec(ctx context.Context, query string, args ...any) error {
	_, err := m.tx.ExecContext(ctx, query, args...)
	return err
}
