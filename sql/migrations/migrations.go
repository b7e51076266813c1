// Package migrations embeds the schema migrations of both SQL dialects.
//
// Files are named NNNN_description.up.sql (zero-padded, applied in
// lexicographic order; sqlc reads them in the same order to learn the
// schema). Each dialect's directory holds the same tables, columns and names.
// The adapters apply pending files in one transaction and record each in
// schema_migrations(version, applied_at), version being the file name
// without ".up.sql".
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed postgres/*.up.sql
var postgresFiles embed.FS

//go:embed sqlite/*.up.sql
var sqliteFiles embed.FS

// Postgres holds the PostgreSQL migrations at its root.
var Postgres fs.FS = mustSub(postgresFiles, "postgres")

// SQLite holds the SQLite migrations at its root.
var SQLite fs.FS = mustSub(sqliteFiles, "sqlite")

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // dir is a literal embedded above; fs.Sub only fails on an invalid path
	}
	return sub
}
