package postgres_test

import (
	"testing"

	"github.com/cueapi/cueapi/adapters/postgres"
	"github.com/cueapi/cueapi/adapters/postgres/pgtest"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/coretest"
)

func BenchmarkCueCreateAtSize(b *testing.B) {
	coretest.BenchCueCreateAtSize(b, func(b *testing.B) core.Store { return pgtest.NewStore(b) }, seedCues)
}

func BenchmarkCueCreateParallel(b *testing.B) {
	coretest.BenchCueCreateParallel(b, func(b *testing.B) core.Store { return pgtest.NewStore(b) }, seedCues)
}

func seedCues(b *testing.B, s core.Store, tenant core.TenantID, n int) {
	if err := s.(*postgres.Store).SeedCuesForTest(b.Context(), tenant, n); err != nil {
		b.Fatal(err)
	}
}
