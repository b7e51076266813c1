package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/cueapi/cueapi/adapters/internal/sqlkit"
	"github.com/cueapi/cueapi/adapters/sqlite/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
)

// DeviceCodeCreate inserts the device code in one write transaction of two
// statements: it deletes a row of the same code that may be replaced
// (status expired or claimed, or expires_at <= p.CreatedAt — the creation
// time is "now"), then inserts; a live row left in place makes the insert
// fail on the unique code. ErrConflict when a live row exists (or the id
// is taken).
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
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		err := s.q.DeviceCodeDeleteReplaceable(ctx, tx, &dbsqlc.DeviceCodeDeleteReplaceableParams{DeviceCode: p.Code, Now: timeArg(p.CreatedAt)})
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
			ExpiresAt:             timeArg(p.ExpiresAt),
			CreatedAt:             timeArg(p.CreatedAt),
		})
		return dbErr.Interpret(op, err)
	})
}

// DeviceCodeGet returns the row of a code. ErrNotFound when absent.
func (s *Store) DeviceCodeGet(ctx context.Context, p *core.DeviceCodeGetParams) (*core.DeviceCode, error) {
	const op = "device code get"
	row, err := s.q.DeviceCodeGet(ctx, s.rdb, p.Code)
	return sqlkit.Row(dbErr, op, row, err, deviceCodeFromRow)
}

// DeviceCodeGetBySessionToken returns the row whose session token hash is
// p.Hash. ErrNotFound when none has.
func (s *Store) DeviceCodeGetBySessionToken(ctx context.Context, p *core.DeviceCodeGetBySessionTokenParams) (*core.DeviceCode, error) {
	const op = "device code get by session token"
	row, err := s.q.DeviceCodeGetBySessionTokenHash(ctx, s.rdb, &p.Hash)
	return sqlkit.Row(dbErr, op, row, err, deviceCodeFromRow)
}

// DeviceCodeUpdate reads the code's row under the write lock, runs p.Fn on
// it and saves the email, status, sealed API key, verification and session
// token hashes and user id that Fn leaves. Fn's error aborts without
// saving and is returned as is. ErrNotFound when absent.
func (s *Store) DeviceCodeUpdate(ctx context.Context, p *core.DeviceCodeUpdateParams) (*core.DeviceCode, error) {
	const op = "device code update"
	var out *core.DeviceCode
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
		row, err := s.q.DeviceCodeGetForUpdate(ctx, tx, p.Code)
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		d, err := deviceCodeFromRow(row)
		if err != nil {
			return dbErr.Op(op, err)
		}
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
		out, err = deviceCodeFromRow(row)
		return dbErr.Op(op, err)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeviceCodePurge deletes the device codes that expired before p.Before
// (by index) in one statement and returns how many went.
func (s *Store) DeviceCodePurge(ctx context.Context, p *core.DeviceCodePurgeParams) (int, error) {
	n, err := s.q.DeviceCodePurge(ctx, s.wdb, timeArg(p.Before))
	if err != nil {
		return 0, dbErr.Interpret("device code purge", err)
	}
	return int(n), nil
}

func deviceCodeFromRow(r *dbsqlc.DeviceCode) (*core.DeviceCode, error) {
	var dec decoder
	d := &core.DeviceCode{
		ID:                    r.ID,
		Code:                  r.DeviceCode,
		Email:                 r.Email,
		Status:                r.Status,
		APIKeySealed:          r.APIKeySealed,
		VerificationTokenHash: r.VerificationTokenHash,
		SessionTokenHash:      r.SessionTokenHash,
		ExpiresAt:             dec.time(r.ExpiresAt),
		CreatedAt:             dec.time(r.CreatedAt),
	}
	if dec.Err != nil {
		return nil, dec.Err
	}
	if r.UserID != nil {
		d.UserID = new(core.TenantID(*r.UserID))
	}
	return d, nil
}
