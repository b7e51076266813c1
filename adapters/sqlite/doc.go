// Package sqlite implements core.Store on an SQLite database file through
// modernc.org/sqlite (pure Go, no cgo). It is the embedded default.
//
// Single node, one writer: the database file must be used by one process
// (one cueapi replica). Within it, all writes go through one connection
// (BEGIN IMMEDIATE transactions take the database's write lock up front, so
// a read-modify-write never fails to upgrade its lock), and reads use a
// small pool of read-only connections that run alongside it thanks to WAL
// mode. busy_timeout covers a second process briefly touching the file (for
// example `cueapi migrate`), not a second replica. Read-modify-writes
// (UserUpdate, CueUpdate) and CueCreate's limit check are serialized by the
// write lock; SQLite has no row locks. Their Fn runs while the write
// connection is held, so it must not write through the Store (reads are
// fine).
//
// The engine's batch methods (CueFireDue, ExecutionClaimDeliveries,
// ExecutionRecordDeliveries) run in one write transaction each, which the
// write lock makes exclusive, so concurrent calls never take the same cue
// or execution; SQLite has no arrays, so batches run one statement per row,
// each prepared once per transaction (in process, that costs microseconds).
//
// Times are stored as TEXT in the fixed-width UTC form
// 2006-01-02T15:04:05.000000Z (microseconds), so that string comparison
// orders them, and returned in UTC; ids and JSON are TEXT, integers and
// booleans INTEGER. Queries live in sql/queries/sqlite and are compiled by
// sqlc into internal/dbsqlc, with the same names as the PostgreSQL ones; this
// package converts between those rows and core types, and sends every
// database failure through dbErr. Plumbing shared with the other SQL adapter
// (migrations runner, transaction and error skeletons, column codecs) lives
// in sql/sqlkit; decisions live in core.
//
// The package reads no environment: the caller passes a Config. The
// sqlitetest subpackage builds throwaway stores for tests.
package sqlite
