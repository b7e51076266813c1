package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cueapi/cueapi/adapters/postgres/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
)

// Config configures a Store.
type Config struct {
	// URL is the connection string, as a URL or in key=value form, as
	// pgxpool.ParseConfig accepts it. Run-time parameters such as
	// search_path may be given in it (the tables live in the first schema of
	// the search path).
	URL string
	// MaxConns caps the pool; 0 keeps pgxpool's default (the larger of 4 and
	// the number of CPUs).
	MaxConns int32
	// Tracer, when set, records every query (tracing).
	Tracer pgx.QueryTracer
}

// Store is core.Store on PostgreSQL. It is safe for concurrent use.
type Store struct {
	pool    *pgxpool.Pool
	rd      *planPool // the pool for the generated queries (cached scan plans)
	q       *dbsqlc.Queries
	creates sqlkit.GroupQueue[*pendingCreate] // CueCreate's group commit (cuecreate.go)
	updates sqlkit.GroupQueue[*pendingUpdate] // ExecutionUpdate's (execupdate.go)
}

// New connects, checks the database is reachable and applies pending
// migrations (see Migrate). The caller must Close the Store.
func New(ctx context.Context, cfg Config) (*Store, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse config: %w", err)
	}
	if cfg.MaxConns > 0 {
		pcfg.MaxConns = cfg.MaxConns
	}
	if cfg.Tracer != nil {
		pcfg.ConnConfig.Tracer = cfg.Tracer
	}
	rd := &planPool{}
	pcfg.BeforeClose = rd.forget
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open pool: %w", err)
	}
	rd.Pool = pool
	s := &Store{pool: pool, rd: rd, q: dbsqlc.New()}
	s.creates = sqlkit.GroupQueue[*pendingCreate]{Errors: dbErr, Op: "cue create", Max: createBatchMax, Flushers: createFlushersMax, Run: s.createCues}
	s.updates = sqlkit.GroupQueue[*pendingUpdate]{Errors: dbErr, Op: "execution update", Max: updateBatchMax, Flushers: updateFlushersMax, Run: s.updateExecutions}
	if err := s.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Ping checks the database is reachable.
func (s *Store) Ping(ctx context.Context) error {
	return dbErr.Interpret("ping", s.pool.Ping(ctx))
}

// Close closes the pool, waiting for connections in use to be released. It
// always returns nil.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// inTx runs fn in a transaction and commits when fn returns nil (see
// sqlkit.InTx): fn's error is returned as is; fn must pass its own query
// errors through dbErr.
func (s *Store) inTx(ctx context.Context, op string, opts pgx.TxOptions, fn func(tx pgx.Tx) error) error {
	return sqlkit.InTx(op, dbErr,
		func() (pgx.Tx, error) { return s.pool.BeginTx(ctx, opts) },
		func(tx pgx.Tx) error { return tx.Commit(ctx) },
		func(tx pgx.Tx) { _ = tx.Rollback(ctx) }, // a no-op once committed
		fn)
}

// tenantTx is inTx for an operation on the rows of a tenant: fn gets its
// canonical id; a tenant id that is not a UUID names none, so the result is
// core.ErrNotFound without a transaction (sqlkit.Do).
func (s *Store) tenantTx(ctx context.Context, op string, opts pgx.TxOptions, tenant core.TenantID, fn func(tx pgx.Tx, tenant string) error) error {
	return sqlkit.Do(dbErr, op, string(tenant), func(tenant string) error {
		return s.inTx(ctx, op, opts, func(tx pgx.Tx) error { return fn(tx, tenant) })
	})
}

// rowTx is tenantTx for an operation on one of the tenant's rows by id: an
// id that is not a UUID names none either (sqlkit.Do2).
func (s *Store) rowTx(ctx context.Context, op string, opts pgx.TxOptions, tenant core.TenantID, id string, fn func(tx pgx.Tx, tenant, id string) error) error {
	return sqlkit.Do2(dbErr, op, string(tenant), id, func(tenant, id string) error {
		return s.inTx(ctx, op, opts, func(tx pgx.Tx) error { return fn(tx, tenant, id) })
	})
}

// tenantRead runs a read of a tenant's rows on the pool, without a
// transaction (no BEGIN/COMMIT round trips): a tenant id that is not a
// UUID owns none, so fn does not run and the result stays empty
// (sqlkit.Scan). A list's page usually shows its total (sqlkit.ReadPage);
// when not, the count is a second statement.
func (s *Store) tenantRead(tenant core.TenantID, fn func(db dbsqlc.DBTX, tenant string) error) error {
	_, err := sqlkit.Scan(string(tenant), struct{}{}, func(tenant string) (struct{}, error) {
		return struct{}{}, fn(s.rd, tenant)
	})
	return err
}

// dbErr is the one translation of PostgreSQL failures (see sqlkit.Errors):
// no rows become core.ErrNotFound, unique violations core.ErrConflict,
// text PostgreSQL cannot store a 422; Tenant maps foreign key violations to
// core.ErrNotFound.
var dbErr = sqlkit.Errors{Prefix: "postgres", NoRows: pgx.ErrNoRows, Classify: classify}

// unreachable reports whether err means the server could not be reached or
// the connection broke: a failed connect, a network error, a connection
// closed mid-query, a deadline while acquiring or waiting.
func unreachable(err error) bool {
	var connErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connErr) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) || pgconn.SafeToRetry(err)
}

// classify names what a PostgreSQL error means to the port.
func classify(err error) (sqlkit.Class, string) {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		if unreachable(err) {
			return sqlkit.Unavailable, ""
		}
		return sqlkit.Other, ""
	}
	switch {
	case strings.HasPrefix(pgErr.Code, "08"): // connection_exception
		return sqlkit.Unavailable, pgErr.Code
	}
	switch pgErr.Code {
	case "57P01", "57P02", "57P03", "53300": // admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections
		return sqlkit.Unavailable, pgErr.Code
	case "53100": // disk_full
		return sqlkit.Full, pgErr.Code
	case "23505": // unique_violation
		return sqlkit.Unique, pgErr.ConstraintName
	case "23503": // foreign_key_violation
		return sqlkit.ForeignKey, pgErr.ConstraintName
	case "22021", "22P05": // character_not_in_repertoire (NUL, invalid UTF-8), untranslatable_character
		return sqlkit.BadText, ""
	}
	return sqlkit.Other, ""
}

// Pool is the store's connection pool. The composition root's benchmark
// (`cueapi bench -api`) reads through it for its bare-pgx baseline, so both
// sides share one pool; nothing else may use it.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }
