// Package postgres implements core.Store on PostgreSQL (15 or later) through
// pgx v5 and a connection pool.
//
// Several processes may share one database: New applies pending migrations
// under a transaction-scoped advisory lock (per schema), so replicas starting
// together migrate once. Every Store method is one transaction or one
// statement. Read-modify-writes (UserUpdate, CueUpdate) lock the row
// (SELECT … FOR NO KEY UPDATE) before calling Fn; CueCreate locks the
// owning user's row, so creates of one tenant serialize and the active cue
// limit holds under concurrency, and concurrent creates share one
// transaction (group commit, cuecreate.go). Reads run on the pool without a
// transaction; a list counts its total in a second statement only when its
// page does not show it.
//
// The engine's batch methods run a constant number of statements per batch,
// whatever its size, passing rows as parallel arrays to unnest (arrays
// cannot hold NULL here, so nullable values travel with a has_* flag).
// CueFireDue and ExecutionClaimDeliveries select with FOR NO KEY UPDATE
// SKIP LOCKED over the partial indexes cues_due_idx and
// executions_dispatch_idx, so replicas take disjoint batches without
// waiting for each other. Transactions that touch a cue and its executions
// lock the cue first, and several cues in id order (usage rows in user id
// order), so concurrent batches cannot deadlock.
//
// Times are stored as timestamptz (microsecond precision) and returned in
// UTC. JSON columns are jsonb: key order and whitespace are not preserved;
// payloads are returned compact. Queries live in sql/queries/postgres and are
// compiled by sqlc into internal/dbsqlc; this package converts between those
// rows and core types, and sends every database failure through
// dbErr. Plumbing shared with the other SQL adapter (migrations runner,
// transaction and error skeletons, column codecs) lives in
// sql/sqlkit; decisions live in core.
//
// The package reads no environment: the caller passes a Config. The pgtest
// subpackage builds isolated stores for tests.
package postgres
