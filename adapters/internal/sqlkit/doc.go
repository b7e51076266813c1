// Package sqlkit is the plumbing the two SQL store adapters
// (adapters/postgres and adapters/sqlite) share, so that they differ only
// in dialect: their queries, row mapping and locking. It holds the
// migrations runner, the transaction skeleton, the error-interpretation
// skeleton, column codecs (UUID ids, JSON columns, paging) and the pairing
// of claimed executions with their cues.
//
// It is internal to adapters and technology-neutral: it imports core and
// the standard library only — never database/sql, a driver or another
// adapter (adapters never import each other; both SQL adapters import
// this package instead). Domain rules live in core, not here.
package sqlkit
