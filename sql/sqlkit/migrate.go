package sqlkit

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"
)

// Migrator is one dialect's migration bookkeeping inside the migration
// transaction.
type Migrator interface {
	// Lock serializes migrators of the same database until the
	// transaction ends (a no-op where the transaction already does).
	Lock(ctx context.Context) error
	// Init creates schema_migrations when missing.
	Init(ctx context.Context) error
	// Applied returns the recorded versions.
	Applied(ctx context.Context) (map[string]bool, error)
	// Apply runs one migration file (possibly several statements).
	Apply(ctx context.Context, body string) error
	// Record records version as applied at at.
	Record(ctx context.Context, version string, at time.Time) error
}

// Migrate applies the "*.up.sql" files of fsys not yet recorded, in
// file-name order, through m (which runs inside one transaction, so a
// failure applies nothing); the version is the file name without
// ".up.sql". Errors are prefixed with what failed; the caller interprets
// and wraps them.
func Migrate(ctx context.Context, fsys fs.FS, m Migrator) error {
	names, err := fs.Glob(fsys, "*.up.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	if err := m.Lock(ctx); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	if err := m.Init(ctx); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	done, err := m.Applied(ctx)
	if err != nil {
		return err
	}
	for _, name := range names {
		version := strings.TrimSuffix(name, ".up.sql")
		if done[version] {
			continue
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		if err := m.Apply(ctx, string(body)); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := m.Record(ctx, version, time.Now().UTC()); err != nil {
			return err
		}
	}
	return nil
}
