package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cueapi/cueapi/adapters/postgres/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
)

// AgentCreate inserts p.Agent. ErrConflict when the tenant's slug is taken.
func (s *Store) AgentCreate(ctx context.Context, p *core.AgentCreateParams) (*core.Agent, error) {
	const op = "agent create"
	row, err := s.q.AgentInsert(ctx, s.rd, (*dbsqlc.AgentInsertParams)(sqlkit.AgentInsertOf(p.Agent, times)))
	if err != nil {
		return nil, dbErr.Tenant(op, err)
	}
	return sqlkit.Row(dbErr, op, row, nil, agentFromRow)
}

// AgentGet returns the agent by id (of p.TenantID when set).
func (s *Store) AgentGet(ctx context.Context, p *core.AgentGetParams) (*core.Agent, error) {
	const op = "agent get"
	tenant, ok := sqlkit.AnyTenant(p.TenantID)
	if !ok {
		return nil, dbErr.Op(op, core.ErrNotFound)
	}
	row, err := s.q.AgentGet(ctx, s.rd, &dbsqlc.AgentGetParams{ID: string(p.ID), UserID: tenant, IncludeDeleted: p.IncludeDeleted})
	return sqlkit.Row(dbErr, op, row, err, agentFromRow)
}

// AgentGetBySlug returns the agent by slug-form address (of p.TenantID when set).
func (s *Store) AgentGetBySlug(ctx context.Context, p *core.AgentGetBySlugParams) (*core.Agent, error) {
	const op = "agent get by slug"
	tenant, ok := sqlkit.AnyTenant(p.TenantID)
	if !ok {
		return nil, dbErr.Op(op, core.ErrNotFound)
	}
	row, err := s.q.AgentGetBySlug(ctx, s.rd, &dbsqlc.AgentGetBySlugParams{
		UserSlug: p.UserSlug, Slug: p.Slug, UserID: tenant, IncludeDeleted: p.IncludeDeleted,
	})
	return sqlkit.Row(dbErr, op, row, err, agentFromRow)
}

// AgentList returns a page of the tenant's agents, newest first, and the total.
func (s *Store) AgentList(ctx context.Context, p *core.AgentListParams) ([]*core.Agent, int, error) {
	const op = "agent list"
	maxRows, skipRows := sqlkit.Page[int32](p.Limit, p.Offset)
	page := sqlkit.NewListing[*core.Agent]()
	return page.Of(s.tenantRead(p.TenantID, func(db dbsqlc.DBTX, tenant string) error {
		return sqlkit.ReadPage(page, dbErr, op, func() ([]*dbsqlc.Agent, error) {
			return s.q.AgentList(ctx, db, &dbsqlc.AgentListParams{
				UserID: tenant, Status: p.Status, IncludeDeleted: p.IncludeDeleted, MaxRows: maxRows, SkipRows: skipRows,
			})
		}, agentFromRow, func() (int64, error) {
			return s.q.AgentCount(ctx, db, &dbsqlc.AgentCountParams{UserID: tenant, Status: p.Status, IncludeDeleted: p.IncludeDeleted})
		})
	}))
}

// AgentTouch moves the agent's last_seen_at forward to p.Now.
func (s *Store) AgentTouch(ctx context.Context, p *core.AgentTouchParams) error {
	return dbErr.Interpret("agent touch", s.q.AgentTouch(ctx, s.rd, &dbsqlc.AgentTouchParams{ID: string(p.ID), Now: &p.Now}))
}

// AgentUpdate locks the tenant's agent, runs p.Fn and saves its mutable fields.
func (s *Store) AgentUpdate(ctx context.Context, p *core.AgentUpdateParams) (*core.Agent, error) {
	const op = "agent update"
	var out *core.Agent
	return sqlkit.Value(&out, s.tenantTx(ctx, op, pgx.TxOptions{}, p.TenantID, func(tx pgx.Tx, tenant string) (err error) {
		out, err = sqlkit.Modify(dbErr, op, func() (*dbsqlc.Agent, error) {
			return s.q.AgentGetForUpdate(ctx, tx, &dbsqlc.AgentGetForUpdateParams{UserID: tenant, ID: string(p.ID)})
		}, agentFromRow, p.Fn, func(_ *dbsqlc.Agent, a *core.Agent) (*dbsqlc.Agent, error) {
			return s.q.AgentUpdate(ctx, tx, (*dbsqlc.AgentUpdateParams)(sqlkit.AgentUpdateOf(a, times)))
		})
		return err
	}))
}

func agentFromRow(r *dbsqlc.Agent) (*core.Agent, error) {
	return sqlkit.AgentOf((*sqlkit.AgentRow[time.Time])(r), times)
}
