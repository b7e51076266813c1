// Package authcache implements core.AuthCache: resolved users cached by API
// key hash, with invalidations that hold across replicas (security.md
// §1.3–1.5).
//
// Two adapters: Memory, an in-process map for the embedded single-process
// mode, and Redis, shared by every replica.
//
// Invalidation uses tombstones. Invalidate(h) records a tombstone for h that
// lives TombstoneTTL and deletes the entry, in one atomic step; Put(h) is a
// no-op while a tombstone for h exists (checked and written atomically); Get
// treats an entry as a miss while a tombstone exists. This closes the
// residual window of §1.5 marked [F]: an authentication that read the
// database before a key rotation and writes the cache after it cannot bring
// the old key back. The price: after Invalidate(h), h is not cached for
// TombstoneTTL, so every request with that key goes to the store. For a
// rotated key that costs nothing (the key is dead); callers that want to
// refresh a live key's cached user (a plan change) should Put the fresh user
// instead — staleness is then bounded by the entry's TTL, as §1.3 allows.
//
// Entries are not refreshed by hits: a user cached for ttl is dropped ttl
// after the Put, whatever the traffic. The cached user carries only what
// core.User carries — hashes and sealed values, never a secret in clear.
package authcache

import (
	"encoding/json"
	"time"

	"github.com/cueapi/cueapi/core"
)

// TombstoneTTL is how long an invalidated hash refuses Puts. It must exceed
// the longest time between an authentication's database read and its cache
// write; requests time out long before.
const TombstoneTTL = 10 * time.Minute

// entryVersion marks entries in the format below, so entries written by
// anything else (another version, the reference server) read as misses.
const entryVersion = 2

// entry is the stored form of a cached user (JSON in Redis).
type entry struct {
	Version               int       `json:"v"`
	ExpiresAt             int64     `json:"exp"` // Unix µs by the writer's clock
	ID                    string    `json:"id"`
	Email                 string    `json:"email"`
	Slug                  string    `json:"slug"`
	APIKeyHash            string    `json:"api_key_hash"`
	APIKeyPrefix          string    `json:"api_key_prefix"`
	APIKeySealed          *string   `json:"api_key_sealed,omitempty"`
	Plan                  string    `json:"plan"`
	ActiveCueLimit        int       `json:"active_cue_limit"`
	MonthlyExecutionLimit int       `json:"monthly_execution_limit"`
	RateLimitPerMinute    int       `json:"rate_limit_per_minute"`
	WebhookSecretSealed   string    `json:"webhook_secret_sealed"`
	AlertWebhookURL       *string   `json:"alert_webhook_url,omitempty"`
	AlertSecretSealed     *string   `json:"alert_secret_sealed,omitempty"`
	CreatedAt             time.Time `json:"created_at"`
	UpdatedAt             time.Time `json:"updated_at"`
}

func encodeEntry(u *core.User, expiresAt time.Time) ([]byte, error) {
	return json.Marshal(&entry{
		Version:               entryVersion,
		ExpiresAt:             expiresAt.UnixMicro(),
		ID:                    string(u.ID),
		Email:                 u.Email,
		Slug:                  u.Slug,
		APIKeyHash:            u.APIKeyHash,
		APIKeyPrefix:          u.APIKeyPrefix,
		APIKeySealed:          u.APIKeySealed,
		Plan:                  u.Plan,
		ActiveCueLimit:        u.ActiveCueLimit,
		MonthlyExecutionLimit: u.MonthlyExecutionLimit,
		RateLimitPerMinute:    u.RateLimitPerMinute,
		WebhookSecretSealed:   u.WebhookSecretSealed,
		AlertWebhookURL:       u.AlertWebhookURL,
		AlertSecretSealed:     u.AlertSecretSealed,
		CreatedAt:             u.CreatedAt.UTC(),
		UpdatedAt:             u.UpdatedAt.UTC(),
	})
}

// decodeEntry returns the user and its expiry, or ok=false for an entry in
// another format.
func decodeEntry(b []byte) (u *core.User, expiresAt time.Time, ok bool, err error) {
	var e entry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, time.Time{}, false, err
	}
	if e.Version != entryVersion {
		return nil, time.Time{}, false, nil
	}
	return &core.User{
		ID:                    core.TenantID(e.ID),
		Email:                 e.Email,
		Slug:                  e.Slug,
		APIKeyHash:            e.APIKeyHash,
		APIKeyPrefix:          e.APIKeyPrefix,
		APIKeySealed:          e.APIKeySealed,
		Plan:                  e.Plan,
		ActiveCueLimit:        e.ActiveCueLimit,
		MonthlyExecutionLimit: e.MonthlyExecutionLimit,
		RateLimitPerMinute:    e.RateLimitPerMinute,
		WebhookSecretSealed:   e.WebhookSecretSealed,
		AlertWebhookURL:       e.AlertWebhookURL,
		AlertSecretSealed:     e.AlertSecretSealed,
		CreatedAt:             e.CreatedAt.UTC(),
		UpdatedAt:             e.UpdatedAt.UTC(),
	}, time.UnixMicro(e.ExpiresAt), true, nil
}

// copyUser returns a deep copy of u, so neither the caller nor the cache
// sees the other's later changes.
func copyUser(u *core.User) *core.User {
	c := *u
	c.APIKeySealed = copyString(u.APIKeySealed)
	c.AlertWebhookURL = copyString(u.AlertWebhookURL)
	c.AlertSecretSealed = copyString(u.AlertSecretSealed)
	return &c
}

func copyString(s *string) *string {
	if s == nil {
		return nil
	}
	c := *s
	return &c
}
