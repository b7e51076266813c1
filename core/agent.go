package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/cueapi/cueapi/core/canonjson"
)

// AgentID identifies an agent: "agt_" + 12 characters of [a-z0-9].
type AgentID string

// NewAgentID returns a fresh agent id.
func NewAgentID() AgentID { return AgentID("agt_" + strings.TrimPrefix(string(NewCueID()), "cue_")) }

// Agent statuses (caller-asserted; clients.md §2.9.2).
const (
	AgentOnline  = "online"
	AgentOffline = "offline"
	AgentAway    = "away"
)

// AgentStatuses are the accepted agent statuses.
var AgentStatuses = []string{AgentOnline, AgentOffline, AgentAway}

// Agent is an addressable messaging endpoint owned by a tenant (clients.md
// §2.9). Its webhook secret is held sealed; URL and secret are set together.
type Agent struct {
	ID                  AgentID
	TenantID            TenantID
	Slug                string
	DisplayName         string
	WebhookURL          *string
	WebhookSecretSealed *string
	// Metadata is a JSON object (compact).
	Metadata      json.RawMessage
	Status        string
	ParentAgentID *AgentID
	LastSeenAt    *time.Time
	DeletedAt     *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// AgentStore persists agents. Every method is safe for concurrent use.
// Methods are sorted by name.
type AgentStore interface {
	// AgentCreate inserts p.Agent (every field set by core). ErrConflict
	// when the tenant already has an agent with this slug (deleted ones
	// included).
	AgentCreate(ctx context.Context, p *AgentCreateParams) (*Agent, error)

	// AgentGet returns the agent with this id, of p.TenantID only when it is
	// set (any tenant's otherwise). Soft-deleted agents only with
	// IncludeDeleted. ErrNotFound otherwise.
	AgentGet(ctx context.Context, p *AgentGetParams) (*Agent, error)

	// AgentGetBySlug returns the agent with this slug of the user with this
	// user slug, of p.TenantID only when it is set. Soft-deleted agents only
	// with IncludeDeleted. ErrNotFound otherwise.
	AgentGetBySlug(ctx context.Context, p *AgentGetBySlugParams) (*Agent, error)

	// AgentList returns a page of the tenant's agents, newest first (ties by
	// id descending), and the total matching.
	AgentList(ctx context.Context, p *AgentListParams) ([]*Agent, int, error)

	// AgentTouch sets the agent's last_seen_at to p.Now. A missing agent is
	// not an error.
	AgentTouch(ctx context.Context, p *AgentTouchParams) error

	// AgentUpdate runs Fn on the tenant's locked agent row (deleted ones
	// included: Fn decides) and saves what it leaves (display name, webhook
	// URL and sealed secret, metadata, status, deleted_at, updated_at). Fn's
	// error aborts without saving and is returned as is. ErrNotFound when
	// absent or another tenant's.
	AgentUpdate(ctx context.Context, p *AgentUpdateParams) (*Agent, error)
}

// AgentCreateParams inserts an agent.
type AgentCreateParams struct{ Agent *Agent }

// AgentGetParams selects an agent by id.
type AgentGetParams struct {
	TenantID       TenantID // "" = any tenant
	ID             AgentID
	IncludeDeleted bool
}

// AgentGetBySlugParams selects an agent by its slug-form address.
type AgentGetBySlugParams struct {
	TenantID       TenantID // "" = any tenant
	UserSlug       string
	Slug           string
	IncludeDeleted bool
}

// AgentListParams selects a page of a tenant's agents.
type AgentListParams struct {
	TenantID       TenantID
	Status         *string
	IncludeDeleted bool
	Limit, Offset  int
}

// AgentTouchParams records that an agent was seen.
type AgentTouchParams struct {
	ID  AgentID
	Now time.Time
}

// AgentUpdateParams is a read-modify-write of one agent.
type AgentUpdateParams struct {
	TenantID TenantID
	ID       AgentID
	Fn       func(a *Agent) error
}

// Agent errors of the wire protocol.
var (
	errAgentAddress = Invalid("invalid_agent_address", "address must be opaque ID (agt_xxx) or slug-form (agent_slug@user_slug)")
	errSlugForm     = Invalid("invalid_agent_address", "slug-form address must be 'agent_slug@user_slug'")
)

// agentNotFound is the 404 of an unknown (or foreign, or deleted) agent ref.
func agentNotFound(ref string) error {
	return NotFound("agent_not_found", fmt.Sprintf("agent %s not found", ref))
}

// AgentRef is a parsed agent address: an opaque id, or a slug form.
type AgentRef struct {
	ID       AgentID
	Slug     string
	UserSlug string
	Raw      string
}

var agentIDPattern = regexp.MustCompile(`^agt_[a-zA-Z0-9]{12}$`)

// ParseAgentRef parses an address (clients.md §2.9.1): "agt_" + 12
// alphanumerics, or "agent_slug@user_slug" split at the first "@" with both
// sides non-empty. Anything else is 400 invalid_agent_address.
func ParseAgentRef(ref string) (AgentRef, error) {
	if agentIDPattern.MatchString(ref) {
		return AgentRef{ID: AgentID(ref), Raw: ref}, nil
	}
	at := strings.IndexByte(ref, '@')
	if at < 0 {
		return AgentRef{}, errAgentAddress
	}
	slug, user := ref[:at], ref[at+1:]
	if slug == "" || user == "" {
		return AgentRef{}, errSlugForm
	}
	return AgentRef{Slug: slug, UserSlug: user, Raw: ref}, nil
}

// Agents is the agent use-case service (clients.md §2.9): create, read,
// update, delete, secrets, roster and presence, and the two address
// resolvers the messaging services use. Safe for concurrent use.
type Agents struct {
	store AgentStore
	users UserStore
	guard URLGuard
	box   SecretBox
	clock Clock
}

// NewAgents builds the agent service.
func NewAgents(store AgentStore, users UserStore, guard URLGuard, box SecretBox, clock Clock) *Agents {
	return &Agents{store: store, users: users, guard: guard, box: box, clock: clock}
}

// ResolveOwned resolves ref among the tenant's agents (the owned resolver of
// clients.md §2.9.1): 400 invalid_agent_address for a malformed ref, 404
// agent_not_found for an unknown, foreign or (without includeDeleted)
// deleted agent.
func (s *Agents) ResolveOwned(ctx context.Context, tenant TenantID, ref string, includeDeleted bool) (*Agent, error) {
	return s.resolve(ctx, tenant, ref, includeDeleted)
}

// ResolveGlobal resolves ref among every tenant's live agents (the global
// resolver: to, reply_to_agent, counterpart, X-Cueapi-From-Agent). Deleted
// agents are not found.
func (s *Agents) ResolveGlobal(ctx context.Context, ref string) (*Agent, error) {
	return s.resolve(ctx, "", ref, false)
}

// AgentByID returns any tenant's agent by id (deleted ones included when
// asked). ErrNotFound-kind 404 agent_not_found when absent.
func (s *Agents) AgentByID(ctx context.Context, id AgentID, includeDeleted bool) (*Agent, error) {
	a, err := s.store.AgentGet(ctx, &AgentGetParams{ID: id, IncludeDeleted: includeDeleted})
	if errors.Is(err, ErrNotFound) {
		return nil, agentNotFound(string(id))
	}
	return a, err
}

func (s *Agents) resolve(ctx context.Context, tenant TenantID, ref string, includeDeleted bool) (*Agent, error) {
	r, err := ParseAgentRef(ref)
	if err != nil {
		return nil, err
	}
	var a *Agent
	if r.ID != "" {
		a, err = s.store.AgentGet(ctx, &AgentGetParams{TenantID: tenant, ID: r.ID, IncludeDeleted: includeDeleted})
	} else {
		a, err = s.store.AgentGetBySlug(ctx, &AgentGetBySlugParams{TenantID: tenant, UserSlug: r.UserSlug, Slug: r.Slug, IncludeDeleted: includeDeleted})
	}
	if errors.Is(err, ErrNotFound) {
		return nil, agentNotFound(ref)
	}
	return a, err
}

// Address is the agent's slug-form address "agent_slug@user_slug", with its
// own owner's user slug.
func (s *Agents) Address(ctx context.Context, a *Agent) (string, error) {
	u, err := s.users.UserGet(ctx, &UserGetParams{ID: a.TenantID})
	if err != nil {
		return "", err
	}
	return a.Slug + "@" + u.Slug, nil
}

// AgentInput is a create request (clients.md §2.9.3).
type AgentInput struct {
	DisplayName   string
	Slug          *string
	WebhookURL    *string
	Metadata      json.RawMessage
	ParentAgentID *string
}

// AgentCreated is a new agent with its webhook secret in clear (only when a
// webhook URL was given; shown once).
type AgentCreated struct {
	Agent  *Agent
	Secret *string
}

// ReservedAgentSlugs may not be chosen explicitly.
var ReservedAgentSlugs = []string{"admin", "api", "auth", "billing", "system", "support"}

var agentSlugPattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$`)

// maxAgentMetadata bounds an agent's metadata (serialized).
const maxAgentMetadata = 10240

// agentSlugAttempts bounds the derived slugs tried.
const agentSlugAttempts = 8

// Create creates an agent: reserved slug (400 reserved_slug), parent (404
// agent_not_found, 400 invalid_parent_agent), webhook URL safety (400
// invalid_callback_url), then insert (409 slug_taken for an explicit slug).
func (s *Agents) Create(ctx context.Context, u *User, in AgentInput) (*AgentCreated, error) {
	if err := checkAgentText(in.DisplayName); err != nil {
		return nil, err
	}
	if in.Slug != nil && !agentSlugPattern.MatchString(*in.Slug) {
		return nil, Body("slug").Because("slug must be 1-64 characters of [a-z0-9-], starting and ending with a letter or digit").Err()
	}
	if in.Slug != nil && slices.Contains(ReservedAgentSlugs, *in.Slug) {
		return nil, Invalid("reserved_slug", fmt.Sprintf("slug '%s' is reserved", *in.Slug))
	}
	meta, err := agentMetadata(in.Metadata)
	if err != nil {
		return nil, err
	}
	var parent *Agent
	if in.ParentAgentID != nil {
		id := AgentID(*in.ParentAgentID)
		if !agentIDPattern.MatchString(*in.ParentAgentID) {
			return nil, agentNotFound(*in.ParentAgentID)
		}
		parent, err = s.store.AgentGet(ctx, &AgentGetParams{TenantID: u.ID, ID: id})
		if errors.Is(err, ErrNotFound) {
			return nil, agentNotFound(*in.ParentAgentID)
		}
		if err != nil {
			return nil, err
		}
		if parent.ParentAgentID != nil {
			return nil, Invalid("invalid_parent_agent", "parent_agent_id must name a background agent (one without a parent)")
		}
	}
	now := s.clock.Now()
	a := &Agent{
		ID: NewAgentID(), TenantID: u.ID, DisplayName: in.DisplayName, Metadata: meta,
		Status: AgentOnline, CreatedAt: now, UpdatedAt: now,
	}
	if parent != nil {
		a.ParentAgentID = &parent.ID
	}
	var secret *string
	if in.WebhookURL != nil {
		canon, sealed, plain, err := s.webhook(ctx, *in.WebhookURL, nil)
		if err != nil {
			return nil, err
		}
		a.WebhookURL, a.WebhookSecretSealed, secret = &canon, &sealed, &plain
	}
	if in.Slug != nil {
		a.Slug = *in.Slug
		created, err := s.store.AgentCreate(ctx, &AgentCreateParams{Agent: a})
		if errors.Is(err, ErrConflict) {
			return nil, Conflict("slug_taken", fmt.Sprintf("slug '%s' already in use for this user", *in.Slug))
		}
		if err != nil {
			return nil, err
		}
		return &AgentCreated{Agent: created, Secret: secret}, nil
	}
	base := AgentSlugBase(in.DisplayName)
	if parent != nil {
		base = strings.TrimRight(cutString(parent.Slug, 59), "-") + "-live"
	}
	for attempt := 0; ; attempt++ {
		a.Slug = SlugCandidate(base, attempt)
		if attempt == 0 && slices.Contains(ReservedAgentSlugs, a.Slug) {
			continue
		}
		created, err := s.store.AgentCreate(ctx, &AgentCreateParams{Agent: a})
		if errors.Is(err, ErrConflict) && attempt < agentSlugAttempts {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &AgentCreated{Agent: created, Secret: secret}, nil
	}
}

// AgentSlugBase derives an agent slug from a display name: as SlugBase, with
// "agent" when nothing is left.
func AgentSlugBase(displayName string) string {
	if !strings.ContainsFunc(strings.ToLower(displayName), func(r rune) bool { return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' }) {
		return "agent"
	}
	return SlugBase(displayName + "@")
}

// checkAgentText refuses text no store can hold.
func checkAgentText(displayName string) error {
	if !storableText(displayName) {
		return Body("display_name").HasNul(TypeString).Err()
	}
	if strings.TrimSpace(displayName) == "" {
		return Body("display_name").Because("display_name must not be blank").Err()
	}
	return nil
}

// storableText reports whether s has no NUL and is valid UTF-8.
func storableText(s string) bool {
	return !strings.ContainsRune(s, 0) && strings.ToValidUTF8(s, "") == s
}

// agentMetadata validates metadata: a JSON object (default {}) of at most
// maxAgentMetadata bytes, without NUL.
func agentMetadata(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage(`{}`), nil
	}
	c, err := canonjson.Compact(raw)
	if err != nil || len(c) == 0 || c[0] != '{' {
		return nil, Body("metadata").NotA(TypeObject).Err()
	}
	if len(c) > maxAgentMetadata {
		return nil, Body("metadata").Because(fmt.Sprintf("metadata exceeds %d bytes", maxAgentMetadata)).Err()
	}
	if strings.Contains(string(c), `\u0000`) {
		return nil, Body("metadata").HasNul(TypeObject).Err()
	}
	return c, nil
}

// webhook vets raw and returns its canonical form with the sealed secret to
// store: the existing one kept, or a fresh one minted (then also returned in
// clear).
func (s *Agents) webhook(ctx context.Context, raw string, existing *string) (canon, sealed, plain string, err error) {
	if len(raw) > 2048 {
		return "", "", "", Body("webhook_url").TooLong(2048).Err()
	}
	canon, err = s.guard.Check(ctx, raw)
	if err != nil {
		return "", "", "", urlError("invalid_callback_url", "webhook_url: ", err)
	}
	if existing != nil {
		return canon, *existing, "", nil
	}
	plain = NewWebhookSecret()
	sealed, err = s.box.Seal(plain)
	return canon, sealed, plain, err
}

// List lists the caller's agents (clients.md §2.9.4).
func (s *Agents) List(ctx context.Context, u *User, status *string, includeDeleted bool, limit, offset int) ([]*Agent, int, error) {
	if status != nil && !slices.Contains(AgentStatuses, *status) {
		return nil, 0, Invalid("invalid_status", fmt.Sprintf("status must be one of %s", strings.Join(AgentStatuses, ", ")))
	}
	return s.store.AgentList(ctx, &AgentListParams{TenantID: u.ID, Status: status, IncludeDeleted: includeDeleted, Limit: limit, Offset: offset})
}

// AgentPatch is a PATCH (clients.md §2.9.6); nil fields stay unchanged.
// WebhookURL is tri-state: Set false = unchanged; Set with nil = clear URL
// and secret; Set with a URL = vet and set it, keeping or minting a secret.
type AgentPatch struct {
	DisplayName *string
	Status      *string
	Metadata    json.RawMessage
	WebhookURL  *string
	SetWebhook  bool
}

// Update applies a PATCH to the caller's live agent.
func (s *Agents) Update(ctx context.Context, u *User, ref string, p AgentPatch) (*Agent, error) {
	a, err := s.ResolveOwned(ctx, u.ID, ref, false)
	if err != nil {
		return nil, err
	}
	if p.DisplayName != nil {
		if err := checkAgentText(*p.DisplayName); err != nil {
			return nil, err
		}
	}
	var meta json.RawMessage
	if p.Metadata != nil {
		if meta, err = agentMetadata(p.Metadata); err != nil {
			return nil, err
		}
	}
	var canon, sealed string
	if p.SetWebhook && p.WebhookURL != nil {
		// Vet before the write; the secret is decided under the lock.
		if canon, err = s.guard.Check(ctx, *p.WebhookURL); err != nil {
			return nil, urlError("invalid_callback_url", "webhook_url: ", err)
		}
		if len(*p.WebhookURL) > 2048 {
			return nil, Body("webhook_url").TooLong(2048).Err()
		}
		if sealed, err = s.box.Seal(NewWebhookSecret()); err != nil {
			return nil, err
		}
	}
	now := s.clock.Now()
	return s.update(ctx, u.ID, a.ID, ref, func(a *Agent) error {
		if p.DisplayName != nil {
			a.DisplayName = *p.DisplayName
		}
		if p.Status != nil {
			a.Status = *p.Status
		}
		if meta != nil {
			a.Metadata = meta
		}
		if p.SetWebhook {
			if p.WebhookURL == nil {
				a.WebhookURL, a.WebhookSecretSealed = nil, nil
			} else {
				a.WebhookURL = &canon
				if a.WebhookSecretSealed == nil {
					a.WebhookSecretSealed = &sealed
				}
			}
		}
		a.UpdatedAt = now
		return nil
	})
}

// update runs fn on the live agent id; a deleted or vanished agent is 404.
func (s *Agents) update(ctx context.Context, tenant TenantID, id AgentID, ref string, fn func(a *Agent) error) (*Agent, error) {
	a, err := s.store.AgentUpdate(ctx, &AgentUpdateParams{TenantID: tenant, ID: id, Fn: func(a *Agent) error {
		if a.DeletedAt != nil {
			return agentNotFound(ref)
		}
		return fn(a)
	}})
	if errors.Is(err, ErrNotFound) {
		if _, ok := AsError(err); !ok {
			return nil, agentNotFound(ref)
		}
	}
	return a, err
}

// Delete soft-deletes the caller's agent (a second delete is 404).
func (s *Agents) Delete(ctx context.Context, u *User, ref string) error {
	a, err := s.ResolveOwned(ctx, u.ID, ref, false)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	_, err = s.update(ctx, u.ID, a.ID, ref, func(a *Agent) error {
		a.DeletedAt, a.UpdatedAt = &now, now
		return nil
	})
	return err
}

// WebhookSecret returns the agent's secret in clear (404 no_webhook_secret
// without one).
func (s *Agents) WebhookSecret(ctx context.Context, u *User, ref string) (string, error) {
	a, err := s.ResolveOwned(ctx, u.ID, ref, false)
	if err != nil {
		return "", err
	}
	return s.secretOf(a)
}

func (s *Agents) secretOf(a *Agent) (string, error) {
	if a.WebhookSecretSealed == nil {
		return "", NotFound("no_webhook_secret", fmt.Sprintf("agent %s has no webhook secret", a.ID))
	}
	return s.box.Open(*a.WebhookSecretSealed)
}

// OpenSecret returns an agent's webhook secret in clear (for signing).
func (s *Agents) OpenSecret(a *Agent) (string, error) { return s.secretOf(a) }

// RegenerateSecret replaces the agent's secret: confirmation first (400
// confirmation_required), then 409 no_webhook_url for an agent without a URL.
func (s *Agents) RegenerateSecret(ctx context.Context, u *User, ref string, confirmed bool) (string, error) {
	if !confirmed {
		return "", Invalid("confirmation_required", "X-Confirm-Destructive: true header is required to regenerate the webhook secret")
	}
	a, err := s.ResolveOwned(ctx, u.ID, ref, false)
	if err != nil {
		return "", err
	}
	plain := NewWebhookSecret()
	sealed, err := s.box.Seal(plain)
	if err != nil {
		return "", err
	}
	now := s.clock.Now()
	_, err = s.update(ctx, u.ID, a.ID, ref, func(a *Agent) error {
		if a.WebhookURL == nil {
			return Conflict("no_webhook_url", fmt.Sprintf("agent %s has no webhook_url", a.ID))
		}
		a.WebhookSecretSealed, a.UpdatedAt = &sealed, now
		return nil
	})
	if err != nil {
		return "", err
	}
	return plain, nil
}

// Presence thresholds (clients.md §2.9.9).
const (
	presenceOnline = 300 * time.Second
	presenceAway   = 1800 * time.Second
)

// AgentPresence is an agent's derived presence (roster line, presence
// endpoint).
type AgentPresence struct {
	Agent            *Agent
	Description      *string
	Online           bool
	DerivedStatus    string
	LastSeenRelative string
	PreferredContact string
}

// Presence derives an agent's presence at now.
func Presence(a *Agent, now time.Time) AgentPresence {
	p := AgentPresence{Agent: a, PreferredContact: "async", LastSeenRelative: "never"}
	if a.WebhookURL != nil {
		p.PreferredContact = "sync"
	}
	var meta map[string]any
	if json.Unmarshal(a.Metadata, &meta) == nil {
		if d, ok := meta["description"].(string); ok {
			p.Description = &d
		}
	}
	p.DerivedStatus = AgentOffline
	switch {
	case a.Status == AgentAway || a.Status == AgentOffline:
		p.DerivedStatus = a.Status
	case a.LastSeenAt != nil && now.Sub(*a.LastSeenAt) <= presenceOnline:
		p.DerivedStatus = AgentOnline
	case a.LastSeenAt != nil && now.Sub(*a.LastSeenAt) <= presenceAway:
		p.DerivedStatus = AgentAway
	}
	p.Online = p.DerivedStatus == AgentOnline
	if a.LastSeenAt != nil {
		age := max(now.Sub(*a.LastSeenAt), 0)
		switch {
		case age < time.Minute:
			p.LastSeenRelative = "active now"
		case age < time.Hour:
			p.LastSeenRelative = fmt.Sprintf("%dm ago", int(age/time.Minute))
		case age < 24*time.Hour:
			p.LastSeenRelative = fmt.Sprintf("%dh ago", int(age/time.Hour))
		default:
			p.LastSeenRelative = fmt.Sprintf("%dd ago", int(age/(24*time.Hour)))
		}
	}
	return p
}

// line is the presence's ETag line (clients.md §2.9.9).
func (p AgentPresence) line() string {
	desc, online, seen := "", "0", ""
	if p.Description != nil {
		desc = *p.Description
	}
	if p.Online {
		online = "1"
	}
	if p.Agent.LastSeenAt != nil {
		e := p.Agent.LastSeenAt.Unix()
		seen = fmt.Sprint(e - e%300)
	}
	return strings.Join([]string{p.Agent.Slug, p.Agent.DisplayName, desc, online, p.PreferredContact, p.DerivedStatus, seen}, "|")
}

// ETag is the weak ETag of this one presence line.
func (p AgentPresence) ETag() string { return weakETag([]string{p.line()}) }

func weakETag(lines []string) string {
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return `W/"` + hex.EncodeToString(sum[:])[:16] + `"`
}

// Roster is the caller's live agents with their presence, ordered by slug.
type Roster struct {
	GeneratedAt time.Time
	ETag        string
	Agents      []AgentPresence
}

// rosterMax bounds the agents a roster lists.
const rosterMax = 10000

// Roster builds the caller's roster (clients.md §2.9.9).
func (s *Agents) Roster(ctx context.Context, u *User) (*Roster, error) {
	agents, _, err := s.store.AgentList(ctx, &AgentListParams{TenantID: u.ID, Limit: rosterMax})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(agents, func(a, b *Agent) int { return strings.Compare(a.Slug, b.Slug) })
	now := s.clock.Now()
	r := &Roster{GeneratedAt: now, Agents: make([]AgentPresence, 0, len(agents))}
	lines := make([]string, 0, len(agents))
	for _, a := range agents {
		p := Presence(a, now)
		r.Agents = append(r.Agents, p)
		lines = append(lines, p.line())
	}
	r.ETag = weakETag(lines)
	return r, nil
}

// Presence returns one of the caller's agents' presence.
func (s *Agents) Presence(ctx context.Context, u *User, ref string) (AgentPresence, error) {
	a, err := s.ResolveOwned(ctx, u.ID, ref, false)
	if err != nil {
		return AgentPresence{}, err
	}
	return Presence(a, s.clock.Now()), nil
}

// Touch records that the agent was seen now (message sent, inbox polled).
func (s *Agents) Touch(ctx context.Context, id AgentID) error {
	return s.store.AgentTouch(ctx, &AgentTouchParams{ID: id, Now: s.clock.Now()})
}
