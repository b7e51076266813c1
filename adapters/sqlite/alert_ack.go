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
	return sqlkit.Do2(dbErr, op, string(p.TenantID), p.ID, func(tenant, id string) error {
		n, err := s.q.AlertAcknowledge(ctx, s.wdb, &dbsqlc.AlertAcknowledgeParams{ID: id, UserID: tenant})
		return dbErr.Affected(op, n, err)
	})
}
