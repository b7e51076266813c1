package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"
	"unicode/utf8"
)

// Device-code login constants.
const (
	DeviceCodeTTL        = 900 * time.Second
	deviceCodeMinLen     = 6
	deviceCodeMaxLen     = 128
	deviceCreatesPerIP   = 5
	devicePollsPerMinute = 30
	magicLinksPerEmail   = 3
	magicLinksPerIP      = 10
)

// DeviceLoginConfig tunes the CLI login flow.
type DeviceLoginConfig struct {
	// BaseURL prefixes the verification URL and magic links.
	BaseURL string
	// DashboardURL receives the browser after a successful magic link
	// ("" shows a "return to your terminal" page instead).
	DashboardURL string
	// AllowRegister: unknown emails may create accounts (ALLOW_REGISTER,
	// always true in development).
	AllowRegister bool
	// LogMagicLinks prints magic links to the log instead of emailing them.
	// Development only, and only when switched on explicitly.
	LogMagicLinks bool
}

// Mailer sends email. No provider is built in yet: without one, magic links
// cannot be delivered outside development.
type Mailer interface {
	SendMagicLink(ctx context.Context, to, link string) error
}

// DeviceLogin implements the device-code login of the CLI (api.md §5.3).
// Tokens are stored hashed; the one-time hand-off to the first poll is
// sealed. Safe for concurrent use.
type DeviceLogin struct {
	cfg      DeviceLoginConfig
	store    UserStore
	acct     DeviceCodeStore
	accounts *Accounts
	limiter  RateLimiter
	mailer   Mailer
	clock    Clock
	log      Logger
}

// NewDeviceLogin wires the device login; mailer may be nil.
func NewDeviceLogin(cfg DeviceLoginConfig, store UserStore, acct DeviceCodeStore, accounts *Accounts, limiter RateLimiter, mailer Mailer, clock Clock, log Logger) *DeviceLogin {
	return &DeviceLogin{cfg: cfg, store: store, acct: acct, accounts: accounts, limiter: limiter, mailer: mailer, clock: clock, log: log}
}

func tokenHash(t string) string {
	s := sha256.Sum256([]byte(t))
	return hex.EncodeToString(s[:])
}

// limit applies one per-endpoint window; a limiter failure refuses the
// request (503) rather than letting it through unlimited.
func (d *DeviceLogin) limit(ctx context.Context, key string, n int, window time.Duration, msg string) error {
	dec, err := d.limiter.Allow(ctx, key, n, window, d.clock.Now())
	if err != nil {
		return NewError(KindUnavailable, "rate_limiter_unavailable", "Rate limiter unavailable; try again later")
	}
	if !dec.Allowed {
		return &Error{Kind: KindRateLimited, Code: "rate_limit_exceeded", Message: msg}
	}
	return nil
}

// validDeviceCode: 6–128 characters of valid UTF-8 without NUL.
func validDeviceCode(code string) bool {
	n := len([]rune(code))
	return n >= deviceCodeMinLen && n <= deviceCodeMaxLen && !hasNUL(&code) && utf8.ValidString(code)
}

// Create registers a device code chosen by the CLI.
func (d *DeviceLogin) Create(ctx context.Context, code, clientIP string) (verificationURL string, err error) {
	if !validDeviceCode(code) {
		return "", Invalid("invalid_device_code", "Device code must be 6-128 characters")
	}
	if err := d.limit(ctx, "dc:ip:"+clientIP, deviceCreatesPerIP, time.Hour, "Too many device code requests"); err != nil {
		return "", err
	}
	now := d.clock.Now()
	err = d.acct.DeviceCodeCreate(ctx, &DeviceCode{ID: NewUUID(), Code: code, Status: "pending", ExpiresAt: now.Add(DeviceCodeTTL), CreatedAt: now})
	if errors.Is(err, ErrConflict) {
		return "", Conflict("device_code_exists", "Device code already in use")
	}
	if err != nil {
		return "", err
	}
	return d.cfg.BaseURL + "/auth/device?code=" + url.QueryEscape(code), nil
}

// PollResult is the answer of Poll.
type PollResult struct {
	Status       string
	APIKey       *string
	Email        *string
	SessionToken *string
	ExistingUser bool
}

// handoff is what the first poll after approval receives, sealed at rest.
type handoff struct {
	APIKey       string `json:"api_key,omitempty"`
	SessionToken string `json:"session_token,omitempty"`
}

// Poll reports a device code's state; the first poll after approval gets the
// key (new accounts, or existing ones with a readable sealed key) and the
// one-time session token, exactly once.
func (d *DeviceLogin) Poll(ctx context.Context, code string) (*PollResult, error) {
	if !validDeviceCode(code) {
		return &PollResult{Status: "expired"}, nil // unknown, without a limiter key per junk value
	}
	if err := d.limit(ctx, "dc:poll:"+code, devicePollsPerMinute, time.Minute, "Poll rate limit exceeded"); err != nil {
		return nil, err
	}
	now := d.clock.Now()
	var out PollResult
	_, err := d.acct.DeviceCodeUpdate(ctx, &DeviceCodeUpdateParams{Code: code, Fn: func(dc *DeviceCode) error {
		if !now.Before(dc.ExpiresAt) {
			if dc.Status != "claimed" {
				dc.Status = "expired"
			}
			// Nothing usable may outlive the code.
			dc.APIKeySealed, dc.SessionTokenHash = nil, nil
			out.Status = "expired"
			return nil
		}
		if dc.Status != "approved" {
			out.Status = dc.Status
			return nil
		}
		out.Status = "approved"
		out.Email = dc.Email
		var h handoff
		if dc.APIKeySealed != nil {
			if raw, err := d.accounts.box.Open(*dc.APIKeySealed); err == nil {
				_ = json.Unmarshal([]byte(raw), &h)
			}
		}
		if h.SessionToken != "" && dc.SessionTokenHash != nil {
			t := h.SessionToken
			out.SessionToken = &t
		}
		if h.APIKey != "" {
			k := h.APIKey
			out.APIKey = &k
		} else if dc.UserID != nil {
			if u, err := d.store.UserGet(ctx, &UserGetParams{ID: *dc.UserID}); err == nil {
				if r := d.accounts.RevealKey(ctx, u); r.Key != nil {
					out.APIKey = r.Key
				}
			}
			out.ExistingUser = out.APIKey == nil
		}
		dc.Status = "claimed"
		dc.APIKeySealed = nil
		return nil
	}})
	if errors.Is(err, ErrNotFound) {
		return &PollResult{Status: "expired"}, nil
	}
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// SubmitEmail sends the magic link for a pending device code.
func (d *DeviceLogin) SubmitEmail(ctx context.Context, code, email, clientIP string) error {
	norm, err := NormalizeEmail(email)
	if err != nil {
		return Body("email").NotEmail(err.Error()).Err()
	}
	if err := d.limit(ctx, "ml:email:"+norm, magicLinksPerEmail, time.Hour, "Too many magic link requests for this email"); err != nil {
		return err
	}
	if err := d.limit(ctx, "ml:ip:"+clientIP, magicLinksPerIP, time.Hour, "Too many magic link requests"); err != nil {
		return err
	}
	now := d.clock.Now()
	if !validDeviceCode(code) {
		return NotFound("device_code_not_found", "Device code not found")
	}
	dc, err := d.acct.DeviceCodeGet(ctx, &DeviceCodeGetParams{Code: code})
	if errors.Is(err, ErrNotFound) {
		return NotFound("device_code_not_found", "Device code not found")
	}
	if err != nil {
		return err
	}
	if !now.Before(dc.ExpiresAt) {
		return Invalid("device_code_expired", "Device code expired")
	}
	if dc.Status != "pending" {
		return Invalid("invalid_status", fmt.Sprintf("Device code status is '%s', expected 'pending'", dc.Status))
	}
	if d.mailer == nil && !d.cfg.LogMagicLinks {
		return NewError(KindUnavailable, "email_not_configured", "No email provider is configured for magic links")
	}
	token := RandomHex(32)
	th := tokenHash(token)
	_, err = d.acct.DeviceCodeUpdate(ctx, &DeviceCodeUpdateParams{Code: code, Fn: func(cur *DeviceCode) error {
		if cur.Status != "pending" || !now.Before(cur.ExpiresAt) {
			return Invalid("invalid_status", fmt.Sprintf("Device code status is '%s', expected 'pending'", cur.Status))
		}
		cur.Email = &norm
		cur.VerificationTokenHash = &th
		cur.Status = "email_sent"
		return nil
	}})
	if err != nil {
		return err
	}
	link := d.cfg.BaseURL + "/v1/auth/verify?token=" + token + "&device_code=" + url.QueryEscape(code)
	if d.mailer != nil {
		if err := d.mailer.SendMagicLink(ctx, norm, link); err != nil {
			d.log.Warn("magic link email failed", "err", err)
		}
		return nil
	}
	// Development only, behind an explicit switch (LogMagicLinks).
	d.log.Info("magic link (development: not emailed)", "link", link)
	return nil
}

// Verification failures shown on the HTML page.
var (
	ErrVerifyNotFound = errors.New("Device code not found")
	ErrVerifyExpired  = errors.New("Device code expired")
	ErrVerifyStatus   = errors.New("Invalid device code status")
	ErrVerifyToken    = errors.New("Invalid verification token")
	ErrVerifyClosed   = errors.New("Registration is closed")
)

// Verified is a successful magic-link verification.
type Verified struct {
	Email        string
	SessionToken string
}

// Verify approves a device code from its magic link. An existing account is
// bound without rotating its key; an unknown email creates an account
// unless registration is closed.
func (d *DeviceLogin) Verify(ctx context.Context, code, token string) (*Verified, error) {
	now := d.clock.Now()
	check := func(dc *DeviceCode) error {
		switch {
		case !now.Before(dc.ExpiresAt):
			return ErrVerifyExpired
		case dc.Status != "email_sent":
			return ErrVerifyStatus
		case dc.VerificationTokenHash == nil || *dc.VerificationTokenHash != tokenHash(token) || dc.Email == nil:
			return ErrVerifyToken
		}
		return nil
	}
	if !validDeviceCode(code) {
		return nil, ErrVerifyNotFound
	}
	dc, err := d.acct.DeviceCodeGet(ctx, &DeviceCodeGetParams{Code: code})
	if errors.Is(err, ErrNotFound) {
		return nil, ErrVerifyNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := check(dc); err != nil {
		return nil, err
	}
	// Find or create the account outside the device-code transaction (a
	// store may not be written from inside another write of its own).
	var h handoff
	email := *dc.Email
	u, err := d.findUserByEmail(ctx, email)
	switch {
	case err == nil:
	case errors.Is(err, ErrNotFound):
		if !d.cfg.AllowRegister {
			return nil, ErrVerifyClosed
		}
		key, nu, err := d.accounts.createUser(ctx, email, true)
		if errors.Is(err, ErrConflict) { // created concurrently: bind it
			if nu, err = d.findUserByEmail(ctx, email); err != nil {
				return nil, err
			}
		} else if err != nil {
			return nil, err
		} else {
			h.APIKey = key
		}
		u = nu
	default:
		return nil, err
	}
	h.SessionToken = RandomHex(32)
	raw, _ := json.Marshal(h)
	sealed, err := d.accounts.box.Seal(string(raw))
	if err != nil {
		return nil, err
	}
	sh := tokenHash(h.SessionToken)
	_, err = d.acct.DeviceCodeUpdate(ctx, &DeviceCodeUpdateParams{Code: code, Fn: func(cur *DeviceCode) error {
		// Re-check under the lock: the link is single use.
		if err := check(cur); err != nil {
			return err
		}
		cur.Status, cur.UserID, cur.APIKeySealed, cur.SessionTokenHash, cur.VerificationTokenHash = "approved", &u.ID, &sealed, &sh, nil
		return nil
	}})
	if errors.Is(err, ErrNotFound) {
		return nil, ErrVerifyNotFound
	}
	if err != nil {
		return nil, err
	}
	return &Verified{Email: u.Email, SessionToken: h.SessionToken}, nil
}

// DashboardRedirect is where the verified page sends the browser, or "".
func (d *DeviceLogin) DashboardRedirect() string { return d.cfg.DashboardURL }

func (d *DeviceLogin) findUserByEmail(ctx context.Context, email string) (*User, error) {
	return d.accounts.userByEmail(ctx, email)
}

// ExchangeSession trades a one-time session token for a 24-hour session
// JWT. The token is consumed atomically (two concurrent exchanges cannot
// both succeed) and refused once its device code expired.
func (d *DeviceLogin) ExchangeSession(ctx context.Context, token string) (jwt, email string, err error) {
	if !d.accounts.sessions.Enabled() {
		return "", "", NewError(KindUnavailable, "session_unavailable", "SESSION_SECRET is not configured")
	}
	invalid := NewError(KindUnauthorized, "invalid_token", "Invalid or expired session token")
	h := tokenHash(token)
	dc, err := d.acct.DeviceCodeGetBySessionToken(ctx, &DeviceCodeGetBySessionTokenParams{Hash: h})
	if errors.Is(err, ErrNotFound) {
		return "", "", invalid
	}
	if err != nil {
		return "", "", err
	}
	now := d.clock.Now()
	var uid *TenantID
	_, err = d.acct.DeviceCodeUpdate(ctx, &DeviceCodeUpdateParams{Code: dc.Code, Fn: func(cur *DeviceCode) error {
		if cur.SessionTokenHash == nil || *cur.SessionTokenHash != h || (cur.Status != "approved" && cur.Status != "claimed") || !now.Before(cur.ExpiresAt) || cur.UserID == nil {
			return invalid
		}
		cur.SessionTokenHash = nil
		uid = cur.UserID
		return nil
	}})
	if err != nil {
		return "", "", err
	}
	u, err := d.store.UserGet(ctx, &UserGetParams{ID: *uid})
	if errors.Is(err, ErrNotFound) {
		return "", "", ErrUserNotFound
	}
	if err != nil {
		return "", "", err
	}
	jwt, err = d.accounts.sessions.Issue(u, now)
	return jwt, u.Email, err
}

// DeviceCode is the state of one CLI login.
type DeviceCode struct {
	ID                    string
	Code                  string
	Email                 *string
	Status                string // pending | email_sent | approved | claimed | expired
	APIKeySealed          *string
	VerificationTokenHash *string
	SessionTokenHash      *string
	UserID                *TenantID
	ExpiresAt             time.Time
	CreatedAt             time.Time
}

// DeviceCodeStore persists device-code (CLI) logins. Every method is safe
// for concurrent use by any number of processes sharing the database;
// tenant-scoped methods return ErrNotFound for another tenant's rows.
// Methods are sorted by name.
type DeviceCodeStore interface {
	// DeviceCodeCreate inserts a device code, replacing an existing row of
	// the same code that is expired (by time or status, CreatedAt being
	// "now") or claimed. ErrConflict when a live one exists.
	DeviceCodeCreate(ctx context.Context, p *DeviceCode) error

	// DeviceCodeGet returns the row for a code. ErrNotFound when absent.
	DeviceCodeGet(ctx context.Context, p *DeviceCodeGetParams) (*DeviceCode, error)

	// DeviceCodeGetBySessionToken returns the row whose one-time session
	// token hash matches. ErrNotFound when absent.
	DeviceCodeGetBySessionToken(ctx context.Context, p *DeviceCodeGetBySessionTokenParams) (*DeviceCode, error)

	// DeviceCodePurge deletes device codes that expired before Before;
	// returns how many went.
	DeviceCodePurge(ctx context.Context, p *DeviceCodePurgeParams) (int, error)

	// DeviceCodeUpdate runs Fn on the locked row and saves email, status,
	// api_key_sealed, verification_token_hash, session_token_hash and
	// user_id as Fn leaves them. ErrNotFound when absent.
	DeviceCodeUpdate(ctx context.Context, p *DeviceCodeUpdateParams) (*DeviceCode, error)
}

// DeviceCodeGetParams selects a device code.
type DeviceCodeGetParams struct{ Code string }

// DeviceCodeGetBySessionTokenParams selects by one-time token hash.
type DeviceCodeGetBySessionTokenParams struct{ Hash string }

// DeviceCodeUpdateParams is a read-modify-write of a device code.
type DeviceCodeUpdateParams struct {
	Code string
	Fn   func(d *DeviceCode) error
}

// DeviceCodePurgeParams deletes expired rows.
type DeviceCodePurgeParams struct{ Before time.Time }
