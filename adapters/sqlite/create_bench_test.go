package sqlite_test

import (
	"testing"

	"github.com/cueapi/cueapi/adapters/sqlite"
	"github.com/cueapi/cueapi/adapters/sqlite/sqlitetest"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/coretest"
)

func BenchmarkCueCreateAtSize(b *testing.B) {
	coretest.BenchCueCreateAtSize(b, func(b *testing.B) core.Store { return sqlitetest.NewStore(b) },
		func(b *testing.B, s core.Store, tenant core.TenantID, n int) {
			if err := s.(*sqlite.Store).SeedCuesForTest(b.Context(), tenant, n); err != nil {
				b.Fatal(err)
			}
		})
}
