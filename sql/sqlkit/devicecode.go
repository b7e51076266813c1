package sqlkit

import "github.com/cueapi/cueapi/core"

// DeviceCodeRow mirrors a device_codes row and DeviceCodeInsert's
// parameters (see Times for T).
type DeviceCodeRow[T any] struct {
	ID                    string
	DeviceCode            string
	Email                 *string
	Status                string
	APIKeySealed          *string
	VerificationTokenHash *string
	SessionTokenHash      *string
	UserID                *string
	ExpiresAt             T
	CreatedAt             T
}

// DeviceCodeUpdateRow mirrors DeviceCodeUpdate's parameters.
type DeviceCodeUpdateRow struct {
	Email                 *string
	Status                string
	APIKeySealed          *string
	VerificationTokenHash *string
	SessionTokenHash      *string
	UserID                *string
	ID                    string
}

// DeviceCodeOf converts a device_codes row.
func DeviceCodeOf[T any](r *DeviceCodeRow[T], at Times[T]) (*core.DeviceCode, error) {
	var d Decoder
	c := &core.DeviceCode{
		ID:                    r.ID,
		Code:                  r.DeviceCode,
		Email:                 r.Email,
		Status:                r.Status,
		APIKeySealed:          r.APIKeySealed,
		VerificationTokenHash: r.VerificationTokenHash,
		SessionTokenHash:      r.SessionTokenHash,
		UserID:                Named[core.TenantID](r.UserID),
		ExpiresAt:             Time(&d, at, r.ExpiresAt),
		CreatedAt:             Time(&d, at, r.CreatedAt),
	}
	if d.Err != nil {
		return nil, d.Err
	}
	return c, nil
}

// DeviceCodeInsertOf is the row that inserts c; its id and user id must
// be UUIDs.
func DeviceCodeInsertOf[T any](c *core.DeviceCode, at Times[T]) (*DeviceCodeRow[T], error) {
	var enc Args
	r := &DeviceCodeRow[T]{
		ID:                    enc.ID("device code id", c.ID),
		DeviceCode:            c.Code,
		Email:                 c.Email,
		Status:                c.Status,
		APIKeySealed:          c.APIKeySealed,
		VerificationTokenHash: c.VerificationTokenHash,
		SessionTokenHash:      c.SessionTokenHash,
		UserID:                enc.OptionalID("user id", (*string)(c.UserID)),
		ExpiresAt:             at.Encode(c.ExpiresAt),
		CreatedAt:             at.Encode(c.CreatedAt),
	}
	return r, enc.Err
}

// DeviceCodeUpdateOf is the parameters that save what DeviceCodeUpdate
// saves of c over the row of id; its user id must be a UUID.
func DeviceCodeUpdateOf(id string, c *core.DeviceCode) (*DeviceCodeUpdateRow, error) {
	var enc Args
	r := &DeviceCodeUpdateRow{
		ID:                    id,
		Email:                 c.Email,
		Status:                c.Status,
		APIKeySealed:          c.APIKeySealed,
		VerificationTokenHash: c.VerificationTokenHash,
		SessionTokenHash:      c.SessionTokenHash,
		UserID:                enc.OptionalID("user id", (*string)(c.UserID)),
	}
	return r, enc.Err
}
