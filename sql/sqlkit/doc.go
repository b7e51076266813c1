// Package sqlkit is the plumbing the two SQL store adapters
// (adapters/postgres and adapters/sqlite) share, so that they differ only
// in dialect: their queries, row mapping and locking. It holds the
// migrations runner, the transaction skeleton, the error-interpretation
// skeleton, column codecs (UUID ids, JSON columns, paging) and the pairing
// of claimed executions with their cues.
//
// It is not an adapter: it lives beside the migrations and queries it
// serves and is technology-neutral — it imports core, the migrations and
// the standard library only, never database/sql or a driver (make lint
// enforces it). Adapters never import each other; both SQL adapters import
// this package. Domain rules live in core, not here.
package sqlkit
