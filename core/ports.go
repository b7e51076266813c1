package core

import (
	"context"
	"net/netip"
	"time"
)

// Store is the persistence port. Every method is safe for concurrent use.
// Methods that read or change tenant data take the tenant explicitly and
// return ErrNotFound for another tenant's rows. Unique violations surface as
// ErrConflict. Times are UTC with microsecond precision. Each method is
// atomic: multi-row changes (create with limit check, read-modify-write) run
// in one transaction inside the adapter.
type Store interface {
	// Ping checks the database is reachable.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error

	// UserCreate inserts a user. ErrConflict: the email (exact match) or the
	// key hash is taken.
	UserCreate(ctx context.Context, p *UserCreateParams) (*User, error)
	// UserGet returns the user. ErrNotFound when absent.
	UserGet(ctx context.Context, p *UserGetParams) (*User, error)
	// UserGetByAPIKeyHash returns the user whose current key has this hash.
	// ErrNotFound when none has.
	UserGetByAPIKeyHash(ctx context.Context, p *UserGetByAPIKeyHashParams) (*User, error)
	// UserGetByEmail returns the user with this exact email. ErrNotFound
	// when none has it.
	UserGetByEmail(ctx context.Context, p *UserGetByEmailParams) (*User, error)
	// UserUpdate runs Fn on the locked current row and saves what it leaves
	// (email, alert webhook URL and secret, webhook secret, limits, plan).
	// Fn's error aborts without saving and is returned as is. ErrNotFound when
	// absent; ErrConflict when the new email is taken.
	UserUpdate(ctx context.Context, p *UserUpdateParams) (*User, error)
	// UserRotateAPIKey replaces the user's key hash/prefix/sealed copy and
	// records a tombstone for the old hash (rotated at Now), in one
	// transaction. Returns the updated user and the old hash.
	UserRotateAPIKey(ctx context.Context, p *UserRotateAPIKeyParams) (*User, string, error)
	// RotatedKeyGet reports when the key with this hash was rotated away.
	// ErrNotFound when it never was.
	RotatedKeyGet(ctx context.Context, p *RotatedKeyGetParams) (time.Time, error)

	// CueCreate inserts the cue. In the same transaction it fails with
	// ErrConflict when the tenant already has a cue of that name (any status)
	// and with ErrLimitExceeded when the tenant's active+paused cues already
	// number ActiveCueLimit or more — so parallel creates never exceed it.
	CueCreate(ctx context.Context, p *CueCreateParams) (*Cue, error)
	// CueGet returns the tenant's cue. ErrNotFound when absent or foreign.
	CueGet(ctx context.Context, p *CueGetParams) (*Cue, error)
	// CueGetByName returns the tenant's cue with this exact name.
	CueGetByName(ctx context.Context, p *CueGetByNameParams) (*Cue, error)
	// CueList returns a page of the tenant's cues, newest first (ties broken
	// by id, so pages are stable), and the total matching count.
	CueList(ctx context.Context, p *CueListParams) ([]*Cue, int, error)
	// CueUpdate runs Fn on the locked current row and saves everything Fn
	// leaves in it except ID, TenantID, Transport, counters and CreatedAt.
	// ErrNotFound when absent or foreign; ErrConflict on a duplicate name.
	CueUpdate(ctx context.Context, p *CueUpdateParams) (*Cue, error)
	// CueDelete deletes the cue and its executions. ErrNotFound when absent
	// or foreign.
	CueDelete(ctx context.Context, p *CueDeleteParams) error
	// CueCountByStatus counts the tenant's cues per status.
	CueCountByStatus(ctx context.Context, p *CueCountByStatusParams) (map[CueStatus]int, error)

	// ExecutionList returns a page of the tenant's executions, newest
	// (created_at) first, ties by id, with the total matching count.
	ExecutionList(ctx context.Context, p *ExecutionListParams) ([]*Execution, int, error)

	// WorkerCountActive counts the tenant's workers whose last heartbeat is
	// at or after Since (all tenants when TenantID is empty).
	WorkerCountActive(ctx context.Context, p *WorkerCountActiveParams) (int, error)

	EngineStore
	WorkStore
}

// UserCreateParams are the inputs of Store.UserCreate. User.ID and
// timestamps must be set by the caller.
type UserCreateParams struct{ User *User }

// UserGetParams selects a user by id.
type UserGetParams struct{ ID TenantID }

// UserGetByAPIKeyHashParams selects a user by current key hash.
type UserGetByAPIKeyHashParams struct{ Hash string }

// UserGetByEmailParams selects a user by exact email.
type UserGetByEmailParams struct{ Email string }

// UserUpdateParams is a read-modify-write of one user.
type UserUpdateParams struct {
	ID TenantID
	Fn func(u *User) error
}

// UserRotateAPIKeyParams replaces a user's API key.
type UserRotateAPIKeyParams struct {
	ID        TenantID
	NewHash   string
	NewPrefix string
	NewSealed *string
	Now       time.Time
}

// RotatedKeyGetParams looks up a rotation tombstone.
type RotatedKeyGetParams struct{ Hash string }

// CueCreateParams inserts a cue (ID, TenantID, timestamps set by the caller).
type CueCreateParams struct {
	Cue            *Cue
	ActiveCueLimit int
}

// CueGetParams selects one of a tenant's cues.
type CueGetParams struct {
	TenantID TenantID
	ID       CueID
}

// CueGetByNameParams selects a tenant's cue by exact name.
type CueGetByNameParams struct {
	TenantID TenantID
	Name     string
}

// CueListParams filters and pages a tenant's cues.
type CueListParams struct {
	TenantID TenantID
	Status   *string
	Limit    int
	Offset   int
}

// CueUpdateParams is a read-modify-write of one cue.
type CueUpdateParams struct {
	TenantID TenantID
	ID       CueID
	Fn       func(c *Cue) error
	// CancelUpcomingAfter, when set, also deletes in the same transaction
	// the cue's scheduler-created executions still pending and scheduled
	// after it (materialized ahead for the old schedule) and decrements
	// fired_count — atomically with the new schedule, so the scheduler can
	// never slip a new-schedule run in between.
	CancelUpcomingAfter *time.Time
}

// CueDeleteParams deletes one of a tenant's cues.
type CueDeleteParams struct {
	TenantID TenantID
	ID       CueID
}

// CueCountByStatusParams counts a tenant's cues.
type CueCountByStatusParams struct{ TenantID TenantID }

// ExecutionListParams filters and pages a tenant's executions.
type ExecutionListParams struct {
	TenantID     TenantID
	CueID        *CueID
	Status       *string
	OutcomeState *string
	Limit        int
	Offset       int
}

// WorkerCountActiveParams counts recently seen workers.
type WorkerCountActiveParams struct {
	TenantID TenantID
	Since    time.Time
}

// RateLimiter is a sliding-window limiter over a 60-second window. Safe for
// concurrent use. Rejected requests are not counted.
type RateLimiter interface {
	// Allow records one request in bucket key if fewer than limit requests
	// were accepted in (now-window, now]. It reports the decision and the
	// figures for the X-RateLimit-* headers.
	Allow(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (RateDecision, error)
	// Count returns how many requests were accepted in the window ending now.
	Count(ctx context.Context, key string, window time.Duration, now time.Time) (int, error)
}

// RateDecision is a limiter's answer.
type RateDecision struct {
	Allowed   bool
	Limit     int
	Remaining int
	// ResetAt is when the window frees a slot (rejections) or now+window.
	ResetAt time.Time
	// RetryAfter is set when !Allowed: at least one second.
	RetryAfter time.Duration
}

// AuthCache caches resolved users by key hash so authentication does not hit
// the store on every request, and carries invalidations between replicas: an
// Invalidate on one process is observed by every process's next Get. Safe
// for concurrent use.
type AuthCache interface {
	// Get returns the cached user for the key hash, or ok=false.
	Get(ctx context.Context, keyHash string) (u *User, ok bool, err error)
	// Put caches the user for ttl.
	Put(ctx context.Context, keyHash string, u *User, ttl time.Duration) error
	// Invalidate removes the entry everywhere.
	Invalidate(ctx context.Context, keyHash string) error
}

// SecretBox seals secrets for storage (authenticated encryption). Safe for
// concurrent use.
type SecretBox interface {
	Seal(plaintext string) (string, error)
	// Open fails when the token was not sealed with this box's key.
	Open(token string) (string, error)
}

// URLGuard vets outbound URLs (SSRF policy): at save time (Check) and again
// at connect time inside the deliverer.
type URLGuard interface {
	// Check canonicalizes raw and applies the policy. It returns the
	// canonical URL or a *URLRejection whose Message is the client-facing text.
	Check(ctx context.Context, raw string) (string, error)
}

// URLRejection is a URL refused by the SSRF policy.
type URLRejection struct{ Message string }

func (e *URLRejection) Error() string { return e.Message }

// Resolver resolves host names. Tests use a fake; production uses DNS.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}
