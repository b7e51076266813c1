package core

import (
	"context"
	"errors"
	"strings"
	"time"
)

// AccountsConfig holds the account defaults and policies.
type AccountsConfig struct {
	// AllowRegister is the effective switch (cmd combines ALLOW_REGISTER
	// with ENV=development, which always allows).
	AllowRegister bool
	// Plan defaults for new users.
	DefaultPlan                  string
	DefaultActiveCueLimit        int
	DefaultMonthlyExecutionLimit int
	DefaultRateLimitPerMinute    int
	// AuthCacheTTL bounds how stale a cached user may be (≤ 5 minutes).
	AuthCacheTTL time.Duration
	// RotatedKeyGrace is how long a rotated key answers key_rotated.
	RotatedKeyGrace time.Duration
	// Notifier emails key and secret rotation notices (nil: logged only).
	Notifier *Notifier
}

// DefaultAccountsConfig returns the reference defaults.
func DefaultAccountsConfig() AccountsConfig {
	return AccountsConfig{
		AllowRegister: true, DefaultPlan: "free", DefaultActiveCueLimit: 10,
		DefaultMonthlyExecutionLimit: 300, DefaultRateLimitPerMinute: 60,
		AuthCacheTTL: 5 * time.Minute, RotatedKeyGrace: 24 * time.Hour,
	}
}

// Accounts implements registration, authentication and the account's keys
// and secrets. Safe for concurrent use.
type Accounts struct {
	cfg      AccountsConfig
	store    Store
	cache    AuthCache
	box      SecretBox
	guard    URLGuard
	sessions *Sessions
	clock    Clock
	log      Logger
}

// Logger is the minimal structured logger core writes to (log/slog's
// *slog.Logger satisfies it).
type Logger interface {
	Info(msg string, args ...any)
	Warn(msg string, args ...any)
	Error(msg string, args ...any)
}

// NewAccounts wires the accounts service. Every dependency is required.
func NewAccounts(cfg AccountsConfig, store Store, cache AuthCache, box SecretBox, guard URLGuard, sessions *Sessions, clock Clock, log Logger) *Accounts {
	if store == nil || cache == nil || box == nil || guard == nil || sessions == nil || clock == nil || log == nil {
		panic("core.NewAccounts: nil dependency")
	}
	return &Accounts{cfg: cfg, store: store, cache: cache, box: box, guard: guard, sessions: sessions, clock: clock, log: log}
}

// Authentication errors (401).
var (
	ErrMissingAuth   = NewError(KindUnauthorized, "invalid_api_key", "Missing or invalid Authorization header")
	ErrInvalidAPIKey = NewError(KindUnauthorized, "invalid_api_key", "Invalid API key")
	ErrKeyRotated    = NewError(KindUnauthorized, "key_rotated", "This API key has been rotated. Use your new key.")
	ErrUserNotFound  = NewError(KindUnauthorized, "user_not_found", "User not found")
	errConfirm       = Invalid("confirmation_required", "This action is destructive. Set X-Confirm-Destructive: true header to confirm.")
	errDupEmail      = Conflict("duplicate_email", "Email already registered")
)

// Principal is an authenticated caller.
type Principal struct {
	User *User
	// KeyHash is set when the caller used an API key (it names the caller's
	// rate-limit bucket); empty for session JWTs.
	KeyHash string
}

// Authenticate resolves an Authorization header value. A rotated key is
// refused from the next request on, on every replica: the cache tombstone is
// written before RegenerateKey returns and the store no longer matches.
func (a *Accounts) Authenticate(ctx context.Context, header string) (*Principal, error) {
	if !strings.HasPrefix(header, "Bearer ") {
		return nil, ErrMissingAuth
	}
	token := strings.TrimSpace(header[len("Bearer "):])
	if strings.HasPrefix(token, "cue_sk_") {
		hash := HashAPIKey(token)
		u, err := a.userByKeyHash(ctx, hash)
		if err != nil {
			return nil, err
		}
		return &Principal{User: u, KeyHash: hash}, nil
	}
	claims, err := a.sessions.Verify(token, a.clock.Now())
	if err != nil {
		return nil, err
	}
	u, err := a.store.UserGet(ctx, &UserGetParams{ID: TenantID(claims.Sub)})
	if errors.Is(err, ErrNotFound) {
		return nil, ErrUserNotFound
	}
	if err != nil {
		return nil, err
	}
	return &Principal{User: u}, nil
}

func (a *Accounts) userByKeyHash(ctx context.Context, hash string) (*User, error) {
	if u, ok, err := a.cache.Get(ctx, hash); err == nil && ok && u.APIKeyHash == hash {
		return u, nil
	} else if err != nil {
		a.log.Warn("auth cache unavailable; using the store", "err", err)
	}
	u, err := a.store.UserGetByAPIKeyHash(ctx, &UserGetByAPIKeyHashParams{Hash: hash})
	if err == nil {
		if perr := a.cache.Put(ctx, hash, u, a.cfg.AuthCacheTTL); perr != nil {
			a.log.Warn("auth cache write failed", "err", perr)
		}
		return u, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	rotatedAt, err := a.store.RotatedKeyGet(ctx, &RotatedKeyGetParams{Hash: hash})
	if err == nil && a.clock.Now().Sub(rotatedAt) < a.cfg.RotatedKeyGrace {
		return nil, ErrKeyRotated
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	return nil, ErrInvalidAPIKey
}

// Register creates an account and returns its new API key (shown once).
func (a *Accounts) Register(ctx context.Context, email string) (key string, u *User, err error) {
	if !a.cfg.AllowRegister {
		return "", nil, NotFound("not_found", "Not found")
	}
	norm, ferr := NormalizeEmail(email)
	if ferr != nil {
		return "", nil, Body("email").NotEmail(ferr.Error()).Err()
	}
	// Accounts created by register keep no recoverable copy of the key
	// (reference behaviour: reveal works after the first regeneration).
	return a.createUser(ctx, norm, false)
}

// createUser creates an account with plan defaults, a fresh key and
// webhook secret; sealKey keeps a sealed copy of the key for reveal.
func (a *Accounts) createUser(ctx context.Context, email string, sealKey bool) (string, *User, error) {
	secret, err := a.box.Seal(NewWebhookSecret())
	if err != nil {
		return "", nil, err
	}
	key := NewAPIKey()
	now := a.clock.Now()
	u := &User{
		ID: NewTenantID(), Email: email, APIKeyHash: HashAPIKey(key), APIKeyPrefix: APIKeyPrefix(key),
		Plan: a.cfg.DefaultPlan, ActiveCueLimit: a.cfg.DefaultActiveCueLimit,
		MonthlyExecutionLimit: a.cfg.DefaultMonthlyExecutionLimit, RateLimitPerMinute: a.cfg.DefaultRateLimitPerMinute,
		WebhookSecretSealed: secret, CreatedAt: now, UpdatedAt: now,
	}
	if sealKey {
		s, err := a.box.Seal(key)
		if err != nil {
			return "", nil, err
		}
		u.APIKeySealed = &s
	}
	base := SlugBase(email)
	for attempt := 0; ; attempt++ {
		u.Slug = SlugCandidate(base, attempt)
		created, err := a.store.UserCreate(ctx, &UserCreateParams{User: u})
		if errors.Is(err, ErrConflict) {
			// The email or the slug is taken: only a free email is worth
			// another slug.
			if _, gerr := a.userByEmail(ctx, email); !errors.Is(gerr, ErrNotFound) || attempt >= slugAttempts {
				return "", nil, errDupEmail
			}
			continue
		}
		if err != nil {
			return "", nil, err
		}
		return key, created, nil
	}
}

// slugAttempts bounds the suffixed candidates tried after the base slug.
const slugAttempts = 6

// SlugBase derives an account slug from an e-mail address (clients.md
// §2.8.1): the local part lower-cased, every run of characters outside
// [a-z0-9] replaced by one "-", leading and trailing "-" trimmed, "user"
// when nothing is left, cut to 60 characters.
func SlugBase(email string) string {
	local := email
	if at := strings.LastIndexByte(email, '@'); at >= 0 {
		local = email[:at]
	}
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(local) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	s := b.String()
	if s == "" {
		s = "user"
	}
	return strings.TrimRight(cutString(s, 60), "-")
}

// SlugCandidate is the slug tried at attempt n for base: the base first,
// then the base cut to 59 characters plus "-" and 4 random hex digits (up
// to 5 times), then the base cut to 55 plus "-" and 8 random hex digits.
func SlugCandidate(base string, n int) string {
	switch {
	case n == 0:
		return base
	case n <= 5:
		return strings.TrimRight(cutString(base, 59), "-") + "-" + RandomHex(2)
	}
	return strings.TrimRight(cutString(base, 55), "-") + "-" + RandomHex(4)
}

// cutString is s cut to at most n bytes (s is ASCII).
func cutString(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (a *Accounts) userByEmail(ctx context.Context, email string) (*User, error) {
	return a.store.UserGetByEmail(ctx, &UserGetByEmailParams{Email: email})
}

// RegenerateKey replaces the caller's API key. The old key answers
// key_rotated (for RotatedKeyGrace) from the very next request on every
// replica. The new key is also kept sealed so that RevealKey can show it.
func (a *Accounts) RegenerateKey(ctx context.Context, u *User, confirmed bool) (string, error) {
	if !confirmed {
		return "", errConfirm
	}
	key := NewAPIKey()
	sealed, err := a.box.Seal(key)
	if err != nil {
		return "", err
	}
	updated, oldHash, err := a.store.UserRotateAPIKey(ctx, &UserRotateAPIKeyParams{
		ID: u.ID, NewHash: HashAPIKey(key), NewPrefix: APIKeyPrefix(key), NewSealed: &sealed, Now: a.clock.Now(),
	})
	if err != nil {
		return "", err
	}
	// The store no longer matches the old hash; the tombstone makes every
	// replica's cache refuse it too (even a late write by a slow request).
	// A cache failure is retried once and then logged: the store is the
	// source of truth and cached entries expire within AuthCacheTTL.
	if err := a.cache.Invalidate(ctx, oldHash); err != nil {
		if err2 := a.cache.Invalidate(ctx, oldHash); err2 != nil {
			a.log.Error("auth cache invalidation failed after key rotation", "user_id", string(u.ID), "err", err2)
		}
	}
	if err := a.cache.Put(ctx, updated.APIKeyHash, updated, a.cfg.AuthCacheTTL); err != nil {
		a.log.Warn("auth cache write failed", "err", err)
	}
	a.log.Info("api key rotated", "user_id", string(u.ID), "rotated_at", a.clock.Now().Format(time.RFC3339))
	a.cfg.Notifier.KeyRotated(u.ID, a.clock.Now())
	return key, nil
}

// RevealedKey is the answer of RevealKey.
type RevealedKey struct {
	Key     *string
	Prefix  string
	Message string
}

// RevealKey returns the caller's current key when a sealed copy exists.
func (a *Accounts) RevealKey(ctx context.Context, u *User) RevealedKey {
	if u.APIKeySealed == nil {
		return RevealedKey{Prefix: u.APIKeyPrefix, Message: "Key not available. Regenerate to enable Reveal."}
	}
	k, err := a.box.Open(*u.APIKeySealed)
	if err != nil || HashAPIKey(k) != u.APIKeyHash {
		return RevealedKey{Prefix: u.APIKeyPrefix, Message: "Key decryption failed. Regenerate to fix."}
	}
	return RevealedKey{Key: &k}
}

// Me is the caller's account summary.
type Me struct {
	User                *User
	ActiveCues          int
	ExecutionsThisMonth int
	HasWebhookSecret    bool
}

// GetMe returns the account summary.
func (a *Accounts) GetMe(ctx context.Context, u *User) (*Me, error) {
	counts, err := a.store.CueCountByStatus(ctx, &CueCountByStatusParams{TenantID: u.ID})
	if err != nil {
		return nil, err
	}
	return &Me{User: u, ActiveCues: counts[CueActive], HasWebhookSecret: u.WebhookSecretSealed != ""}, nil
}

// UpdateMeInput is a PATCH /v1/auth/me body; nil means "not provided".
type UpdateMeInput struct {
	Email           *string
	AlertWebhookURL *string
}

// UpdateMe changes the email and/or the alert webhook URL ("" clears it).
func (a *Accounts) UpdateMe(ctx context.Context, u *User, in UpdateMeInput) (time.Time, error) {
	var alertURL *string
	if in.AlertWebhookURL != nil && *in.AlertWebhookURL != "" {
		canon, err := a.guard.Check(ctx, *in.AlertWebhookURL)
		if err != nil {
			return time.Time{}, urlError("invalid_alert_webhook_url", "", err)
		}
		alertURL = &canon
	}
	if in.Email == nil && in.AlertWebhookURL == nil {
		return time.Time{}, NewError(KindUnprocessable, "no_fields", "No fields to update")
	}
	var email string
	if in.Email != nil {
		norm, err := NormalizeEmail(*in.Email)
		if err != nil {
			return time.Time{}, Body("email").NotEmail(err.Error()).Err()
		}
		email = norm
	}
	now := a.clock.Now()
	updated, err := a.store.UserUpdate(ctx, &UserUpdateParams{ID: u.ID, Fn: func(cur *User) error {
		if in.Email != nil {
			cur.Email = email
		}
		if in.AlertWebhookURL != nil {
			cur.AlertWebhookURL = alertURL // nil clears
			if alertURL != nil && cur.AlertSecretSealed == nil {
				// Generate the alert signing secret with the URL, so alerts
				// are never skipped for want of a secret.
				s, err := a.box.Seal(RandomHex(32))
				if err != nil {
					return err
				}
				cur.AlertSecretSealed = &s
			}
		}
		cur.UpdatedAt = now
		return nil
	}})
	if errors.Is(err, ErrConflict) {
		return time.Time{}, errDupEmail
	}
	if err != nil {
		return time.Time{}, err
	}
	a.refreshCache(ctx, updated)
	return now, nil
}

// refreshCache makes cached copies of the user reflect a change at once.
func (a *Accounts) refreshCache(ctx context.Context, u *User) {
	if err := a.cache.Put(ctx, u.APIKeyHash, u, a.cfg.AuthCacheTTL); err != nil {
		a.log.Warn("auth cache write failed", "err", err)
	}
}

// WebhookSecret returns the caller's webhook signing secret.
func (a *Accounts) WebhookSecret(ctx context.Context, u *User) (string, error) {
	if u.WebhookSecretSealed == "" {
		return "", NotFound("no_webhook_secret", "No webhook secret found")
	}
	return a.box.Open(u.WebhookSecretSealed)
}

// RegenerateWebhookSecret replaces the webhook signing secret; deliveries
// from now on are signed with the new one.
func (a *Accounts) RegenerateWebhookSecret(ctx context.Context, u *User, confirmed bool) (string, error) {
	if !confirmed {
		return "", errConfirm
	}
	secret := NewWebhookSecret()
	sealed, err := a.box.Seal(secret)
	if err != nil {
		return "", err
	}
	updated, err := a.store.UserUpdate(ctx, &UserUpdateParams{ID: u.ID, Fn: func(cur *User) error {
		cur.WebhookSecretSealed = sealed
		cur.UpdatedAt = a.clock.Now()
		return nil
	}})
	if err != nil {
		return "", err
	}
	a.refreshCache(ctx, updated)
	a.log.Info("webhook secret rotated", "user_id", string(u.ID), "rotated_at", a.clock.Now().Format(time.RFC3339))
	a.cfg.Notifier.WebhookSecretRotated(u.ID, a.clock.Now())
	return secret, nil
}

// AlertWebhookSecret returns the alert signing secret, generating it on first
// use.
func (a *Accounts) AlertWebhookSecret(ctx context.Context, u *User) (string, error) {
	var plain string
	updated, err := a.store.UserUpdate(ctx, &UserUpdateParams{ID: u.ID, Fn: func(cur *User) error {
		if cur.AlertSecretSealed != nil {
			p, err := a.box.Open(*cur.AlertSecretSealed)
			if err != nil {
				return err
			}
			plain = p
			return nil
		}
		plain = RandomHex(32)
		s, err := a.box.Seal(plain)
		if err != nil {
			return err
		}
		cur.AlertSecretSealed = &s
		cur.UpdatedAt = a.clock.Now()
		return nil
	}})
	if err != nil {
		return "", err
	}
	a.refreshCache(ctx, updated)
	return plain, nil
}

// RegenerateAlertWebhookSecret replaces the alert signing secret.
func (a *Accounts) RegenerateAlertWebhookSecret(ctx context.Context, u *User, confirmed bool) (string, error) {
	if !confirmed {
		return "", errConfirm
	}
	plain := RandomHex(32)
	sealed, err := a.box.Seal(plain)
	if err != nil {
		return "", err
	}
	updated, err := a.store.UserUpdate(ctx, &UserUpdateParams{ID: u.ID, Fn: func(cur *User) error {
		cur.AlertSecretSealed = &sealed
		cur.UpdatedAt = a.clock.Now()
		return nil
	}})
	if err != nil {
		return "", err
	}
	a.refreshCache(ctx, updated)
	return plain, nil
}

// RefreshSession issues a new session JWT for the caller.
func (a *Accounts) RefreshSession(ctx context.Context, u *User) (string, error) {
	return a.sessions.Issue(u, a.clock.Now())
}

// urlError turns a URL-guard rejection into the wire error (code, with an
// optional "field: " prefix on the message).
func urlError(code, prefix string, err error) error {
	var rej *URLRejection
	if errors.As(err, &rej) {
		return Invalid(code, prefix+rej.Message)
	}
	return err
}

// NormalizeEmail validates an address (EmailStr-like rules) and lower-cases
// its domain; the local part is kept as sent. The error says why an address
// is refused.
func NormalizeEmail(s string) (string, error) {
	if strings.ContainsAny(s, " \t\r\n\x00<>()[],;:\\\"") {
		return "", errors.New("The email address contains invalid characters.")
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return "", errors.New("An email address must have an @-sign.")
	}
	local, domain := s[:at], strings.ToLower(s[at+1:])
	if local == "" {
		return "", errors.New("There must be something before the @-sign.")
	}
	if len(local) > 64 || strings.Contains(local, "@") || strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return "", errors.New("The email address is not valid before the @-sign.")
	}
	if domain == "" {
		return "", errors.New("There must be something after the @-sign.")
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 || len(domain) > 253 {
		return "", errors.New("The part after the @-sign is not valid. It should have a period.")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return "", errors.New("The part after the @-sign is not valid.")
		}
		for _, r := range l {
			if !(r == '-' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127) {
				return "", errors.New("The part after the @-sign contains invalid characters.")
			}
		}
	}
	if len(s) > 254 {
		return "", errors.New("The email address is too long.")
	}
	return local + "@" + domain, nil
}

// User is a tenant account. Secrets are held sealed (encrypted with the
// SecretBox); only services open them, and only when they must.
type User struct {
	ID                    TenantID
	Email                 string
	Slug                  string // unique; the right-hand side of agent@user addresses
	APIKeyHash            string // lowercase hex SHA-256 of the whole key
	APIKeyPrefix          string // first 12 characters of the key
	APIKeySealed          *string
	Plan                  string
	ActiveCueLimit        int
	MonthlyExecutionLimit int
	RateLimitPerMinute    int
	WebhookSecretSealed   string
	AlertWebhookURL       *string
	AlertSecretSealed     *string
	CreatedAt             time.Time
	UpdatedAt             time.Time
}

// UserStore persists users and their API keys (current hashes and rotation
// tombstones). Every method is safe for concurrent use by any number of
// processes sharing the database; tenant-scoped methods return ErrNotFound
// for another tenant's rows. Methods are sorted by name.
type UserStore interface {
	// RotatedKeyGet reports when the key with this hash was rotated away.
	// ErrNotFound when it never was.
	RotatedKeyGet(ctx context.Context, p *RotatedKeyGetParams) (time.Time, error)

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

	// UserRotateAPIKey replaces the user's key hash/prefix/sealed copy and
	// records a tombstone for the old hash (rotated at Now), in one
	// transaction. Returns the updated user and the old hash.
	UserRotateAPIKey(ctx context.Context, p *UserRotateAPIKeyParams) (*User, string, error)

	// UserUpdate runs Fn on the locked current row and saves what it leaves
	// (email, alert webhook URL and secret, webhook secret, limits, plan).
	// Fn's error aborts without saving and is returned as is. ErrNotFound when
	// absent; ErrConflict when the new email is taken.
	UserUpdate(ctx context.Context, p *UserUpdateParams) (*User, error)
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
