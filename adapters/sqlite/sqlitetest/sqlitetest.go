// Package sqlitetest builds throwaway SQLite stores for tests. Test support
// only: non-test code must not import it.
package sqlitetest

import (
	"path/filepath"
	"testing"

	"github.com/cueapi/cueapi/adapters/sqlite"
)

// NewStore returns a migrated Store on a new file in t.TempDir(), closed at
// the end of the test.
func NewStore(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.New(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "cueapi.db")})
	if err != nil {
		t.Fatalf("sqlitetest: new store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("sqlitetest: close: %v", err)
		}
	})
	return s
}
