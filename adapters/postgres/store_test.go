package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/cueapi/cueapi/adapters/postgres"
	"github.com/cueapi/cueapi/adapters/postgres/pgtest"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/core/coretest"
)

var _ core.Store = (*postgres.Store)(nil)

func TestStore(t *testing.T) {
	t.Parallel()
	coretest.RunStoreContract(t, func(t *testing.T) core.Store { return pgtest.NewStore(t) },
		coretest.StoreOpts{TimePrecision: time.Microsecond})
}

func TestStoreExecutionList(t *testing.T) {
	t.Parallel()
	coretest.RunExecutionListSeeded(t, pgtest.NewStore,
		func(ctx context.Context, s *postgres.Store, e *core.Execution) error {
			return s.ExecutionInsertForTest(ctx, e, core.TransportWebhook)
		},
		coretest.StoreOpts{TimePrecision: time.Microsecond})
}
