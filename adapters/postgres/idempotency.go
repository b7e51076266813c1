package postgres

import (
	"context"

	"github.com/cueapi/cueapi/adapters/postgres/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
)

// IdempotencyGet returns the tenant's record of p.Key in p.Scope, whatever
// its age. ErrNotFound when there is none.
func (s *Store) IdempotencyGet(ctx context.Context, p *core.IdempotencyGetParams) (*core.IdempotencyRecord, error) {
	const op = "idempotency get"
	return sqlkit.Find(dbErr, op, string(p.TenantID), func(tenant string) (*core.IdempotencyRecord, error) {
		row, err := s.q.IdempotencyGet(ctx, s.rd, &dbsqlc.IdempotencyGetParams{UserID: tenant, Scope: p.Scope, Key: p.Key})
		return sqlkit.Row(dbErr, op, row, err, sqlkit.Infallible(idempotencyFromRow))
	})
}

func idempotencyFromRow(row *dbsqlc.IdempotencyKey) *core.IdempotencyRecord {
	r := sqlkit.IdempotencyRecord(row.Scope, row.Key, row.Fingerprint, row.CueID, row.ExecutionID)
	r.CreatedAt = utc(row.CreatedAt)
	return r
}

// claimIdempotency binds c's key (when c is set) to cueID/executionID inside
// tx (sqlkit.ClaimKey). A concurrent claim of the same key waits on the
// primary key until the other transaction ends.
func (s *Store) claimIdempotency(ctx context.Context, tx dbsqlc.DBTX, c *core.IdempotencyClaim, tenant, cueID string, executionID *string) error {
	return sqlkit.ClaimKey(dbErr, c,
		func() error {
			return s.q.IdempotencyDeleteExpired(ctx, tx, &dbsqlc.IdempotencyDeleteExpiredParams{
				UserID: tenant, Scope: c.Scope, Key: c.Key, ExpiredBefore: c.ExpiredBefore,
			})
		},
		func() (int64, error) {
			return s.q.IdempotencyInsert(ctx, tx, &dbsqlc.IdempotencyInsertParams{
				UserID: tenant, Scope: c.Scope, Key: c.Key, Fingerprint: c.Fingerprint, CueID: cueID,
				ExecutionID: executionID, CreatedAt: c.Now,
			})
		},
		func() (*core.IdempotencyRecord, error) {
			row, err := s.q.IdempotencyGet(ctx, tx, &dbsqlc.IdempotencyGetParams{UserID: tenant, Scope: c.Scope, Key: c.Key})
			if err != nil {
				return nil, err
			}
			return idempotencyFromRow(row), nil
		})
}
