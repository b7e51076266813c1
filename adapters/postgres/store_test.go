package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/cueapi/cueapi/adapters/postgres"
	"github.com/cueapi/cueapi/adapters/postgres/pgtest"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/coretest"
)

var _ core.Store = (*postgres.Store)(nil)

var storeOpts = coretest.StoreOpts{
	TimePrecision: time.Microsecond,
	MonthlyUsage: func(ctx context.Context, s core.Store, tenant core.TenantID, month time.Time) (int, error) {
		return s.(*postgres.Store).MonthlyUsageForTest(ctx, tenant, month)
	},
}

func TestStore(t *testing.T) {
	t.Parallel()
	coretest.RunStoreContract(t, func(t *testing.T) core.Store { return pgtest.NewStore(t) }, storeOpts)
}

func BenchmarkStore(b *testing.B) {
	coretest.BenchEngine(b, func(b *testing.B) core.Store { return pgtest.NewStore(b) })
}
