package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/cueapi/cueapi/adapters/sqlite/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
)

// Config configures a Store.
type Config struct {
	// Path is the database file; its parent directory is created if needed.
	Path string
}

// Pragmas of every connection. busy_timeout (which the driver applies
// first) makes statements wait for a lock held by another connection instead
// of failing; foreign keys enforce the cascades. The writer also sets WAL
// (persistent in the file), which lets readers run alongside it.
const commonPragmas = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"

// The read connections share a page-cache budget. SQLite's default cache
// is 2 MiB per connection, and a connection fills it as soon as the file
// outgrows it (a count over 100,000 cues reads more); with a reader per CPU
// the readers alone would hold 2 MiB × NumCPU. Their caches are also
// dropped whenever another connection has written (WAL), so a large one
// buys little while writes go on; the hot pages (the b-trees' upper levels)
// fit in the minimum. The writer keeps the default.
const (
	readerCacheBudgetKiB = 4096
	minReaderCacheKiB    = 256
)

// readerCacheKiB is the page cache of each of n read connections.
func readerCacheKiB(n int) int { return max(minReaderCacheKiB, readerCacheBudgetKiB/max(n, 1)) }

// Store is core.Store on SQLite. It is safe for concurrent use.
type Store struct {
	// wdb is the single write connection: every transaction that writes runs
	// on it, so in-process writers queue in database/sql instead of polling
	// the SQLite lock. Its transactions BEGIN IMMEDIATE.
	wdb *sql.DB
	// rdb is the pool of read-only connections.
	rdb     *sql.DB
	q       *dbsqlc.Queries
	creates sqlkit.GroupQueue[*pendingCreate] // CueCreate's group commit (cuecreate.go)
}

// New opens (creating if needed) the database file and applies pending
// migrations (see Migrate). The caller must Close the Store.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Path == "" {
		return nil, errors.New("sqlite: config: empty path")
	}
	if dir := filepath.Dir(cfg.Path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("sqlite: create directory: %w", err)
		}
	}
	wdb, err := openCached(cfg.Path + "?" + commonPragmas + "&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	n := max(4, runtime.NumCPU())
	rdb, err := openCached(fmt.Sprintf("%s?%s&_pragma=query_only(1)&_pragma=cache_size(-%d)", cfg.Path, commonPragmas, readerCacheKiB(n)))
	if err != nil {
		_ = wdb.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	rdb.SetMaxOpenConns(n)
	rdb.SetMaxIdleConns(n)
	s := &Store{wdb: wdb, rdb: rdb, q: dbsqlc.New()}
	s.creates = sqlkit.GroupQueue[*pendingCreate]{Errors: dbErr, Op: "cue create", Max: createBatchMax, Flushers: createFlushersMax, Run: s.createCues}
	// The writer connects first: it switches the file to WAL and creates
	// the schema before any reader opens it.
	if err := s.migrateOnOpen(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// migrateOnOpen is Migrate, tried again while the database is busy: when
// several openers meet a brand-new file, switching it to WAL can answer
// SQLITE_BUSY at once (busy_timeout does not cover the journal-mode change),
// although the other opener finishes in milliseconds. Bounded: 20 tries.
func (s *Store) migrateOnOpen(ctx context.Context) error {
	var err error
	for try := 1; try <= 20; try++ {
		if err = s.Migrate(ctx); err == nil || !isBusy(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(try) * 10 * time.Millisecond):
		}
	}
	return err
}

// isBusy reports whether err is SQLite's "database is locked".
func isBusy(err error) bool {
	var sqErr *sqlite.Error
	return errors.As(err, &sqErr) && sqErr.Code()&0xff == sqlite3.SQLITE_BUSY
}

// Ping checks both the writer and the readers can reach the file.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.wdb.PingContext(ctx); err != nil {
		return dbErr.Interpret("ping", err)
	}
	return dbErr.Interpret("ping", s.rdb.PingContext(ctx))
}

// Close closes all connections.
func (s *Store) Close() error {
	return errors.Join(s.rdb.Close(), s.wdb.Close())
}

// inTx runs fn in a write transaction (BEGIN IMMEDIATE) and commits when
// fn returns nil (see sqlkit.InTx): fn's error is returned as is; fn must
// pass its own query errors through dbErr.
func (s *Store) inTx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	return s.runTx(ctx, s.wdb, nil, op, fn)
}

// inReadTx runs fn in a read transaction on a reader, so its statements see
// one snapshot.
func (s *Store) inReadTx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	return s.runTx(ctx, s.rdb, &sql.TxOptions{ReadOnly: true}, op, fn)
}

// tenantTx is inTx for an operation on the rows of a tenant: fn gets its
// canonical id; a tenant id that is not a UUID names none, so the result is
// core.ErrNotFound without a transaction (sqlkit.Do).
func (s *Store) tenantTx(ctx context.Context, op string, tenant core.TenantID, fn func(tx *sql.Tx, tenant string) error) error {
	return sqlkit.Do(dbErr, op, string(tenant), func(tenant string) error {
		return s.inTx(ctx, op, func(tx *sql.Tx) error { return fn(tx, tenant) })
	})
}

// rowTx is tenantTx for an operation on one of the tenant's rows by id: an
// id that is not a UUID names none either (sqlkit.Do2).
func (s *Store) rowTx(ctx context.Context, op string, tenant core.TenantID, id string, fn func(tx *sql.Tx, tenant, id string) error) error {
	return sqlkit.Do2(dbErr, op, string(tenant), id, func(tenant, id string) error {
		return s.inTx(ctx, op, func(tx *sql.Tx) error { return fn(tx, tenant, id) })
	})
}

// tenantReadTx is inReadTx for a read of a tenant's rows: a tenant id that
// is not a UUID owns none, so fn does not run and the result stays empty
// (sqlkit.Scan).
func (s *Store) tenantReadTx(ctx context.Context, op string, tenant core.TenantID, fn func(tx *sql.Tx, tenant string) error) error {
	_, err := sqlkit.Scan(string(tenant), struct{}{}, func(tenant string) (struct{}, error) {
		return struct{}{}, s.inReadTx(ctx, op, func(tx *sql.Tx) error { return fn(tx, tenant) })
	})
	return err
}

func (s *Store) runTx(ctx context.Context, db *sql.DB, opts *sql.TxOptions, op string, fn func(tx *sql.Tx) error) error {
	return sqlkit.InTx(op, dbErr,
		func() (*sql.Tx, error) { return db.BeginTx(ctx, opts) },
		(*sql.Tx).Commit,
		func(tx *sql.Tx) { _ = tx.Rollback() }, // a no-op once committed
		fn)
}

// dbErr is the one translation of SQLite failures (see sqlkit.Errors): no
// rows become core.ErrNotFound, unique and primary key violations
// core.ErrConflict; Tenant maps foreign key violations to
// core.ErrNotFound.
var dbErr = sqlkit.Errors{Prefix: "sqlite", NoRows: sql.ErrNoRows, Classify: classify}

// classify names what a SQLite error means to the port.
func classify(err error) (sqlkit.Class, string) {
	var sqErr *sqlite.Error
	if !errors.As(err, &sqErr) {
		return sqlkit.Other, ""
	}
	switch sqErr.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return sqlkit.Unique, sqErr.Error()
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return sqlkit.ForeignKey, sqErr.Error()
	}
	// Primary result codes (the low byte of extended ones).
	switch sqErr.Code() & 0xff {
	case sqlite3.SQLITE_FULL:
		return sqlkit.Full, sqErr.Error()
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN:
		return sqlkit.Unavailable, sqErr.Error()
	}
	return sqlkit.Other, ""
}

// stmtCache runs a transaction's statements as prepared statements, each
// prepared on first use, so a loop that runs the same query per row (SQLite
// has no arrays to batch with) parses it once. It implements dbsqlc.DBTX;
// the statements close with the transaction.
type stmtCache struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

var _ dbsqlc.DBTX = (*stmtCache)(nil)

func newStmtCache(tx *sql.Tx) *stmtCache {
	return &stmtCache{tx: tx, stmts: map[string]*sql.Stmt{}}
}

func (c *stmtCache) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	st, err := c.tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.stmts[query] = st
	return st, nil
}

func (c *stmtCache) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (c *stmtCache) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return c.stmt(ctx, query)
}

func (c *stmtCache) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (c *stmtCache) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return c.tx.QueryRowContext(ctx, query, args...) // reports the same error
	}
	return st.QueryRowContext(ctx, args...)
}
