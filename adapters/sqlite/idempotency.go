package sqlite

import (
	"context"
	"database/sql"

	"github.com/cueapi/cueapi/adapters/internal/sqlkit"
	"github.com/cueapi/cueapi/adapters/sqlite/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
)

// IdempotencyGet returns the tenant's record of p.Key in p.Scope, whatever
// its age. ErrNotFound when there is none.
func (s *Store) IdempotencyGet(ctx context.Context, p *core.IdempotencyGetParams) (*core.IdempotencyRecord, error) {
	const op = "idempotency get"
	tenant, ok := sqlkit.UUID(string(p.TenantID))
	if !ok {
		return nil, dbErr.Op(op, core.ErrNotFound)
	}
	row, err := s.q.IdempotencyGet(ctx, s.rdb, &dbsqlc.IdempotencyGetParams{UserID: tenant, Scope: p.Scope, Key: p.Key})
	if err != nil {
		return nil, dbErr.Interpret(op, err)
	}
	return idempotencyFromRow(row)
}

func idempotencyFromRow(row *dbsqlc.IdempotencyKey) (*core.IdempotencyRecord, error) {
	var d decoder
	r := sqlkit.IdempotencyRecord(row.Scope, row.Key, row.Fingerprint, row.CueID, row.ExecutionID)
	r.CreatedAt = d.time(row.CreatedAt)
	return r, d.Err
}

// claimIdempotency binds c's key (when c is set) to cueID/executionID inside
// tx: an expired binding is replaced; a live one fails with
// *core.IdempotencyHeld.
func (s *Store) claimIdempotency(ctx context.Context, tx *sql.Tx, c *core.IdempotencyClaim, tenant, cueID string, executionID *string) error {
	const op = "idempotency claim"
	if c == nil {
		return nil
	}
	if err := s.q.IdempotencyDeleteExpired(ctx, tx, &dbsqlc.IdempotencyDeleteExpiredParams{
		UserID: tenant, Scope: c.Scope, Key: c.Key, ExpiredBefore: timeArg(c.ExpiredBefore),
	}); err != nil {
		return dbErr.Interpret(op, err)
	}
	n, err := s.q.IdempotencyInsert(ctx, tx, &dbsqlc.IdempotencyInsertParams{
		UserID: tenant, Scope: c.Scope, Key: c.Key, Fingerprint: c.Fingerprint, CueID: cueID,
		ExecutionID: executionID, CreatedAt: timeArg(c.Now),
	})
	if err != nil {
		return dbErr.Interpret(op, err)
	}
	if n == 1 {
		return nil
	}
	row, err := s.q.IdempotencyGet(ctx, tx, &dbsqlc.IdempotencyGetParams{UserID: tenant, Scope: c.Scope, Key: c.Key})
	if err != nil {
		return dbErr.Interpret(op, err)
	}
	rec, err := idempotencyFromRow(row)
	if err != nil {
		return dbErr.Op(op, err)
	}
	return &core.IdempotencyHeld{Record: rec}
}
