package postgres

import (
	"context"
	"encoding/json"

	"github.com/cueapi/cueapi/adapters/postgres/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
)

// WorkerCountActive counts the tenant's workers whose last heartbeat is at
// or after p.Since; all tenants' workers when p.TenantID is empty.
func (s *Store) WorkerCountActive(ctx context.Context, p *core.WorkerCountActiveParams) (int, error) {
	var tenant *string
	if p.TenantID != "" {
		id, ok := sqlkit.UUID(string(p.TenantID))
		if !ok {
			return 0, nil
		}
		tenant = &id
	}
	n, err := s.q.WorkerCountActive(ctx, s.rd, &dbsqlc.WorkerCountActiveParams{Since: p.Since, UserID: tenant})
	if err != nil {
		return 0, dbErr.Interpret("worker count active", err)
	}
	return int(n), nil
}

// WorkerHeartbeat upserts the tenant's worker: handlers replaced (nil stores
// NULL), last_heartbeat = p.Now, created_at kept from the first heartbeat.
// ErrNotFound when the tenant is not a UUID.
func (s *Store) WorkerHeartbeat(ctx context.Context, p *core.WorkerHeartbeatParams) error {
	const op = "worker heartbeat"
	var handlers []byte
	if p.Handlers != nil {
		b, err := json.Marshal(p.Handlers)
		if err != nil {
			return dbErr.Op(op, err)
		}
		handlers = b
	}
	return sqlkit.Do(dbErr, op, string(p.TenantID), func(tenant string) error {
		err := s.q.WorkerHeartbeat(ctx, s.rd, &dbsqlc.WorkerHeartbeatParams{
			UserID: tenant, WorkerID: p.WorkerID, Handlers: handlers, Now: p.Now,
		})
		return dbErr.Interpret(op, err)
	})
}

// WorkerList returns the tenant's workers, most recent heartbeat first (ties
// by worker id); empty for a tenant that is not a UUID.
func (s *Store) WorkerList(ctx context.Context, p *core.WorkerListParams) ([]*core.Worker, error) {
	return sqlkit.Rows(dbErr, "worker list", string(p.TenantID), func(tenant string) ([]*dbsqlc.Worker, error) {
		return s.q.WorkerList(ctx, s.rd, tenant)
	}, func(r *dbsqlc.Worker) (*core.Worker, error) {
		var d sqlkit.Decoder
		w := &core.Worker{
			TenantID:      core.TenantID(r.UserID),
			WorkerID:      r.WorkerID,
			Handlers:      d.Strings("handlers", r.Handlers),
			LastHeartbeat: utc(r.LastHeartbeat),
			CreatedAt:     utc(r.CreatedAt),
		}
		return w, d.Err
	})
}

// WorkerDelete deletes the tenant's worker. ErrNotFound when absent or
// foreign.
func (s *Store) WorkerDelete(ctx context.Context, p *core.WorkerDeleteParams) error {
	const op = "worker delete"
	return sqlkit.Do(dbErr, op, string(p.TenantID), func(tenant string) error {
		n, err := s.q.WorkerDelete(ctx, s.rd, &dbsqlc.WorkerDeleteParams{UserID: tenant, WorkerID: p.WorkerID})
		return dbErr.Affected(op, n, err)
	})
}
