package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/cueapi/cueapi/adapters/postgres/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
	"github.com/jackc/pgx/v5"
)

// UsageGet returns the tenant's usage of the UTC month of p.MonthStart:
// zero executions and no grace start when it has no row (never
// ErrNotFound).
func (s *Store) UsageGet(ctx context.Context, p *core.UsageGetParams) (*core.Usage, error) {
	const op = "usage get"
	month := core.MonthStart(p.MonthStart)
	out := &core.Usage{MonthStart: month}
	return sqlkit.Scan(string(p.TenantID), out, func(tenant string) (*core.Usage, error) {
		row, err := s.q.UsageGet(ctx, s.rd, &dbsqlc.UsageGetParams{UserID: tenant, MonthStart: month})
		if errors.Is(err, pgx.ErrNoRows) {
			return out, nil
		}
		if err != nil {
			return nil, dbErr.Interpret(op, err)
		}
		out.Executions = int(row.ExecutionCount)
		out.GraceStartedAt = utcPtr(row.GraceStartedAt)
		return out, nil
	})
}

// UsageStartGrace sets grace_started_at = p.Now on the tenant's row of the
// month (creating it) unless already set, in one upsert, and returns the
// stored value. ErrNotFound when the tenant does not exist.
func (s *Store) UsageStartGrace(ctx context.Context, p *core.UsageStartGraceParams) (time.Time, error) {
	const op = "usage start grace"
	return sqlkit.Find(dbErr, op, string(p.TenantID), func(tenant string) (time.Time, error) {
		at, err := s.q.UsageStartGrace(ctx, s.rd, &dbsqlc.UsageStartGraceParams{UserID: tenant, MonthStart: core.MonthStart(p.MonthStart), Now: new(p.Now)})
		if err != nil {
			return time.Time{}, dbErr.Tenant(op, err)
		}
		if at == nil { // the upsert never leaves it NULL
			return time.Time{}, dbErr.Op(op, errors.New("grace_started_at is NULL"))
		}
		return utc(*at), nil
	})
}

// UsageCount adds p.N executions to the tenant's month in one upsert; N 0
// is a no-op. ErrNotFound when the tenant does not exist.
func (s *Store) UsageCount(ctx context.Context, p *core.UsageCountParams) error {
	const op = "usage count"
	return sqlkit.Do(dbErr, op, string(p.TenantID), func(tenant string) error {
		if p.N == 0 {
			return nil
		}
		err := s.q.UsageMonthlyAdd(ctx, s.rd, &dbsqlc.UsageMonthlyAddParams{
			MonthStart: core.MonthStart(p.MonthStart), UserIds: []string{tenant}, Counts: []int32{sqlkit.Clamp[int32](p.N)},
		})
		return dbErr.Tenant(op, err)
	})
}

// OutcomeCounts counts the tenant's executions created in [From, To) in
// one statement: with an outcome, of those successful, and failed (a
// failure outcome, or no outcome and status failed or missed).
func (s *Store) OutcomeCounts(ctx context.Context, p *core.OutcomeCountsParams) (*core.OutcomeCounts, error) {
	return sqlkit.Scan(string(p.TenantID), &core.OutcomeCounts{}, func(tenant string) (*core.OutcomeCounts, error) {
		row, err := s.q.OutcomeCounts(ctx, s.rd, &dbsqlc.OutcomeCountsParams{UserID: tenant, CreatedFrom: p.From, CreatedTo: p.To})
		if err != nil {
			return nil, dbErr.Interpret("outcome counts", err)
		}
		return &core.OutcomeCounts{Reported: int(row.Reported), Succeeded: int(row.Succeeded), Failed: int(row.Failed)}, nil
	})
}
