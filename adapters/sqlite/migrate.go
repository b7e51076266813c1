package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/cueapi/cueapi/sql/migrations"
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
// recorded in schema_migrations, in file-name order, in one write
// transaction (which holds the database's write lock, so a concurrent
// migrator waits and then finds nothing left to do). New calls it; calling
// it again is a no-op.
func (s *Store) Migrate(ctx context.Context) error {
	const op = "migrate"
	names, err := fs.Glob(migrations.SQLite, "*.up.sql")
	if err != nil {
		return opError(op, err)
	}
	sort.Strings(names)
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, migrateInitSQL); err != nil {
			return interpretError(op+": init", err)
		}
		done, err := appliedVersions(ctx, tx)
		if err != nil {
			return interpretError(op, err)
		}
		for _, name := range names {
			version := strings.TrimSuffix(name, ".up.sql")
			if done[version] {
				continue
			}
			body, err := fs.ReadFile(migrations.SQLite, name)
			if err != nil {
				return opError(op, err)
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return interpretError(fmt.Sprintf("%s %s", op, name), err)
			}
			if _, err := tx.ExecContext(ctx, migrateRecordSQL, version, timeArg(time.Now())); err != nil {
				return interpretError(op, err)
			}
		}
		return nil
	})
}

func appliedVersions(ctx context.Context, tx *sql.Tx) (map[string]bool, error) {
	rows, err := tx.QueryContext(ctx, migrateAppliedSQL)
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
