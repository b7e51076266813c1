package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cueapi/cueapi/adapters/postgres/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
)

// UserCreate inserts p.User. ErrConflict when the email or key hash is taken.
func (s *Store) UserCreate(ctx context.Context, p *core.UserCreateParams) (*core.User, error) {
	const op = "user create"
	args, err := sqlkit.UserInsertOf[int32](p.User, times)
	if err != nil {
		return nil, dbErr.Op(op, err)
	}
	row, err := s.q.UserInsert(ctx, s.rd, (*dbsqlc.UserInsertParams)(args))
	return sqlkit.Row(dbErr, op, row, err, userFromRow)
}

// UserGet returns the user. ErrNotFound when absent (or id is not a UUID).
func (s *Store) UserGet(ctx context.Context, p *core.UserGetParams) (*core.User, error) {
	const op = "user get"
	return sqlkit.Find(dbErr, op, string(p.ID), func(id string) (*core.User, error) {
		row, err := s.q.UserGet(ctx, s.rd, id)
		return sqlkit.Row(dbErr, op, row, err, userFromRow)
	})
}

// UserGetByAPIKeyHash returns the user whose current key has this hash.
// ErrNotFound when none has.
func (s *Store) UserGetByAPIKeyHash(ctx context.Context, p *core.UserGetByAPIKeyHashParams) (*core.User, error) {
	row, err := s.q.UserGetByAPIKeyHash(ctx, s.rd, p.Hash)
	return sqlkit.Row(dbErr, "user get by api key hash", row, err, userFromRow)
}

// UserGetByEmail returns the user with this exact email. ErrNotFound when
// none has it.
func (s *Store) UserGetByEmail(ctx context.Context, p *core.UserGetByEmailParams) (*core.User, error) {
	row, err := s.q.UserGetByEmail(ctx, s.rd, p.Email)
	return sqlkit.Row(dbErr, "user get by email", row, err, userFromRow)
}

// UserUpdate locks the user's row, runs p.Fn on it and saves the email,
// plan, limits, webhook secret, alert webhook URL and secret and UpdatedAt
// that Fn leaves. Fn's error aborts and is returned as is. ErrNotFound when
// absent; ErrConflict when the new email is taken.
func (s *Store) UserUpdate(ctx context.Context, p *core.UserUpdateParams) (*core.User, error) {
	const op = "user update"
	var out *core.User
	return sqlkit.Value(&out, s.tenantTx(ctx, op, pgx.TxOptions{}, p.ID, func(tx pgx.Tx, id string) (err error) {
		out, err = sqlkit.Modify(dbErr, op, func() (*dbsqlc.User, error) {
			return s.q.UserGetForUpdate(ctx, tx, id)
		}, userFromRow, p.Fn, func(row *dbsqlc.User, u *core.User) (*dbsqlc.User, error) {
			return s.q.UserUpdate(ctx, tx, (*dbsqlc.UserUpdateParams)(sqlkit.UserUpdateOf[int32](row.ID, u, times)))

		})
		return err
	}))
}

// UserRotateAPIKey replaces the user's key hash, prefix and sealed copy,
// sets UpdatedAt to p.Now and records the old hash as rotated at p.Now, in
// one transaction. It returns the updated user and the old hash. ErrNotFound
// when absent; ErrConflict when the new hash is taken.
func (s *Store) UserRotateAPIKey(ctx context.Context, p *core.UserRotateAPIKeyParams) (*core.User, string, error) {
	const op = "user rotate api key"
	var (
		out     *core.User
		oldHash string
	)
	err := s.tenantTx(ctx, op, pgx.TxOptions{}, p.ID, func(tx pgx.Tx, id string) error {
		row, err := s.q.UserGetForUpdate(ctx, tx, id)
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		oldHash = row.APIKeyHash
		err = s.q.RotatedKeyInsert(ctx, tx, &dbsqlc.RotatedKeyInsertParams{
			KeyHash:   oldHash,
			UserID:    id,
			RotatedAt: p.Now,
		})
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		row, err = s.q.UserSetAPIKey(ctx, tx, &dbsqlc.UserSetAPIKeyParams{
			ID:           id,
			APIKeyHash:   p.NewHash,
			APIKeyPrefix: p.NewPrefix,
			APIKeySealed: p.NewSealed,
			UpdatedAt:    p.Now,
		})
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		out, err = userFromRow(row)
		return dbErr.Op(op, err)
	})
	if err != nil {
		return nil, "", err
	}
	return out, oldHash, nil
}

// RotatedKeyGet returns when the key with this hash was rotated away (UTC).
// ErrNotFound when it never was.
func (s *Store) RotatedKeyGet(ctx context.Context, p *core.RotatedKeyGetParams) (time.Time, error) {
	at, err := s.q.RotatedKeyGet(ctx, s.rd, p.Hash)
	if err != nil {
		return time.Time{}, dbErr.Interpret("rotated key get", err)
	}
	return utc(at), nil
}

func userFromRow(r *dbsqlc.User) (*core.User, error) {
	return sqlkit.UserOf((*sqlkit.UserRow[int32, time.Time])(r), times)
}
