package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/cueapi/cueapi/adapters/sqlite"
	"github.com/cueapi/cueapi/adapters/sqlite/sqlitetest"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/core/coretest"
)

var _ core.Store = (*sqlite.Store)(nil)

func TestStore(t *testing.T) {
	t.Parallel()
	coretest.RunStoreContract(t, func(t *testing.T) core.Store { return sqlitetest.NewStore(t) },
		coretest.StoreOpts{TimePrecision: time.Microsecond})
}

func TestStoreExecutionList(t *testing.T) {
	t.Parallel()
	coretest.RunExecutionListSeeded(t, sqlitetest.NewStore,
		func(ctx context.Context, s *sqlite.Store, e *core.Execution) error {
			return s.ExecutionInsertForTest(ctx, e, core.TransportWebhook)
		},
		coretest.StoreOpts{TimePrecision: time.Microsecond})
}
