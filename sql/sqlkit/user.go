package sqlkit

import (
	"time"

	"github.com/cueapi/cueapi/core"
)

// Row mapping, once for both dialects. The structs sqlc generates for a
// table's rows and a query's parameters have the same fields in the same
// order in both dialects and differ only in column types: I is the
// dialect's integer type, T its time type (see Times). Each dialect
// converts its generated struct to the mirror here (Go struct conversion)
// and back, so the field-by-field mapping exists once.

// Times is how a dialect stores a time column of type T.
type Times[T any] struct {
	// Encode is the stored form of a time.
	Encode func(time.Time) T
	// Decode is the time (UTC) of a stored form.
	Decode func(T) (time.Time, error)
}

// Time decodes a NOT NULL time column, recording a failure in d.
func Time[T any](d *Decoder, at Times[T], v T) time.Time {
	t, err := at.Decode(v)
	if err != nil {
		d.Fail(err)
	}
	return t
}

// TimePtr decodes a nullable time column (nil stays nil).
func TimePtr[T any](d *Decoder, at Times[T], v *T) *time.Time {
	if v == nil {
		return nil
	}
	t := Time(d, at, *v)
	return &t
}

// EncodePtr encodes a nullable time (nil stores NULL).
func EncodePtr[T any](at Times[T], t *time.Time) *T {
	if t == nil {
		return nil
	}
	v := at.Encode(*t)
	return &v
}

// UserRow mirrors a users row and UserInsert's parameters.
type UserRow[I int32 | int64, T any] struct {
	ID                    string
	Email                 string
	APIKeyHash            string
	APIKeyPrefix          string
	APIKeySealed          *string
	Plan                  string
	ActiveCueLimit        I
	MonthlyExecutionLimit I
	RateLimitPerMinute    I
	WebhookSecretSealed   string
	AlertWebhookURL       *string
	AlertSecretSealed     *string
	CreatedAt             T
	UpdatedAt             T
	Slug                  string
	// ActiveCueCount is the settled part of the maintained active cue
	// count (migration 0010); only CueCreate reads it.
	ActiveCueCount I
}

// UserUpdateRow mirrors UserUpdate's parameters.
type UserUpdateRow[I int32 | int64, T any] struct {
	Email                 string
	Plan                  string
	ActiveCueLimit        I
	MonthlyExecutionLimit I
	RateLimitPerMinute    I
	WebhookSecretSealed   string
	AlertWebhookURL       *string
	AlertSecretSealed     *string
	UpdatedAt             T
	ID                    string
}

// UserOf converts a users row.
func UserOf[I int32 | int64, T any](r *UserRow[I, T], at Times[T]) (*core.User, error) {
	var d Decoder
	u := &core.User{
		ID:                    core.TenantID(r.ID),
		Email:                 r.Email,
		Slug:                  r.Slug,
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
		CreatedAt:             Time(&d, at, r.CreatedAt),
		UpdatedAt:             Time(&d, at, r.UpdatedAt),
	}
	if d.Err != nil {
		return nil, d.Err
	}
	return u, nil
}

// UserInsertOf is the row that inserts u; its id must be a UUID.
func UserInsertOf[I int32 | int64, T any](u *core.User, at Times[T]) (*UserRow[I, T], error) {
	var enc Args
	r := &UserRow[I, T]{
		ID:                    enc.ID("user id", string(u.ID)),
		Email:                 u.Email,
		APIKeyHash:            u.APIKeyHash,
		APIKeyPrefix:          u.APIKeyPrefix,
		APIKeySealed:          u.APIKeySealed,
		Plan:                  u.Plan,
		ActiveCueLimit:        I(u.ActiveCueLimit),
		MonthlyExecutionLimit: I(u.MonthlyExecutionLimit),
		RateLimitPerMinute:    I(u.RateLimitPerMinute),
		WebhookSecretSealed:   u.WebhookSecretSealed,
		AlertWebhookURL:       u.AlertWebhookURL,
		AlertSecretSealed:     u.AlertSecretSealed,
		CreatedAt:             at.Encode(u.CreatedAt),
		UpdatedAt:             at.Encode(u.UpdatedAt),
		Slug:                  u.Slug,
	}
	return r, enc.Err
}

// UserUpdateOf is the parameters that save what UserUpdate saves of u
// over the row of id.
func UserUpdateOf[I int32 | int64, T any](id string, u *core.User, at Times[T]) *UserUpdateRow[I, T] {
	return &UserUpdateRow[I, T]{
		ID:                    id,
		Email:                 u.Email,
		Plan:                  u.Plan,
		ActiveCueLimit:        I(u.ActiveCueLimit),
		MonthlyExecutionLimit: I(u.MonthlyExecutionLimit),
		RateLimitPerMinute:    I(u.RateLimitPerMinute),
		WebhookSecretSealed:   u.WebhookSecretSealed,
		AlertWebhookURL:       u.AlertWebhookURL,
		AlertSecretSealed:     u.AlertSecretSealed,
		UpdatedAt:             at.Encode(u.UpdatedAt),
	}
}
