package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/cueapi/cueapi/adapters/sqlite/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
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

// SeedCuesForTest bulk-inserts n cues of tenant (two thirds active, one
// third completed) for the create benchmarks, then runs ANALYZE.
func (s *Store) SeedCuesForTest(ctx context.Context, tenant core.TenantID, n int) error {
	_, err := s.wdb.ExecContext(ctx, `WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ?)
INSERT INTO cues (id, user_id, name, status, transport, schedule_type, schedule_timezone,
    callback_method, retry_max_attempts, retry_backoff_minutes, on_failure_email, on_failure_pause, created_at, updated_at)
SELECT 'cue_seed' || n, ?, 'seed-' || n, CASE WHEN n % 3 = 0 THEN 'completed' ELSE 'active' END, 'worker', 'once', 'UTC',
    'POST', 3, '[1]', 0, 0, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'
FROM g`, n, string(tenant))
	if err != nil {
		return err
	}
	// All tables, as the API benchmark does after seeding: statistics on
	// the other tables change how some statements are planned.
	_, err = s.wdb.ExecContext(ctx, "ANALYZE")
	return err
}

// CacheSizesForTest reads PRAGMA cache_size (negative: KiB) on the writer
// and on a reader, and the readers' pool size.
func (s *Store) CacheSizesForTest(ctx context.Context) (writer, reader, readers int, err error) {
	if err = s.wdb.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&writer); err != nil {
		return
	}
	err = s.rdb.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&reader)
	return writer, reader, s.rdb.Stats().MaxOpenConnections, err
}

// ReaderCacheKiBForTest is readerCacheKiB.
func ReaderCacheKiBForTest(n int) int { return readerCacheKiB(n) }

// CreateGroupForTest commits ps as one group (as concurrent CueCreate calls
// are) and returns each creation's result.
func (s *Store) CreateGroupForTest(ctx context.Context, ps []*core.CueCreateParams) ([]*core.Cue, []error) {
	group := make([]*pendingCreate, len(ps))
	for i, p := range ps {
		tenant, _ := sqlkit.UUID(string(p.Cue.TenantID))
		insert, err := cueInsertParams(p.Cue, tenant)
		if err != nil {
			panic(err)
		}
		group[i] = &pendingCreate{Member: sqlkit.NewMember(ctx), P: p, Tenant: tenant, Insert: insert}
	}
	s.creates.Commit(group)
	outs, errs := make([]*core.Cue, len(ps)), make([]error, len(ps))
	for i, it := range group {
		outs[i], errs[i] = it.Out, it.Err
	}
	return outs, errs
}
