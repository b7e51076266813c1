package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cueapi/cueapi/adapters/postgres/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
)

// MonthlyUsageForTest reads the tenant's execution count of the UTC month
// of month (0 when it has no row), for the contract's usage checks: the
// port has no usage reader yet.
func (s *Store) MonthlyUsageForTest(ctx context.Context, tenant core.TenantID, month time.Time) (int, error) {
	n, err := s.q.UsageMonthlyGet(ctx, s.pool, &dbsqlc.UsageMonthlyGetParams{UserID: string(tenant), MonthStart: core.MonthStart(month)})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return int(n), dbErr.Interpret("monthly usage", err)
}
