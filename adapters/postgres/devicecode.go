package postgres

import (
	"context"
	"time"

	"github.com/cueapi/cueapi/adapters/postgres/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
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
	args, err := sqlkit.DeviceCodeInsertOf(p, times)
	if err != nil {
		return dbErr.Op(op, err)
	}
	return s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		err := s.q.DeviceCodeDeleteReplaceable(ctx, tx, &dbsqlc.DeviceCodeDeleteReplaceableParams{DeviceCode: p.Code, Now: p.CreatedAt})
		if err != nil {
			return dbErr.Interpret(op+": replace", err)
		}
		err = s.q.DeviceCodeInsert(ctx, tx, (*dbsqlc.DeviceCodeInsertParams)(args))
		return dbErr.Interpret(op, err)
	})
}

// DeviceCodeGet returns the row of a code. ErrNotFound when absent.
func (s *Store) DeviceCodeGet(ctx context.Context, p *core.DeviceCodeGetParams) (*core.DeviceCode, error) {
	row, err := s.q.DeviceCodeGet(ctx, s.rd, p.Code)
	return sqlkit.Row(dbErr, "device code get", row, err, deviceCodeFromRow)
}

// DeviceCodeGetBySessionToken returns the row whose session token hash is
// p.Hash. ErrNotFound when none has.
func (s *Store) DeviceCodeGetBySessionToken(ctx context.Context, p *core.DeviceCodeGetBySessionTokenParams) (*core.DeviceCode, error) {
	row, err := s.q.DeviceCodeGetBySessionTokenHash(ctx, s.rd, &p.Hash)
	return sqlkit.Row(dbErr, "device code get by session token", row, err, deviceCodeFromRow)
}

// DeviceCodeUpdate locks the code's row (FOR NO KEY UPDATE), runs p.Fn on
// it and saves the email, status, sealed API key, verification and session
// token hashes and user id that Fn leaves. Fn's error aborts without
// saving and is returned as is. ErrNotFound when absent.
func (s *Store) DeviceCodeUpdate(ctx context.Context, p *core.DeviceCodeUpdateParams) (*core.DeviceCode, error) {
	const op = "device code update"
	var out *core.DeviceCode
	return sqlkit.Value(&out, s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) (err error) {
		out, err = sqlkit.Modify(dbErr, op, func() (*dbsqlc.DeviceCode, error) {
			return s.q.DeviceCodeGetForUpdate(ctx, tx, p.Code)
		}, deviceCodeFromRow, p.Fn, func(row *dbsqlc.DeviceCode, d *core.DeviceCode) (*dbsqlc.DeviceCode, error) {
			args, err := sqlkit.DeviceCodeUpdateOf(row.ID, d)
			if err != nil {
				return nil, err
			}
			return s.q.DeviceCodeUpdate(ctx, tx, (*dbsqlc.DeviceCodeUpdateParams)(args))
		})
		return err
	}))
}

// DeviceCodePurge deletes the device codes that expired before p.Before
// (by index) in one statement and returns how many went.
func (s *Store) DeviceCodePurge(ctx context.Context, p *core.DeviceCodePurgeParams) (int, error) {
	n, err := s.q.DeviceCodePurge(ctx, s.rd, p.Before)
	if err != nil {
		return 0, dbErr.Interpret("device code purge", err)
	}
	return int(n), nil
}

func deviceCodeFromRow(r *dbsqlc.DeviceCode) (*core.DeviceCode, error) {
	return sqlkit.DeviceCodeOf((*sqlkit.DeviceCodeRow[time.Time])(r), times)
}
