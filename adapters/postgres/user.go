package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cueapi/cueapi/adapters/internal/sqlkit"
	"github.com/cueapi/cueapi/adapters/postgres/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
)

// UserCreate inserts p.User. ErrConflict when the email or key hash is taken.
func (s *Store) UserCreate(ctx context.Context, p *core.UserCreateParams) (*core.User, error) {
	const op = "user create"
	u := p.User
	id, ok := sqlkit.UUID(string(u.ID))
	if !ok {
		return nil, dbErr.Op(op, fmt.Errorf("user id %q is not a UUID", u.ID))
	}
	row, err := s.q.UserInsert(ctx, s.pool, &dbsqlc.UserInsertParams{
		ID:                    id,
		Email:                 u.Email,
		APIKeyHash:            u.APIKeyHash,
		APIKeyPrefix:          u.APIKeyPrefix,
		APIKeySealed:          u.APIKeySealed,
		Plan:                  u.Plan,
		ActiveCueLimit:        int32(u.ActiveCueLimit),
		MonthlyExecutionLimit: int32(u.MonthlyExecutionLimit),
		RateLimitPerMinute:    int32(u.RateLimitPerMinute),
		WebhookSecretSealed:   u.WebhookSecretSealed,
		AlertWebhookURL:       u.AlertWebhookURL,
		AlertSecretSealed:     u.AlertSecretSealed,
		CreatedAt:             u.CreatedAt,
		UpdatedAt:             u.UpdatedAt,
	})
	return sqlkit.Row(dbErr, op, row, err, sqlkit.Infallible(userFromRow))
}

// UserGet returns the user. ErrNotFound when absent (or id is not a UUID).
func (s *Store) UserGet(ctx context.Context, p *core.UserGetParams) (*core.User, error) {
	const op = "user get"
	id, ok := sqlkit.UUID(string(p.ID))
	if !ok {
		return nil, dbErr.Op(op, core.ErrNotFound)
	}
	row, err := s.q.UserGet(ctx, s.pool, id)
	return sqlkit.Row(dbErr, op, row, err, sqlkit.Infallible(userFromRow))
}

// UserGetByAPIKeyHash returns the user whose current key has this hash.
// ErrNotFound when none has.
func (s *Store) UserGetByAPIKeyHash(ctx context.Context, p *core.UserGetByAPIKeyHashParams) (*core.User, error) {
	row, err := s.q.UserGetByAPIKeyHash(ctx, s.pool, p.Hash)
	return sqlkit.Row(dbErr, "user get by api key hash", row, err, sqlkit.Infallible(userFromRow))
}

// UserGetByEmail returns the user with this exact email. ErrNotFound when
// none has it.
func (s *Store) UserGetByEmail(ctx context.Context, p *core.UserGetByEmailParams) (*core.User, error) {
	row, err := s.q.UserGetByEmail(ctx, s.pool, p.Email)
	return sqlkit.Row(dbErr, "user get by email", row, err, sqlkit.Infallible(userFromRow))
}

// UserUpdate locks the user's row, runs p.Fn on it and saves the email,
// plan, limits, webhook secret, alert webhook URL and secret and UpdatedAt
// that Fn leaves. Fn's error aborts and is returned as is. ErrNotFound when
// absent; ErrConflict when the new email is taken.
func (s *Store) UserUpdate(ctx context.Context, p *core.UserUpdateParams) (*core.User, error) {
	const op = "user update"
	id, ok := sqlkit.UUID(string(p.ID))
	if !ok {
		return nil, dbErr.Op(op, core.ErrNotFound)
	}
	var out *core.User
	err := s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		row, err := s.q.UserGetForUpdate(ctx, tx, id)
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		u := userFromRow(row)
		if err := p.Fn(u); err != nil {
			return err
		}
		row, err = s.q.UserUpdate(ctx, tx, &dbsqlc.UserUpdateParams{
			ID:                    id,
			Email:                 u.Email,
			Plan:                  u.Plan,
			ActiveCueLimit:        int32(u.ActiveCueLimit),
			MonthlyExecutionLimit: int32(u.MonthlyExecutionLimit),
			RateLimitPerMinute:    int32(u.RateLimitPerMinute),
			WebhookSecretSealed:   u.WebhookSecretSealed,
			AlertWebhookURL:       u.AlertWebhookURL,
			AlertSecretSealed:     u.AlertSecretSealed,
			UpdatedAt:             u.UpdatedAt,
		})
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		out = userFromRow(row)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UserRotateAPIKey replaces the user's key hash, prefix and sealed copy,
// sets UpdatedAt to p.Now and records the old hash as rotated at p.Now, in
// one transaction. It returns the updated user and the old hash. ErrNotFound
// when absent; ErrConflict when the new hash is taken.
func (s *Store) UserRotateAPIKey(ctx context.Context, p *core.UserRotateAPIKeyParams) (*core.User, string, error) {
	const op = "user rotate api key"
	id, ok := sqlkit.UUID(string(p.ID))
	if !ok {
		return nil, "", dbErr.Op(op, core.ErrNotFound)
	}
	var (
		out     *core.User
		oldHash string
	)
	err := s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
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
		out = userFromRow(row)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, oldHash, nil
}

// RotatedKeyGet returns when the key with this hash was rotated away (UTC).
// ErrNotFound when it never was.
func (s *Store) RotatedKeyGet(ctx context.Context, p *core.RotatedKeyGetParams) (time.Time, error) {
	at, err := s.q.RotatedKeyGet(ctx, s.pool, p.Hash)
	if err != nil {
		return time.Time{}, dbErr.Interpret("rotated key get", err)
	}
	return utc(at), nil
}

func userFromRow(r *dbsqlc.User) *core.User {
	return &core.User{
		ID:                    core.TenantID(r.ID),
		Email:                 r.Email,
		APIKeyHash:            r.APIKeyHash,
		APIKeyPrefix:          r.APIKeyPrefix,
		APIKeySealed:          r.APIKeySealed,
		Plan:                  r.Plan,
		ActiveCueLimit:        int(r.ActiveCueLimit),
		MonthlyExecutionLimit: int(r.MonthlyExecutionLimit),
		RateLimitPerMinute:    int(r.RateLimitPerMinute),
		WebhookSecretSealed:   r.WebhookSecretSealed,
		AlertWebhookURL:       r.AlertWebhookURL,
		AlertSecretSealed:     r.AlertSecretSealed,
		CreatedAt:             utc(r.CreatedAt),
		UpdatedAt:             utc(r.UpdatedAt),
	}
}
