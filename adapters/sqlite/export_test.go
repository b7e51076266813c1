package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/cueapi/cueapi/adapters/sqlite/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
)

// MonthlyUsageForTest reads the tenant's execution count of the UTC month
// of month (0 when it has no row), for the contract's usage checks: the
// port has no usage reader yet.
func (s *Store) MonthlyUsageForTest(ctx context.Context, tenant core.TenantID, month time.Time) (int, error) {
	n, err := s.q.UsageMonthlyGet(ctx, s.rdb, &dbsqlc.UsageMonthlyGetParams{UserID: string(tenant), MonthStart: monthArg(month)})
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return int(n), dbErr.Interpret("monthly usage", err)
}
