package sqlite

import (
	"context"
	"database/sql"

	"github.com/cueapi/cueapi/adapters/sqlite/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
)

// DeviceCodeCreate inserts the device code in one write transaction of two
// statements: it deletes a row of the same code that may be replaced
// (status expired or claimed, or expires_at <= p.CreatedAt — the creation
// time is "now"), then inserts; a live row left in place makes the insert
// fail on the unique code. ErrConflict when a live row exists (or the id
// is taken).
func (s *Store) DeviceCodeCreate(ctx context.Context, p *core.DeviceCode) error {
	const op = "device code create"
	args, err := sqlkit.DeviceCodeInsertOf(p, times)
	if err != nil {
		return dbErr.Op(op, err)
	}
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		err := s.q.DeviceCodeDeleteReplaceable(ctx, tx, &dbsqlc.DeviceCodeDeleteReplaceableParams{DeviceCode: p.Code, Now: timeArg(p.CreatedAt)})
		if err != nil {
			return dbErr.Interpret(op+": replace", err)
		}
		err = s.q.DeviceCodeInsert(ctx, tx, (*dbsqlc.DeviceCodeInsertParams)(args))
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
	return sqlkit.Value(&out, s.inTx(ctx, op, func(tx *sql.Tx) (err error) {
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
	n, err := s.q.DeviceCodePurge(ctx, s.wdb, timeArg(p.Before))
	if err != nil {
		return 0, dbErr.Interpret("device code purge", err)
	}
	return int(n), nil
}

func deviceCodeFromRow(r *dbsqlc.DeviceCode) (*core.DeviceCode, error) {
	return sqlkit.DeviceCodeOf((*sqlkit.DeviceCodeRow[string])(r), times)
}
