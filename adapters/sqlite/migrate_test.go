package sqlite_test

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/adapters/sqlite"
	"github.com/cueapi/cueapi/adapters/sqlite/sqlitetest"
)

func TestMigrate(t *testing.T) {
	t.Parallel()

	t.Run("ConcurrentOpensMigrateOnce", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "nested", "dir", "cueapi.db")
		const n = 4
		stores := make([]*sqlite.Store, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				stores[i], errs[i] = sqlite.New(t.Context(), sqlite.Config{Path: path})
			})
		}
		wg.Wait()
		for i := range n {
			require.NoError(t, errs[i])
			t.Cleanup(func() { _ = stores[i].Close() })
		}
		require.NoError(t, stores[0].Ping(t.Context()))
	})

	t.Run("IsIdempotent", func(t *testing.T) {
		t.Parallel()
		s := sqlitetest.NewStore(t)
		require.NoError(t, s.Migrate(t.Context()))
		require.NoError(t, s.Migrate(t.Context()))
	})
}

func TestNew(t *testing.T) {
	t.Parallel()

	t.Run("RejectsEmptyPath", func(t *testing.T) {
		t.Parallel()
		_, err := sqlite.New(t.Context(), sqlite.Config{})
		require.Error(t, err)
	})
}
