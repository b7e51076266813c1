package postgres_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/adapters/postgres"
	"github.com/cueapi/cueapi/adapters/postgres/pgtest"
)

func TestMigrate(t *testing.T) {
	t.Parallel()

	t.Run("ConcurrentStartsMigrateOnce", func(t *testing.T) {
		t.Parallel()
		connString := pgtest.SchemaURL(t)
		const n = 4
		stores := make([]*postgres.Store, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				stores[i], errs[i] = postgres.New(t.Context(), postgres.Config{URL: connString, MaxConns: 2})
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
		s := pgtest.NewStore(t)
		require.NoError(t, s.Migrate(t.Context()))
		require.NoError(t, s.Migrate(t.Context()))
	})
}
