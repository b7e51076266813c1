// Package postgres implements core.Store on PostgreSQL (15 or later) through
// pgx v5 and a connection pool.
//
// Several processes may share one database: New applies pending migrations
// under a transaction-scoped advisory lock (per schema), so replicas starting
// together migrate once. Every Store method is one transaction or one
// statement. Read-modify-writes (UserUpdate, CueUpdate) lock the row
// (SELECT … FOR NO KEY UPDATE) before calling Fn; CueCreate locks the
// owning user's row, so creates of one tenant serialize and the active cue
// limit holds under concurrency. Lists run their page and total queries in
// one REPEATABLE READ read-only transaction, so the total matches the page.
//
// Times are stored as timestamptz (microsecond precision) and returned in
// UTC. JSON columns are jsonb: key order and whitespace are not preserved;
// payloads are returned compact. Queries live in sql/queries/postgres and are
// compiled by sqlc into internal/dbsqlc; this package converts between those
// rows and core types, and sends every database failure through
// interpretError.
//
// The package reads no environment: the caller passes a Config. The pgtest
// subpackage builds isolated stores for tests.
package postgres
