package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/cueapi/cueapi/adapters/sqlite"
)

// The read connections share a bounded page-cache budget whatever the CPU
// count; the writer keeps SQLite's default.
func TestReaderPageCacheBudget(t *testing.T) {
	for _, n := range []int{1, 4, 8, 16, 64, 1024} {
		kib := sqlite.ReaderCacheKiBForTest(n)
		if kib < 256 {
			t.Errorf("%d readers: %d KiB each, below the 256 KiB minimum", n, kib)
		}
		if n*kib > 4096 && kib != 256 {
			t.Errorf("%d readers × %d KiB exceeds the 4 MiB budget", n, kib)
		}
	}
	if got := sqlite.ReaderCacheKiBForTest(4); got != 1024 {
		t.Errorf("4 readers: %d KiB each, want 1024", got)
	}

	ctx := context.Background()
	s, err := sqlite.New(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "cueapi.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	writer, reader, readers, err := s.CacheSizesForTest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := -sqlite.ReaderCacheKiBForTest(readers); reader != want {
		t.Errorf("reader cache_size = %d, want %d (%d readers)", reader, want, readers)
	}
	if writer != -2000 {
		t.Errorf("writer cache_size = %d, want SQLite's default -2000", writer)
	}
}
