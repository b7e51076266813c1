package sqlite

import (
	"context"

	"github.com/cueapi/cueapi/adapters/internal/sqlkit"
	"github.com/cueapi/cueapi/adapters/sqlite/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
)

// AlertAcknowledge marks the tenant's alert acknowledged.
func (s *Store) AlertAcknowledge(ctx context.Context, p *core.AlertAcknowledgeParams) error {
	const op = "alert acknowledge"
	id, ok := sqlkit.UUID(p.ID)
	tenant, okT := sqlkit.UUID(string(p.TenantID))
	if !ok || !okT {
		return dbErr.Op(op, core.ErrNotFound)
	}
	n, err := s.q.AlertAcknowledge(ctx, s.wdb, &dbsqlc.AlertAcknowledgeParams{ID: id, UserID: tenant})
	if err != nil {
		return dbErr.Interpret(op, err)
	}
	if n == 0 {
		return dbErr.Op(op, core.ErrNotFound)
	}
	return nil
}
