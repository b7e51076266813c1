package sqlite_test

import (
	"testing"

	"github.com/cueapi/cueapi/adapters/sqlite"
	"github.com/cueapi/cueapi/adapters/sqlite/sqlitetest"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/coretest"
)

func BenchmarkCueCreateAtSize(b *testing.B) {
	coretest.BenchCueCreateAtSize(b, func(b *testing.B) core.Store { return sqlitetest.NewStore(b) }, seedCues)
}

func BenchmarkCueCreateParallel(b *testing.B) {
	coretest.BenchCueCreateParallel(b, func(b *testing.B) core.Store { return sqlitetest.NewStore(b) }, seedCues)
}

func seedCues(b *testing.B, s core.Store, tenant core.TenantID, n int) {
	if err := s.(*sqlite.Store).SeedCuesForTest(b.Context(), tenant, n); err != nil {
		b.Fatal(err)
	}
}
