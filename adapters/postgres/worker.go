package postgres

import (
	"context"

	"github.com/cueapi/cueapi/adapters/postgres/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
)

// WorkerCountActive counts the tenant's workers whose last heartbeat is at
// or after p.Since; all tenants' workers when p.TenantID is empty.
func (s *Store) WorkerCountActive(ctx context.Context, p *core.WorkerCountActiveParams) (int, error) {
	var tenant *string
	if p.TenantID != "" {
		id, ok := uuidArg(string(p.TenantID))
		if !ok {
			return 0, nil
		}
		tenant = &id
	}
	n, err := s.q.WorkerCountActive(ctx, s.pool, &dbsqlc.WorkerCountActiveParams{Since: p.Since, UserID: tenant})
	if err != nil {
		return 0, interpretError("worker count active", err)
	}
	return int(n), nil
}
