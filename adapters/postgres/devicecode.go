package postgres

import (
	"context"
	"fmt"

	"github.com/cueapi/cueapi/adapters/internal/sqlkit"
	"github.com/cueapi/cueapi/adapters/postgres/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
	"github.com/jackc/pgx/v5"
)

// DeviceCodeCreate inserts the device code in one transaction of two
// statements: it deletes a row of the same code that may be replaced
// (status expired or claimed, or expires_at <= p.CreatedAt — the creation
// time is "now"), then inserts; a live row left in place makes the insert
// fail on the unique code, so concurrent creates of one code never both
// succeed. ErrConflict when a live row exists (or the id is taken).
func (s *Store) DeviceCodeCreate(ctx context.Context, p *core.DeviceCode) error {
	const op = "device code create"
	id, ok := sqlkit.UUID(p.ID)
	if !ok {
		return dbErr.Op(op, fmt.Errorf("device code id %q is not a UUID", p.ID))
	}
	userID, err := sqlkit.OptionalUUID("user id", (*string)(p.UserID))
	if err != nil {
		return dbErr.Op(op, err)
	}
	return s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		err := s.q.DeviceCodeDeleteReplaceable(ctx, tx, &dbsqlc.DeviceCodeDeleteReplaceableParams{DeviceCode: p.Code, Now: p.CreatedAt})
		if err != nil {
			return dbErr.Interpret(op+": replace", err)
		}
		err = s.q.DeviceCodeInsert(ctx, tx, &dbsqlc.DeviceCodeInsertParams{
			ID:                    id,
			DeviceCode:            p.Code,
			Email:                 p.Email,
			Status:                p.Status,
			APIKeySealed:          p.APIKeySealed,
			VerificationTokenHash: p.VerificationTokenHash,
			SessionTokenHash:      p.SessionTokenHash,
			UserID:                userID,
			ExpiresAt:             p.ExpiresAt,
			CreatedAt:             p.CreatedAt,
		})
		return dbErr.Interpret(op, err)
	})
}

// DeviceCodeGet returns the row of a code. ErrNotFound when absent.
func (s *Store) DeviceCodeGet(ctx context.Context, p *core.DeviceCodeGetParams) (*core.DeviceCode, error) {
	row, err := s.q.DeviceCodeGet(ctx, s.pool, p.Code)
	return sqlkit.Row(dbErr, "device code get", row, err, sqlkit.Infallible(deviceCodeFromRow))
}

// DeviceCodeGetBySessionToken returns the row whose session token hash is
// p.Hash. ErrNotFound when none has.
func (s *Store) DeviceCodeGetBySessionToken(ctx context.Context, p *core.DeviceCodeGetBySessionTokenParams) (*core.DeviceCode, error) {
	row, err := s.q.DeviceCodeGetBySessionTokenHash(ctx, s.pool, &p.Hash)
	return sqlkit.Row(dbErr, "device code get by session token", row, err, sqlkit.Infallible(deviceCodeFromRow))
}

// DeviceCodeUpdate locks the code's row (FOR NO KEY UPDATE), runs p.Fn on
// it and saves the email, status, sealed API key, verification and session
// token hashes and user id that Fn leaves. Fn's error aborts without
// saving and is returned as is. ErrNotFound when absent.
func (s *Store) DeviceCodeUpdate(ctx context.Context, p *core.DeviceCodeUpdateParams) (*core.DeviceCode, error) {
	const op = "device code update"
	var out *core.DeviceCode
	err := s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		row, err := s.q.DeviceCodeGetForUpdate(ctx, tx, p.Code)
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		d := deviceCodeFromRow(row)
		if err := p.Fn(d); err != nil {
			return err
		}
		userID, err := sqlkit.OptionalUUID("user id", (*string)(d.UserID))
		if err != nil {
			return dbErr.Op(op, err)
		}
		row, err = s.q.DeviceCodeUpdate(ctx, tx, &dbsqlc.DeviceCodeUpdateParams{
			ID:                    row.ID,
			Email:                 d.Email,
			Status:                d.Status,
			APIKeySealed:          d.APIKeySealed,
			VerificationTokenHash: d.VerificationTokenHash,
			SessionTokenHash:      d.SessionTokenHash,
			UserID:                userID,
		})
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		out = deviceCodeFromRow(row)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeviceCodePurge deletes the device codes that expired before p.Before
// (by index) in one statement and returns how many went.
func (s *Store) DeviceCodePurge(ctx context.Context, p *core.DeviceCodePurgeParams) (int, error) {
	n, err := s.q.DeviceCodePurge(ctx, s.pool, p.Before)
	if err != nil {
		return 0, dbErr.Interpret("device code purge", err)
	}
	return int(n), nil
}

func deviceCodeFromRow(r *dbsqlc.DeviceCode) *core.DeviceCode {
	d := &core.DeviceCode{
		ID:                    r.ID,
		Code:                  r.DeviceCode,
		Email:                 r.Email,
		Status:                r.Status,
		APIKeySealed:          r.APIKeySealed,
		VerificationTokenHash: r.VerificationTokenHash,
		SessionTokenHash:      r.SessionTokenHash,
		ExpiresAt:             utc(r.ExpiresAt),
		CreatedAt:             utc(r.CreatedAt),
	}
	if r.UserID != nil {
		d.UserID = new(core.TenantID(*r.UserID))
	}
	return d
}
