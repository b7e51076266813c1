package postgres

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cueapi/cueapi/sql/migrations"
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
// recorded in schema_migrations, in file-name order, in one transaction
// under an advisory lock, so concurrent callers (replicas starting at once)
// are safe: the first applies, the others find nothing left to do. New calls
// it; calling it again is a no-op.
func (s *Store) Migrate(ctx context.Context) error {
	const op = "migrate"
	names, err := fs.Glob(migrations.Postgres, "*.up.sql")
	if err != nil {
		return opError(op, err)
	}
	sort.Strings(names)
	return s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, migrateLockSQL); err != nil {
			return interpretError(op+": lock", err)
		}
		if _, err := tx.Exec(ctx, migrateInitSQL); err != nil {
			return interpretError(op+": init", err)
		}
		rows, err := tx.Query(ctx, migrateAppliedSQL)
		if err != nil {
			return interpretError(op, err)
		}
		applied, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return interpretError(op, err)
		}
		done := make(map[string]bool, len(applied))
		for _, v := range applied {
			done[v] = true
		}
		for _, name := range names {
			version := strings.TrimSuffix(name, ".up.sql")
			if done[version] {
				continue
			}
			body, err := fs.ReadFile(migrations.Postgres, name)
			if err != nil {
				return opError(op, err)
			}
			// Without arguments pgx uses the simple protocol, which runs a
			// multi-statement file.
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return interpretError(fmt.Sprintf("%s %s", op, name), err)
			}
			if _, err := tx.Exec(ctx, migrateRecordSQL, version, time.Now().UTC()); err != nil {
				return interpretError(op, err)
			}
		}
		return nil
	})
}
