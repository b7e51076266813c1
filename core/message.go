package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cueapi/cueapi/core/canonjson"
)

// MessageID identifies a message: "msg_" + 12 characters of [a-z0-9].
type MessageID string

// NewMessageID returns a fresh message id.
func NewMessageID() MessageID {
	return MessageID("msg_" + strings.TrimPrefix(string(NewCueID()), "cue_"))
}

// Message delivery states (clients.md §2.10.6).
const (
	MsgQueued     = "queued"
	MsgDelivering = "delivering"
	MsgRetryReady = "retry_ready"
	MsgDelivered  = "delivered"
	MsgRead       = "read"
	MsgClaimed    = "claimed"
	MsgAcked      = "acked"
	MsgExpired    = "expired"
	MsgFailed     = "failed"
)

// MessageStates lists every delivery state in the protocol's order.
var MessageStates = []string{MsgQueued, MsgDelivering, MsgRetryReady, MsgDelivered, MsgRead, MsgClaimed, MsgAcked, MsgExpired, MsgFailed}

// Delivery modes reported as effective_delivery_mode.
const (
	ModeWebhook = "webhook"
	ModeInbox   = "inbox"
)

// Message is one message from an agent to an agent (clients.md §2.10.1).
// A notify copy is a message of its own (NotificationFor set).
type Message struct {
	ID             MessageID
	TenantID       TenantID // the sender's user
	ToTenantID     TenantID // the recipient agent's owner
	FromAgentID    AgentID
	ToAgentID      AgentID
	ThreadID       MessageID
	ReplyTo        *MessageID
	Subject        *string
	Body           string
	Preview        string
	Priority       int
	ExpectsReply   bool
	ReplyToAgentID *AgentID
	State          string
	// Metadata is a JSON object (compact).
	Metadata               json.RawMessage
	IdempotencyKey         *string
	IdempotencyFingerprint *string
	CorrelationID          *string
	NotificationFor        *MessageID
	DeliveryMode           *string
	EffectiveDeliveryMode  string
	LiveFallbackMode       *string
	SendAt                 *time.Time
	// Push delivery: attempts dispatched, when the next one is due (nil: no
	// push pending), the lease of the attempt in flight, the last failure.
	Attempts       int
	NextAttemptAt  *time.Time
	LeaseExpiresAt *time.Time
	LastError      *string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	DeliveredAt    *time.Time
	ReadAt         *time.Time
	AckedAt        *time.Time
	FailedAt       *time.Time
	ExpiresAt      time.Time
	// Destination is DestinationOf the recipient's webhook URL at send time
	// ("" without one): the delivery engine's fairness and breaker key.
	Destination string
}

// MessageStore persists messages and the monthly message counters. Every
// method is safe for concurrent use. Methods are sorted by name.
type MessageStore interface {
	// MessageCreate inserts p.Messages (the message, then its notify copies)
	// in one transaction: keys of the sender user's messages equal to the
	// first message's idempotency key and created before
	// p.ReleaseKeysBefore are released (set NULL) first. Right after the
	// commit (so concurrent sends of one user do not queue on one row) the
	// sender user's usage_messages_monthly row of p.Month is incremented
	// when p.CountUsage, and p.TouchSender's last_seen_at becomes p.Now
	// when set. ErrConflict when the idempotency key is held by another
	// live message; nothing is written then.
	MessageCreate(ctx context.Context, p *MessageCreateParams) ([]*Message, error)

	// MessageGet returns the message when p.Viewer is its sender user or its
	// recipient's owner ("" = anyone). ErrNotFound otherwise.
	MessageGet(ctx context.Context, p *MessageGetParams) (*Message, error)

	// MessageGetByKey returns the tenant's message holding this idempotency
	// key. ErrNotFound when none does.
	MessageGetByKey(ctx context.Context, p *MessageGetByKeyParams) (*Message, error)

	// MessageList returns a page of an agent's inbox or sent view, newest
	// first (ties by id descending), and the total matching. With
	// p.Deliver, first (same transaction) every queued, due message of the
	// inbox (of p.Counterpart only, when set) becomes delivered at
	// p.Deliver.Now and the agent's last_seen_at becomes that time; those
	// messages are returned in Delivered.
	MessageList(ctx context.Context, p *MessageListParams) (*MessageListResult, error)

	// MessageMonthCount returns the sender user's message count of the
	// month starting p.Month (0 without a row).
	MessageMonthCount(ctx context.Context, p *MessageMonthCountParams) (int, error)

	// MessagePushClaim claims up to p.Limit due pushes under a lease until
	// p.LeaseUntil(), fairly across destinations as
	// ExecutionClaimDeliveries does: messages queued, retry_ready or
	// delivering (a lost lease) whose next_attempt_at is due become
	// delivering with attempts + 1 and next_attempt_at = the lease end.
	// Concurrent claimers never get the same message.
	MessagePushClaim(ctx context.Context, p *MessagePushClaimParams) ([]*Message, error)

	// MessagePushRecord stores push results in one transaction, each only
	// while its message is still delivering with attempts = Attempt; it
	// returns the stored message of each applied result (nil otherwise).
	MessagePushRecord(ctx context.Context, p *MessagePushRecordParams) ([]*Message, error)

	// MessageSweep applies the lifetime jobs up to p.Limit rows each:
	// messages expiring before p.Now and not acked or expired become
	// expired; acked messages acked before p.PurgeBefore and expired
	// messages whose expires_at is before p.PurgeBefore are deleted;
	// idempotency keys of messages created before p.ReleaseBefore are set
	// NULL.
	MessageSweep(ctx context.Context, p *MessageSweepParams) (MessageSweepResult, error)

	// MessageUpdate runs Fn on the locked message visible to p.Viewer (as
	// MessageGet) and saves its state, state times, push fields and
	// updated_at. Fn's error aborts without saving and is returned as is.
	MessageUpdate(ctx context.Context, p *MessageUpdateParams) (*Message, error)
}

// MessageCreateParams inserts messages (see MessageStore.MessageCreate).
type MessageCreateParams struct {
	Messages []*Message
	// TouchSender, when set, is the sender agent to mark seen at Now.
	TouchSender       *AgentID
	CountUsage        bool
	Month             time.Time
	Now               time.Time
	ReleaseKeysBefore time.Time
	// Events are written in the same transaction, after the messages.
	Events []*EventEmit
}

// MessageGetParams selects a message.
type MessageGetParams struct {
	Viewer TenantID
	ID     MessageID
}

// MessageGetByKeyParams selects a message by idempotency key.
type MessageGetByKeyParams struct {
	TenantID TenantID
	Key      string
}

// MessageListParams selects a page of an inbox (Inbox) or sent view.
type MessageListParams struct {
	AgentID AgentID
	Inbox   bool
	// Sender restricts a sent view to the caller's user.
	Sender TenantID
	// States filters on delivery states (empty: all).
	States      []string
	Since       *time.Time
	ThreadID    *string
	Counterpart *AgentID
	// DueBy hides messages whose send_at is after it (inbox).
	DueBy         *time.Time
	Limit, Offset int
	CountOnly     bool
	Deliver       *MessageDeliver
}

// MessageDeliver asks MessageList to deliver the inbox's queued, due
// messages first.
type MessageDeliver struct{ Now time.Time }

// MessageListResult is a page, the total, and the messages delivered first.
type MessageListResult struct {
	Messages  []*Message
	Total     int
	Delivered []*Message
}

// MessageMonthCountParams selects a monthly counter.
type MessageMonthCountParams struct {
	TenantID TenantID
	Month    time.Time
}

// MessagePushClaimParams is a push claim: the same shape as an execution
// delivery claim.
type MessagePushClaimParams = DeliveryClaim

// MessagePushRecordParams are push results to store.
type MessagePushRecordParams struct {
	Now     time.Time
	Results []*MessagePushResult
}

// MessagePushResult is what one push attempt decided (computed in core).
type MessagePushResult struct {
	ID MessageID
	// Attempt is the attempt the claim held (the fence).
	Attempt       int
	State         string
	Attempts      int
	NextAttemptAt *time.Time
	LastError     *string
	DeliveredAt   *time.Time
	FailedAt      *time.Time
}

// MessageSweepParams are the lifetime jobs' boundaries.
type MessageSweepParams struct {
	Now           time.Time
	PurgeBefore   time.Time
	ReleaseBefore time.Time
	Limit         int
}

// MessageSweepResult counts what a sweep changed.
type MessageSweepResult struct{ Expired, Purged, Released int }

// MessageUpdateParams is a read-modify-write of one message.
type MessageUpdateParams struct {
	Viewer TenantID
	ID     MessageID
	Fn     func(m *Message) error
}

// MessageEvents is told about message state changes (the events feature
// implements it). Optional: nil means nothing is told.
type MessageEvents interface {
	// MessageDelivered is called after a message became delivered (inbox
	// poll or a push answered 2xx). Errors are the callee's to handle.
	MessageDelivered(ctx context.Context, m *Message)
}

// MessagingConfig holds the messaging policies (clients.md §2.13, §2.14).
type MessagingConfig struct {
	// TTL sets expires_at = created_at + TTL (MESSAGE_TTL_DAYS).
	TTL time.Duration
	// DisableQuotas skips the per-minute, priority and monthly checks
	// (DISABLE_QUOTA_ENFORCEMENT).
	DisableQuotas bool
	// MonthlyLimits is the monthly message quota by plan; plans not listed
	// use DefaultMonthlyLimit.
	MonthlyLimits       map[string]int
	DefaultMonthlyLimit int
	// Events is told about deliveries (nil: nobody).
	Events MessageEvents
	// Emit builds the events new messages cause (message.delivered for
	// each recipient); they are written in the messages' transaction. nil:
	// no events.
	Emit func(ctx context.Context, ms []*Message, now time.Time) ([]*EventEmit, error)
	// PushUserCap bounds a sender user's pushes in flight per process
	// (MAX_CONCURRENT_DELIVERIES_PER_USER; 0: MessagePushUserCap).
	PushUserCap int
}

// Message limits of the protocol.
const (
	MaxMessageBody      = 32768
	MaxMessageMetadata  = 10240
	MaxMessageKey       = 255
	MaxNotify           = 10
	messagePreviewRunes = 200
	// HighPriority is the lowest priority the high-priority limits apply to.
	HighPriority          = 4
	highPriorityPerHour   = 10
	highPriorityPerPair   = 5
	defaultMessagePrio    = 3
	messageWindow         = time.Minute
	messagePriorityWindow = time.Hour
	// MessagePurgeAfter keeps acked and expired messages this long.
	MessagePurgeAfter = 7 * 24 * time.Hour
)

// messageRatePerMinute is the per-minute send limit by plan.
func messageRatePerMinute(plan string) int {
	switch plan {
	case "pro":
		return 60
	case "scale":
		return 300
	}
	return 10
}

// DefaultMessagingConfig is the reference's defaults.
func DefaultMessagingConfig() MessagingConfig {
	return MessagingConfig{
		TTL:                 30 * 24 * time.Hour,
		MonthlyLimits:       map[string]int{"free": 300, "pro": 5000, "scale": 50000},
		DefaultMonthlyLimit: 300,
	}
}

// Messages is the messaging use-case service: send, read, mark, ack, inbox
// and sent. Safe for concurrent use.
type Messages struct {
	cfg     MessagingConfig
	store   MessageStore
	agents  *Agents
	limiter RateLimiter
	clock   Clock
	log     Logger
	// wake tells the push engine that a push is due at the given time.
	wake func(at time.Time)
}

// NewMessages builds the messaging service; wake (may be nil) is told when
// a new push is due.
func NewMessages(cfg MessagingConfig, store MessageStore, agents *Agents, limiter RateLimiter, clock Clock, log Logger, wake func(time.Time)) *Messages {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultMessagingConfig().TTL
	}
	if cfg.DefaultMonthlyLimit <= 0 {
		cfg.DefaultMonthlyLimit = DefaultMessagingConfig().DefaultMonthlyLimit
	}
	if wake == nil {
		wake = func(time.Time) {}
	}
	return &Messages{cfg: cfg, store: store, agents: agents, limiter: limiter, clock: clock, log: log, wake: wake}
}

// SendInput is a send request (clients.md §2.10.2); FromAgent and
// IdempotencyKey come from headers.
type SendInput struct {
	FromAgent        string
	IdempotencyKey   *string
	To               string
	Body             string
	Subject          *string
	ReplyTo          *string
	Priority         *int
	ExpectsReply     bool
	ReplyToAgent     *string
	Metadata         json.RawMessage
	CorrelationID    *string
	SendAt           *string
	Notify           []string
	DeliveryMode     *string
	LiveFallbackMode *string
}

// SendResult is a send's answer: the message, the notify copies' ids,
// whether it repeated an earlier send (200) and whether the priority was
// downgraded.
type SendResult struct {
	Message *Message
	// FromAddress is "agent_slug@user_slug" of the message's sender.
	FromAddress string
	Copies      []MessageID
	Replayed    bool
	Downgraded  bool
}

// messageFingerprint is what an idempotency key binds (clients.md §2.10.4,
// with the requested priority).
type messageFingerprint struct {
	To       AgentID         `json:"to"`
	Body     string          `json:"body"`
	Subject  *string         `json:"subject"`
	Priority int             `json:"priority"`
	ReplyTo  *string         `json:"reply_to"`
	Metadata json.RawMessage `json:"metadata"`
}

// checkSendBody is step 1 (422): what the schema cannot say.
func checkSendBody(in *SendInput) (*time.Time, error) {
	var errs []FieldError
	switch {
	case strings.ContainsRune(in.Body, 0):
		errs = append(errs, Body("body").HasNul(TypeString))
	case !utf8.ValidString(in.Body):
		errs = append(errs, Body("body").Unstorable())
	case len(in.Body) > MaxMessageBody:
		errs = append(errs, Body("body").Because(fmt.Sprintf("String should have at most %d bytes", MaxMessageBody)))
	case in.Body == "":
		f := Body("body")
		f.Rule, f.Limit = RuleMinLength, 1
		errs = append(errs, f)
	}
	for name, v := range map[string]*string{"subject": in.Subject, "correlation_id": in.CorrelationID, "to": &in.To, "reply_to_agent": in.ReplyToAgent} {
		if v != nil && !storableText(*v) {
			errs = append(errs, Body(name).HasNul(TypeString))
		}
	}
	if len(in.Notify) > MaxNotify {
		errs = append(errs, Body("notify").TooMany(TypeArray, MaxNotify, len(in.Notify)))
	}
	if p := in.Priority; p != nil && (*p < 1 || *p > 5) {
		if *p < 1 {
			errs = append(errs, Body("priority").Below(1))
		} else {
			errs = append(errs, Body("priority").Above(5))
		}
	}
	sendAt, fe := optionalTimestamp(Body("send_at"), in.SendAt)
	if fe != nil {
		errs = append(errs, *fe)
	}
	if len(in.Metadata) > 0 && string(in.Metadata) != "null" {
		if c, err := canonjson.Compact(in.Metadata); err != nil || len(c) == 0 || c[0] != '{' {
			errs = append(errs, Body("metadata").NotA(TypeObject))
		} else if strings.Contains(string(c), `\u0000`) {
			errs = append(errs, Body("metadata").HasNul(TypeObject))
		}
	}
	slices.SortStableFunc(errs, func(a, b FieldError) int { return strings.Compare(a.Name(), b.Name()) })
	return sendAt, Validation(errs...)
}

// Send sends a message in the order of clients.md §2.10.2 (idempotency
// before the quotas, so a retry never spends them).
func (s *Messages) Send(ctx context.Context, u *User, in *SendInput) (*SendResult, error) {
	sendAt, err := checkSendBody(in)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(in.FromAgent) == "" {
		return nil, Invalid("missing_from_agent", "X-Cueapi-From-Agent header is required")
	}
	from, err := s.agents.ResolveGlobal(ctx, in.FromAgent)
	if err != nil {
		return nil, err
	}
	if k := in.IdempotencyKey; k != nil && (utf8.RuneCountInString(*k) > MaxMessageKey || *k == "" || !storableText(*k)) {
		return nil, Invalid("invalid_idempotency_key", fmt.Sprintf("Idempotency-Key must be 1-%d characters", MaxMessageKey))
	}
	meta := json.RawMessage(`{}`)
	if len(in.Metadata) > 0 && string(in.Metadata) != "null" {
		sorted, err := canonjson.SortedCompact(in.Metadata)
		if err != nil {
			return nil, Body("metadata").NotA(TypeObject).Err()
		}
		if len(sorted) > MaxMessageMetadata {
			return nil, Invalid("metadata_too_large", fmt.Sprintf("metadata exceeds %d bytes (got %d)", MaxMessageMetadata, len(sorted)))
		}
		if meta, err = canonjson.Compact(in.Metadata); err != nil {
			return nil, Body("metadata").NotA(TypeObject).Err()
		}
	}
	if from.TenantID != u.ID {
		return nil, NewError(KindForbidden, "from_agent_not_owned", fmt.Sprintf("agent %s is not owned by the caller", in.FromAgent))
	}
	to, err := s.agents.ResolveGlobal(ctx, in.To)
	if err != nil {
		return nil, err
	}
	var replyAgent *Agent
	if in.ReplyToAgent != nil {
		if replyAgent, err = s.agents.ResolveGlobal(ctx, *in.ReplyToAgent); err != nil {
			return nil, err
		}
	}
	notify, err := s.notifyTargets(ctx, in.Notify, to)
	if err != nil {
		return nil, err
	}
	for _, target := range append([]*Agent{to, replyAgent}, notify...) {
		if target != nil && target.TenantID != u.ID {
			return nil, NewError(KindForbidden, "cross_tenant_messaging_forbidden", "messaging an agent of another user is not allowed on this server")
		}
	}
	to = s.liveFallback(ctx, to, in.LiveFallbackMode)

	now := s.clock.Now()
	requested := defaultMessagePrio
	if in.Priority != nil {
		requested = *in.Priority
	}
	var fp string
	if in.IdempotencyKey != nil {
		if fp, err = Fingerprint(messageFingerprint{To: to.ID, Body: in.Body, Subject: in.Subject, Priority: requested, ReplyTo: in.ReplyTo, Metadata: meta}); err != nil {
			return nil, err
		}
		if res, err := s.replay(ctx, u.ID, *in.IdempotencyKey, fp, now); res != nil || err != nil {
			return s.withAddress(ctx, u, from, res, err)
		}
	}
	priority, downgraded, err := s.admit(ctx, u, from.ID, to.ID, requested, now)
	if err != nil {
		return nil, err
	}
	thread, replyTo, err := s.thread(ctx, u.ID, in.ReplyTo)
	if err != nil {
		return nil, err
	}

	id := NewMessageID()
	if thread == "" {
		thread = id
	}
	if sendAt != nil && !sendAt.After(now) {
		sendAt = nil
	}
	m := s.newMessage(id, u.ID, from, to, now, sendAt)
	m.ThreadID, m.ReplyTo, m.Subject, m.Body, m.Preview = thread, replyTo, in.Subject, in.Body, preview(in.Body)
	m.Priority, m.ExpectsReply, m.Metadata, m.CorrelationID = priority, in.ExpectsReply, meta, in.CorrelationID
	m.DeliveryMode, m.LiveFallbackMode = in.DeliveryMode, in.LiveFallbackMode
	if replyAgent != nil {
		m.ReplyToAgentID = &replyAgent.ID
	}
	if in.IdempotencyKey != nil {
		m.IdempotencyKey, m.IdempotencyFingerprint = in.IdempotencyKey, &fp
	}
	rows := []*Message{m}
	var fromAddr, toAddr string
	if len(notify) > 0 {
		if fromAddr, err = s.agents.Address(ctx, from); err != nil {
			return nil, err
		}
		if toAddr, err = s.agents.Address(ctx, to); err != nil {
			return nil, err
		}
	}
	for _, n := range notify {
		c := s.newMessage(NewMessageID(), u.ID, from, n, now, sendAt)
		subject := ""
		if in.Subject != nil {
			subject = *in.Subject
		}
		c.ThreadID, c.Subject, c.Priority = thread, in.Subject, defaultMessagePrio
		c.Body = fmt.Sprintf("%s → %s: %s", fromAddr, toAddr, subject)
		c.Preview = preview(c.Body)
		c.NotificationFor = &m.ID
		c.Metadata, _ = json.Marshal(map[string]string{"notification_for": string(m.ID)})
		rows = append(rows, c)
	}
	var events []*EventEmit
	if s.cfg.Emit != nil {
		if events, err = s.cfg.Emit(ctx, rows, now); err != nil {
			return nil, err
		}
	}
	p := &MessageCreateParams{Messages: rows, CountUsage: true, Month: MonthStart(now), Now: now, ReleaseKeysBefore: now.Add(-IdempotencyWindow), Events: events}
	if from.LastSeenAt == nil || now.Sub(*from.LastSeenAt) >= seenGranularity {
		p.TouchSender = &from.ID
	}
	created, err := s.store.MessageCreate(ctx, p)
	if errors.Is(err, ErrConflict) && in.IdempotencyKey != nil {
		// A concurrent send with the same key won.
		if res, rerr := s.replay(ctx, u.ID, *in.IdempotencyKey, fp, now); res != nil || rerr != nil {
			return s.withAddress(ctx, u, from, res, rerr)
		}
	}
	if err != nil {
		return nil, err
	}
	res := &SendResult{Message: created[0], Downgraded: downgraded, Copies: []MessageID{}}
	for _, c := range created[1:] {
		res.Copies = append(res.Copies, c.ID)
	}
	for _, c := range created {
		if c.NextAttemptAt != nil {
			s.wake(*c.NextAttemptAt)
		}
	}
	return s.withAddress(ctx, u, from, res, nil)
}

// withAddress sets res.FromAddress. The sender is the caller's agent from,
// whose address needs no lookup; only a replay of a send by another of the
// caller's agents (keys are scoped to the user) looks its agent up.
func (s *Messages) withAddress(ctx context.Context, u *User, from *Agent, res *SendResult, err error) (*SendResult, error) {
	if res == nil || err != nil {
		return res, err
	}
	if res.Message.FromAgentID == from.ID {
		res.FromAddress = from.Slug + "@" + u.Slug
		return res, nil
	}
	views, err := s.Views(ctx, []*Message{res.Message})
	if err != nil {
		return nil, err
	}
	res.FromAddress = views[0].FromAddress
	return res, nil
}

// newMessage is a queued message from one agent to another as of now; a
// recipient with a webhook gets a push due at send_at (or now).
func (s *Messages) newMessage(id MessageID, sender TenantID, from, to *Agent, now time.Time, sendAt *time.Time) *Message {
	m := &Message{
		ID: id, TenantID: sender, ToTenantID: to.TenantID, FromAgentID: from.ID, ToAgentID: to.ID,
		State: MsgQueued, Metadata: json.RawMessage(`{}`), EffectiveDeliveryMode: ModeInbox, SendAt: sendAt,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(s.cfg.TTL), Priority: defaultMessagePrio,
	}
	if to.WebhookURL != nil {
		m.EffectiveDeliveryMode, m.Destination = ModeWebhook, DestinationOf(*to.WebhookURL)
		due := now
		if sendAt != nil {
			due = *sendAt
		}
		m.NextAttemptAt = &due
	}
	return m
}

// notifyTargets resolves the notify refs, without duplicates and without
// the main recipient.
func (s *Messages) notifyTargets(ctx context.Context, refs []string, to *Agent) ([]*Agent, error) {
	var out []*Agent
	seen := map[AgentID]bool{to.ID: true}
	for _, ref := range refs {
		a, err := s.agents.ResolveGlobal(ctx, ref)
		if err != nil {
			return nil, err
		}
		if !seen[a.ID] {
			seen[a.ID] = true
			out = append(out, a)
		}
	}
	return out, nil
}

// liveFallback re-addresses a message to a Live sibling's background parent
// (clients.md §2.10.8): this server has no live sessions, so a Live agent
// never has an active one; with live_only the message stays addressed to it.
func (s *Messages) liveFallback(ctx context.Context, to *Agent, mode *string) *Agent {
	if to.ParentAgentID == nil || (mode != nil && *mode == "live_only") {
		return to
	}
	parent, err := s.agents.AgentByID(ctx, *to.ParentAgentID, false)
	if err != nil {
		return to
	}
	return parent
}

// replay answers a repeated idempotency key: the original (200) for the
// same fingerprint, 409 for another; nil when the key is free.
func (s *Messages) replay(ctx context.Context, tenant TenantID, key, fp string, now time.Time) (*SendResult, error) {
	m, err := s.store.MessageGetByKey(ctx, &MessageGetByKeyParams{TenantID: tenant, Key: key})
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if m.CreatedAt.Before(now.Add(-IdempotencyWindow)) {
		return nil, nil // expired: reusable (released at insert)
	}
	if m.IdempotencyFingerprint == nil || *m.IdempotencyFingerprint != fp {
		return nil, Conflict("idempotency_key_conflict", fmt.Sprintf("Idempotency-Key reused with a different body. Existing message: %s", m.ID))
	}
	return &SendResult{Message: m, Replayed: true, Copies: []MessageID{}}, nil
}

// admit applies the quotas of clients.md §2.13 to a new send: per-minute
// rate, the user's high-priority hour (429), the pair's high-priority hour
// (downgrade to 3), the monthly quota (402). It returns the effective
// priority. A limiter failure allows.
func (s *Messages) admit(ctx context.Context, u *User, from, to AgentID, priority int, now time.Time) (int, bool, error) {
	if s.cfg.DisableQuotas {
		return priority, false, nil
	}
	limit := messageRatePerMinute(u.Plan)
	if d, err := s.limiter.Allow(ctx, "msg-min:"+string(u.ID), limit, messageWindow, now); err == nil && !d.Allowed {
		return 0, false, &Error{Kind: KindRateLimited, Code: "rate_limit_exceeded",
			Message: fmt.Sprintf("Message rate limit (%d/min) exceeded.", limit), Limits: &ErrorLimits{Limit: limit, WindowSeconds: new(60)}}
	}
	downgraded := false
	if priority >= HighPriority {
		if d, err := s.limiter.Allow(ctx, "msg-prio:"+string(u.ID), highPriorityPerHour, messagePriorityWindow, now); err == nil && !d.Allowed {
			return 0, false, &Error{Kind: KindRateLimited, Code: "priority_high_rate_limit",
				Message: fmt.Sprintf("High-priority send limit (%d/hour) exceeded.", highPriorityPerHour), Limits: &ErrorLimits{Limit: highPriorityPerHour, WindowSeconds: new(3600)}}
		}
		if d, err := s.limiter.Allow(ctx, "msg-pair:"+string(from)+":"+string(to), highPriorityPerPair, messagePriorityWindow, now); err == nil && !d.Allowed {
			priority, downgraded = defaultMessagePrio, true
		}
	}
	quota := s.cfg.DefaultMonthlyLimit
	if q, ok := s.cfg.MonthlyLimits[u.Plan]; ok {
		quota = q
	}
	n, err := s.store.MessageMonthCount(ctx, &MessageMonthCountParams{TenantID: u.ID, Month: MonthStart(now)})
	if err != nil {
		return 0, false, err
	}
	if n >= quota {
		return 0, false, &Error{Kind: KindPaymentRequired, Code: "quota_exceeded",
			Message: fmt.Sprintf("Monthly message quota of %d exceeded (%d sent this month).", quota, n), Limits: &ErrorLimits{Limit: quota, Current: &n}}
	}
	return priority, downgraded, nil
}

// thread resolves reply_to among the messages the caller can see: the new
// message joins the parent's thread.
func (s *Messages) thread(ctx context.Context, tenant TenantID, replyTo *string) (MessageID, *MessageID, error) {
	if replyTo == nil {
		return "", nil, nil
	}
	parent, err := s.store.MessageGet(ctx, &MessageGetParams{Viewer: tenant, ID: MessageID(*replyTo)})
	if errors.Is(err, ErrNotFound) {
		return "", nil, NotFound("reply_to_not_found", fmt.Sprintf("reply_to message %s not found", *replyTo))
	}
	if err != nil {
		return "", nil, err
	}
	return parent.ThreadID, &parent.ID, nil
}

// seenGranularity is how stale an agent's last_seen_at may be before a
// send refreshes it (presence shows "active now" below a minute).
const seenGranularity = 10 * time.Second

// preview is the first 200 characters of body.
func preview(body string) string {
	n := 0
	for i := range body {
		if n == messagePreviewRunes {
			return body[:i]
		}
		n++
	}
	return body
}

func messageNotFound() error { return NotFound("message_not_found", "Message not found") }

// Get returns a message visible to the caller (sender user or recipient
// owner).
func (s *Messages) Get(ctx context.Context, u *User, id string) (*Message, error) {
	m, err := s.store.MessageGet(ctx, &MessageGetParams{Viewer: u.ID, ID: MessageID(id)})
	if errors.Is(err, ErrNotFound) {
		return nil, messageNotFound()
	}
	return m, err
}

// MarkRead moves a message to read (clients.md §2.10.11).
func (s *Messages) MarkRead(ctx context.Context, u *User, id string) (*Message, error) {
	now := s.clock.Now()
	return s.update(ctx, u, id, func(m *Message) error {
		switch m.State {
		case MsgAcked, MsgExpired:
			return Conflict("invalid_state_transition", fmt.Sprintf("cannot mark read on terminal state '%s'", m.State))
		case MsgRead:
			return nil
		}
		m.State, m.ReadAt, m.UpdatedAt = MsgRead, &now, now
		m.NextAttemptAt = nil // no push once read
		return nil
	})
}

// Ack moves a message to acked.
func (s *Messages) Ack(ctx context.Context, u *User, id string) (*Message, error) {
	now := s.clock.Now()
	return s.update(ctx, u, id, func(m *Message) error {
		switch m.State {
		case MsgExpired:
			return Conflict("invalid_state_transition", "cannot ack on terminal state 'expired'")
		case MsgAcked:
			return nil
		}
		m.State, m.AckedAt, m.UpdatedAt = MsgAcked, &now, now
		m.NextAttemptAt = nil
		return nil
	})
}

func (s *Messages) update(ctx context.Context, u *User, id string, fn func(m *Message) error) (*Message, error) {
	m, err := s.store.MessageUpdate(ctx, &MessageUpdateParams{Viewer: u.ID, ID: MessageID(id), Fn: fn})
	if errors.Is(err, ErrNotFound) {
		if _, coded := AsError(err); !coded {
			return nil, messageNotFound()
		}
	}
	return m, err
}

// ViewQuery is an inbox or sent query (clients.md §2.11).
type ViewQuery struct {
	State       *string
	Since       *string
	ThreadID    *string
	Counterpart *string
	Limit       int
	Offset      int
	CountOnly   bool
}

// MessagePage is a page of an inbox or sent view.
type MessagePage struct {
	Messages []*Message
	Total    int
}

// parseStates parses a comma-separated state filter.
func parseStates(filter *string, def []string) ([]string, error) {
	if filter == nil {
		return def, nil
	}
	var out []string
	for _, s := range strings.Split(*filter, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(MessageStates, s) {
			return nil, Invalid("invalid_state_filter", fmt.Sprintf("unknown state '%s'. Valid: ['%s']", s, strings.Join(MessageStates, "', '")))
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return def, nil
	}
	return out, nil
}

// Inbox lists messages addressed to the caller's agent, delivering its
// queued, due ones first (unless count only).
func (s *Messages) Inbox(ctx context.Context, u *User, ref string, q ViewQuery) (*MessagePage, error) {
	return s.view(ctx, u, ref, q, true)
}

// Sent lists messages the caller's agent sent.
func (s *Messages) Sent(ctx context.Context, u *User, ref string, q ViewQuery) (*MessagePage, error) {
	return s.view(ctx, u, ref, q, false)
}

func (s *Messages) view(ctx context.Context, u *User, ref string, q ViewQuery, inbox bool) (*MessagePage, error) {
	since, fe := optionalTimestamp(Query("since"), q.Since)
	if fe != nil {
		return nil, fe.Err()
	}
	a, err := s.agents.ResolveOwned(ctx, u.ID, ref, true)
	if err != nil {
		return nil, err
	}
	def := []string(nil)
	if inbox {
		def = slices.DeleteFunc(slices.Clone(MessageStates), func(s string) bool { return s == MsgAcked || s == MsgExpired })
	}
	states, err := parseStates(q.State, def)
	if err != nil {
		return nil, err
	}
	p := &MessageListParams{AgentID: a.ID, Inbox: inbox, States: states, Since: since, ThreadID: q.ThreadID, Limit: q.Limit, Offset: q.Offset, CountOnly: q.CountOnly}
	if q.Counterpart != nil {
		c, err := s.agents.ResolveGlobal(ctx, *q.Counterpart)
		if err != nil {
			return nil, err
		}
		p.Counterpart = &c.ID
	}
	now := s.clock.Now()
	if inbox {
		p.DueBy = &now
		if !q.CountOnly && (len(states) == 0 || slices.Contains(states, MsgQueued)) {
			p.Deliver = &MessageDeliver{Now: now}
		}
	} else {
		p.Sender = u.ID
	}
	res, err := s.store.MessageList(ctx, p)
	if err != nil {
		return nil, err
	}
	if inbox && !q.CountOnly && p.Deliver == nil {
		if err := s.agents.Touch(ctx, a.ID); err != nil {
			return nil, err
		}
	}
	if s.cfg.Events != nil {
		for _, m := range res.Delivered {
			s.cfg.Events.MessageDelivered(ctx, m)
		}
	}
	return &MessagePage{Messages: res.Messages, Total: res.Total}, nil
}

// MessageView is a message with the addresses its wire form shows.
type MessageView struct {
	*Message
	// FromAddress is "agent_slug@user_slug" of the sender agent.
	FromAddress string
}

// Views adds the sender addresses to messages (one lookup per distinct
// agent).
func (s *Messages) Views(ctx context.Context, msgs []*Message) ([]MessageView, error) {
	addrs := map[AgentID]string{}
	out := make([]MessageView, 0, len(msgs))
	for _, m := range msgs {
		addr, ok := addrs[m.FromAgentID]
		if !ok {
			a, err := s.agents.AgentByID(ctx, m.FromAgentID, true)
			if err != nil {
				return nil, err
			}
			if addr, err = s.agents.Address(ctx, a); err != nil {
				return nil, err
			}
			addrs[m.FromAgentID] = addr
		}
		out = append(out, MessageView{Message: m, FromAddress: addr})
	}
	return out, nil
}

// MessageSweeper runs the message lifetime jobs (clients.md §2.14) off the
// request path.
type MessageSweeper struct {
	store MessageStore
	clock Clock
	log   Logger
}

// NewMessageSweeper builds the sweeper.
func NewMessageSweeper(store MessageStore, clock Clock, log Logger) *MessageSweeper {
	return &MessageSweeper{store: store, clock: clock, log: log}
}

// messageSweepBatch bounds the rows one sweep changes per job.
const messageSweepBatch = 1000

// SweepOnce expires, purges and releases keys once.
func (w *MessageSweeper) SweepOnce(ctx context.Context) (MessageSweepResult, error) {
	now := w.clock.Now()
	return w.store.MessageSweep(ctx, &MessageSweepParams{
		Now: now, PurgeBefore: now.Add(-MessagePurgeAfter), ReleaseBefore: now.Add(-IdempotencyWindow), Limit: messageSweepBatch,
	})
}

// Run sweeps every interval until ctx ends.
func (w *MessageSweeper) Run(ctx context.Context, every time.Duration) {
	runEvery(ctx, every, w.log, "message sweep failed", func(ctx context.Context) error {
		_, err := w.SweepOnce(ctx)
		return err
	})
}
