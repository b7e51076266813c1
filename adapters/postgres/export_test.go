package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cueapi/cueapi/adapters/postgres/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
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

// SeedCuesForTest bulk-inserts n cues of tenant (two thirds active, one
// third completed) for the create benchmark.
func (s *Store) SeedCuesForTest(ctx context.Context, tenant core.TenantID, n int) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO cues (id, user_id, name, status, transport, schedule_type, schedule_timezone,
    callback_method, retry_max_attempts, retry_backoff_minutes, on_failure_email, on_failure_pause, created_at, updated_at)
SELECT 'cue_seed' || g, $1, 'seed-' || g, CASE WHEN g % 3 = 0 THEN 'completed' ELSE 'active' END, 'worker', 'once', 'UTC',
    'POST', 3, '[1]', false, false, now(), now()
FROM generate_series(1, $2::int) AS g`, string(tenant), n)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, "ANALYZE cues")
	return err
}

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

// QueryStringForTest runs a one-row, one-column query (catalog checks).
func (s *Store) QueryStringForTest(ctx context.Context, sql string) (string, error) {
	var v string
	err := s.pool.QueryRow(ctx, sql).Scan(&v)
	return v, err
}

// UpdateGroupForTest commits ps as one group (as concurrent
// ExecutionUpdate calls are) and returns each update's result.
func (s *Store) UpdateGroupForTest(ctx context.Context, ps []*core.ExecutionUpdateParams) ([]*core.Execution, []error) {
	group := make([]*pendingUpdate, len(ps))
	for i, p := range ps {
		tenant, _ := sqlkit.UUID(string(p.TenantID))
		id, _ := sqlkit.UUID(string(p.ID))
		group[i] = &pendingUpdate{Member: sqlkit.NewMember(ctx), p: p, tenant: tenant, id: id}
	}
	s.updates.Commit(group)
	outs, errs := make([]*core.Execution, len(ps)), make([]error, len(ps))
	for i, it := range group {
		outs[i], errs[i] = it.out, it.Err
	}
	return outs, errs
}

// PipeTx is the pipelined transaction, for its tests.
type PipeTx = pipeTx

// BeginPipelinedForTest starts a pipelined transaction (nothing is sent).
func (s *Store) BeginPipelinedForTest(ctx context.Context) (*PipeTx, error) {
	return s.beginPipelined(ctx)
}

// ReleaseForTest rolls back what t did not commit and returns its
// connection.
func (t *PipeTx) ReleaseForTest() { t.release() }

// PlanDBForTest is the store's pool as the generated queries use it
// (planPool: scan plans cached per connection).
func (s *Store) PlanDBForTest() dbsqlc.DBTX { return s.rd }
