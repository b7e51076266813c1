package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cueapi/cueapi/core/canonjson"
)

// IdempotencyWindow is how long an idempotency key stays bound to the
// first request that used it (clients.md §2.2.7, §2.3).
const IdempotencyWindow = 24 * time.Hour

// MaxIdempotencyKey is the longest idempotency key accepted.
const MaxIdempotencyKey = 256

// Idempotency scopes: a key is unique per tenant within its scope.
const (
	scopeCueCreate = "cues.create"
	scopeFire      = "fire:"  // + cue id
	scopeChain     = "chain:" // + source execution id
)

// IdempotencyClaim asks a store to bind Key (within Scope) to what it
// creates, in the same transaction: a record older than ExpiredBefore is
// replaced; a live one makes the create fail with *IdempotencyHeld and
// write nothing.
type IdempotencyClaim struct {
	Scope         string
	Key           string
	Fingerprint   string
	Now           time.Time
	ExpiredBefore time.Time
}

// IdempotencyRecord is a key bound to the resource its first request
// created.
type IdempotencyRecord struct {
	Scope       string
	Key         string
	Fingerprint string
	CueID       CueID
	ExecutionID *ExecutionID
	CreatedAt   time.Time
}

// IdempotencyHeld is the error a create returns when its claim's key is
// already bound (a concurrent request won the race).
type IdempotencyHeld struct{ Record *IdempotencyRecord }

func (e *IdempotencyHeld) Error() string {
	return fmt.Sprintf("idempotency key %q is held", e.Record.Key)
}

// IdempotencyStore reads idempotency keys. Keys are written only by the
// creates that take an IdempotencyClaim (CueCreate, ExecutionCreate).
type IdempotencyStore interface {
	// IdempotencyGet returns the tenant's record of Key in Scope, whatever
	// its age. ErrNotFound when there is none.
	IdempotencyGet(ctx context.Context, p *IdempotencyGetParams) (*IdempotencyRecord, error)
}

// IdempotencyGetParams selects one idempotency record.
type IdempotencyGetParams struct {
	TenantID TenantID
	Scope    string
	Key      string
}

// Fingerprint is the SHA-256 (hex) of the canonical JSON of v (keys
// sorted at every level, compact).
func Fingerprint(v any) (string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	c, err := canonjson.Canonical(raw)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(c)
	return hex.EncodeToString(sum[:]), nil
}

// newClaim is the claim of key in scope as of now.
func newClaim(scope, key, fingerprint string, now time.Time) *IdempotencyClaim {
	return &IdempotencyClaim{Scope: scope, Key: key, Fingerprint: fingerprint, Now: now, ExpiredBefore: now.Add(-IdempotencyWindow)}
}

// liveRecord returns the tenant's record of key in scope when it is still
// within its window (nil otherwise).
func liveRecord(ctx context.Context, st IdempotencyStore, tenant TenantID, scope, key string, now time.Time) (*IdempotencyRecord, error) {
	r, err := st.IdempotencyGet(ctx, &IdempotencyGetParams{TenantID: tenant, Scope: scope, Key: key})
	switch {
	case err == nil:
		if r.CreatedAt.Before(now.Add(-IdempotencyWindow)) {
			return nil, nil
		}
		return r, nil
	case errors.Is(err, ErrNotFound):
		return nil, nil
	default:
		return nil, err
	}
}

// idempotencyConflict is the 409 for a key reused with another body.
func idempotencyConflict(existing string) error {
	return Conflict("idempotency_key_conflict",
		fmt.Sprintf("Idempotency key reused with a different request body. Existing %s", existing))
}

// checkIdempotencyKey validates a key sent in field.
func checkIdempotencyKey(field FieldError, key *string) *FieldError {
	if key == nil {
		return nil
	}
	switch n := len([]rune(*key)); {
	case n == 0:
		f := field
		f.Rule, f.Limit = RuleMinLength, 1
		return &f
	case n > MaxIdempotencyKey:
		f := field.TooLong(MaxIdempotencyKey)
		return &f
	}
	return nil
}
