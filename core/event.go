package core

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"sync"
	"time"
)

// Event types: the registry of what an agent may subscribe to
// (clients.md §2.15). turn.pass is registered for consumer-side filtering
// only; the server never emits it.
const (
	EventMessageDelivered = "message.delivered"
	EventMessageDigest    = "message.digest"
	EventTurnPass         = "turn.pass"
)

// KnownEventType reports whether t is a registered event type.
func KnownEventType(t string) bool {
	switch t {
	case EventMessageDelivered, EventMessageDigest, EventTurnPass:
		return true
	}
	return false
}

// Delivery targets of a subscription.
const (
	DeliveryPull    = "pull"
	DeliveryWebhook = "webhook"
)

// Event policies.
const (
	// EventRetention is how long events are kept (by emitted_at).
	EventRetention = 7 * 24 * time.Hour
	// EventInlineBodyMax is the largest body (UTF-8 bytes) put inline into a
	// message.delivered payload.
	EventInlineBodyMax = 32768
	// DefaultLongPollTimeout is how long a wait=long pull is held open.
	DefaultLongPollTimeout = 30 * time.Second
	// longPollReread bounds how long a held poll trusts notifications alone:
	// it re-reads this often, so a lost notification (a full subscriber
	// buffer, a LISTEN connection reconnecting) delays an answer by at most
	// this much, while 1,000 held polls cost 200 reads a second, not 1,000.
	longPollReread = 5 * time.Second
	// EventPullMaxLimit is the largest page of a pull.
	EventPullMaxLimit = 1000
)

// Webhook subscription dispatch policy (clients.md §2.15.8).
const (
	// SubscriptionBatchMax bounds the events of one webhook batch.
	SubscriptionBatchMax = 50
	// SubscriptionPauseAfter consecutive failures pause a subscription.
	SubscriptionPauseAfter = 10
	// SubscriptionPause is how long a failing subscription is paused.
	SubscriptionPause = time.Hour
	// DefaultPriority4Debounce holds back priority-4 events this long after
	// a batch holding one was delivered to the subscription.
	DefaultPriority4Debounce = 2 * time.Second
	// subscriptionWebhookTimeout bounds one batch POST.
	subscriptionWebhookTimeout = 30 * time.Second
	// subscriptionRetryAfter is the wait before a failed batch is sent again.
	subscriptionRetryAfter = 5 * time.Second
	// subscriptionDueScan bounds the subscriptions one claim looks at.
	subscriptionDueScan = 100
)

// Event is an append-only row addressed to one recipient agent. ID is
// strictly increasing per recipient in commit order: the pull cursor.
type Event struct {
	ID               int64
	TenantID         TenantID
	Type             string
	RecipientAgentID string
	Payload          json.RawMessage
	EmittedAt        time.Time
	// Priority is the payload priority of message events (nil otherwise).
	Priority *int
}

// EventEmit is an event to write: core builds it (payload, idempotency
// key), a store writes it in the transaction of the change that causes it.
type EventEmit struct {
	TenantID         TenantID
	Type             string
	RecipientAgentID string
	Payload          json.RawMessage
	EmittedAt        time.Time
	// IdempotencyKey, when set, makes the emit reuse an existing event with
	// the same (Type, IdempotencyKey).
	IdempotencyKey string
	Priority       *int
}

// Subscription says how an agent wants one event type delivered.
type Subscription struct {
	ID       string
	TenantID TenantID
	AgentID  string
	// EventType is one of the registered types.
	EventType string
	// Target is DeliveryPull or DeliveryWebhook.
	Target string
	// WebhookURL is the full URL (webhook only); responses redact it.
	WebhookURL *string
	// SecretSealed is the whsec_ secret sealed with the SecretBox (webhook
	// only). Secret is the plaintext, set only on the create result.
	SecretSealed *string
	Secret       *string
	InlineBody   bool

	LastDispatchedEventID *int64
	LastDispatchedAt      *time.Time
	LastAckedEventID      *int64
	ConsecutiveFailures   int
	PausedUntil           *time.Time
	// LastP4At is when a batch holding a priority-4 event was last delivered.
	LastP4At   *time.Time
	CreatedAt  time.Time
	DetachedAt *time.Time
}

// RedactedURL renders the webhook URL as scheme://host[:port].
func (s *Subscription) RedactedURL() *string {
	if s.WebhookURL == nil {
		return nil
	}
	u, err := url.Parse(*s.WebhookURL)
	if err != nil {
		r := ""
		return &r
	}
	r := u.Scheme + "://" + u.Host
	return &r
}

// EventStore persists events and subscriptions. Every method is safe for
// concurrent use by any number of processes sharing the database. Reads and
// changes are scoped to (TenantID, AgentID): another tenant's rows are never
// seen or changed. Methods are sorted by name.
type EventStore interface {
	// EventDigest writes the digest event and marks the source events
	// digested at Now, in one transaction. A source already digested (by
	// another replica) makes the whole call a no-op returning ErrConflict.
	EventDigest(ctx context.Context, p *EventDigestParams) (*Event, error)

	// EventDigestCandidates returns up to Limit undigested message.delivered
	// events of priority 1 or 2, ordered by recipient then id.
	EventDigestCandidates(ctx context.Context, p *EventDigestCandidatesParams) ([]*Event, error)

	// EventEmit writes the events in one transaction and returns them in
	// order. An event whose (Type, IdempotencyKey) is already stored is not
	// written again: the stored one is returned. Ids are strictly increasing
	// per recipient in commit order (a pull that saw id n never later finds
	// a new event of that recipient below n).
	EventEmit(ctx context.Context, p *EventEmitParams) ([]*Event, error)

	// EventList returns the agent's events with id > Since (and of Type when
	// set), ascending by id, at most Limit.
	EventList(ctx context.Context, p *EventListParams) ([]*Event, error)

	// EventPurge deletes up to Limit events emitted before Before; returns
	// how many went.
	EventPurge(ctx context.Context, p *EventPurgeParams) (int, error)

	// SubscriptionAck raises last_acked_event_id of the agent's active
	// subscription ID to EventID when that is higher. Nothing happens (no
	// error) for an unknown, foreign or detached subscription.
	SubscriptionAck(ctx context.Context, p *SubscriptionAckParams) error

	// SubscriptionAckPulls raises last_acked_event_id of every active pull
	// subscription of the agent (of EventType when set) to EventID when that
	// is higher (never lowers it).
	SubscriptionAckPulls(ctx context.Context, p *SubscriptionAckPullsParams) error

	// SubscriptionCreate stores a new active subscription. ErrConflict when
	// the agent already has an active one for (EventType, Target).
	SubscriptionCreate(ctx context.Context, p *Subscription) error

	// SubscriptionDetach sets detached_at = Now on the agent's active
	// subscription ID; nothing happens (no error) otherwise.
	SubscriptionDetach(ctx context.Context, p *SubscriptionDetachParams) error

	// SubscriptionDue lists up to Limit active webhook subscriptions that are
	// neither paused nor leased at Now and have events of their type after
	// their dispatch watermark, lowest watermark first.
	SubscriptionDue(ctx context.Context, p *SubscriptionDueParams) ([]*Subscription, error)

	// SubscriptionLease leases those of IDs still free (not leased, not
	// paused, active) at Now until LeaseUntil and returns each with up to
	// MaxEvents events of its type after its watermark, ascending. Two
	// claimers never lease the same subscription at once.
	SubscriptionLease(ctx context.Context, p *SubscriptionLeaseParams) ([]*SubscriptionBatch, error)

	// SubscriptionList returns the agent's active subscriptions, oldest first
	// (ties by id).
	SubscriptionList(ctx context.Context, p *SubscriptionListParams) ([]*Subscription, error)

	// SubscriptionRecordDispatches stores dispatch results in one
	// transaction, each fenced on the lease it was claimed under
	// (applied[i] false when that lease was lost), and releases the lease.
	// The acknowledgement watermark is only ever raised.
	SubscriptionRecordDispatches(ctx context.Context, p *SubscriptionRecordDispatchesParams) ([]bool, error)
}

// SubscriptionDueParams lists subscriptions with events to dispatch.
type SubscriptionDueParams struct {
	Now   time.Time
	Limit int
}

// SubscriptionLeaseParams leases subscriptions for dispatch.
type SubscriptionLeaseParams struct {
	IDs        []string
	Now        time.Time
	LeaseUntil time.Time
	MaxEvents  int
}

// SubscriptionBatch is a leased subscription and its pending events.
type SubscriptionBatch struct {
	Sub        *Subscription
	Events     []*Event
	LeaseUntil time.Time
}

// SubscriptionDispatch is what one dispatch attempt leaves on a
// subscription (core decides every value).
type SubscriptionDispatch struct {
	ID string
	// ClaimedLease fences the write on the claim.
	ClaimedLease          time.Time
	LastDispatchedEventID *int64
	// AckedEventID raises last_acked_event_id (nil: unchanged).
	AckedEventID        *int64
	LastDispatchedAt    *time.Time
	ConsecutiveFailures int
	PausedUntil         *time.Time
	LastP4At            *time.Time
	// NextLease keeps the subscription leased until then (nil releases it):
	// a batch held back entirely waits out the debounce.
	NextLease *time.Time
}

// SubscriptionRecordDispatchesParams stores dispatch results.
type SubscriptionRecordDispatchesParams struct{ Results []*SubscriptionDispatch }

// EventDigestParams writes one digest and marks its sources.
type EventDigestParams struct {
	Digest    *EventEmit
	SourceIDs []int64
	Now       time.Time
}

// EventDigestCandidatesParams selects events to digest.
type EventDigestCandidatesParams struct{ Limit int }

// EventEmitParams writes events.
type EventEmitParams struct{ Events []*EventEmit }

// EventListParams reads an agent's feed after a cursor.
type EventListParams struct {
	TenantID TenantID
	AgentID  string
	Since    int64
	Type     string
	Limit    int
}

// EventPurgeParams deletes old events.
type EventPurgeParams struct {
	Before time.Time
	Limit  int
}

// SubscriptionAckParams raises one subscription's watermark.
type SubscriptionAckParams struct {
	TenantID TenantID
	AgentID  string
	ID       string
	EventID  int64
}

// SubscriptionAckPullsParams raises the pull subscriptions' watermark.
type SubscriptionAckPullsParams struct {
	TenantID  TenantID
	AgentID   string
	EventType string
	EventID   int64
}

// SubscriptionDetachParams detaches one subscription.
type SubscriptionDetachParams struct {
	TenantID TenantID
	AgentID  string
	ID       string
	Now      time.Time
}

// SubscriptionListParams lists an agent's active subscriptions.
type SubscriptionListParams struct {
	TenantID TenantID
	AgentID  string
}

// AgentResolver resolves an agent reference owned by the caller (owned
// resolver of clients.md §2.9.1) to the agent's id: 400
// invalid_agent_address, 404 agent_not_found for unknown, deleted or
// foreign agents.
type AgentResolver func(ctx context.Context, tenant TenantID, ref string) (string, error)

// EventsConfig holds the event policies.
type EventsConfig struct {
	// LongPollTimeout is how long wait=long holds an empty pull
	// (DefaultLongPollTimeout when 0).
	LongPollTimeout time.Duration
	// DigestPeriod is the period of message.digest emission (600 s when 0).
	DigestPeriod time.Duration
	// DigestMinBatch is the fewest low-priority events a digest bundles (1
	// when 0).
	DigestMinBatch int
	// Priority4Debounce holds back priority-4 events of a webhook
	// subscription after a delivered batch holding one
	// (DefaultPriority4Debounce when 0; negative disables).
	Priority4Debounce time.Duration
}

// Events is the event feed and subscription service. Safe for concurrent
// use.
type Events struct {
	cfg     EventsConfig
	store   EventStore
	resolve AgentResolver
	guard   URLGuard
	box     SecretBox
	clock   Clock
	hub     *EventHub
	log     Logger

	released    chan struct{}
	releaseOnce sync.Once
}

// NewEvents wires the event service. hub wakes held long-polls.
func NewEvents(cfg EventsConfig, store EventStore, resolve AgentResolver, guard URLGuard, box SecretBox, clock Clock, hub *EventHub, log Logger) *Events {
	if cfg.LongPollTimeout <= 0 {
		cfg.LongPollTimeout = DefaultLongPollTimeout
	}
	if cfg.DigestPeriod <= 0 {
		cfg.DigestPeriod = 600 * time.Second
	}
	if cfg.DigestMinBatch <= 0 {
		cfg.DigestMinBatch = 1
	}
	return &Events{cfg: cfg, store: store, resolve: resolve, guard: guard, box: box, clock: clock, hub: hub, log: log, released: make(chan struct{})}
}

// SubscriptionInput is a create request.
type SubscriptionInput struct {
	EventType  string
	Target     string
	WebhookURL *string
	InlineBody bool
}

// Subscribe creates a subscription for the caller's agent ref.
func (s *Events) Subscribe(ctx context.Context, u *User, ref string, in SubscriptionInput) (*Subscription, error) {
	agent, err := s.resolve(ctx, u.ID, ref)
	if err != nil {
		return nil, err
	}
	if !KnownEventType(in.EventType) {
		return nil, Invalid("unknown_event_type", "unknown event_type '"+in.EventType+"'. Valid: [message.delivered, message.digest, turn.pass]")
	}
	hasURL := in.WebhookURL != nil && *in.WebhookURL != ""
	switch {
	case in.Target == DeliveryPull && hasURL:
		return nil, Invalid("invalid_delivery_target", "webhook_url must not be set for delivery_target 'pull'")
	case in.Target == DeliveryWebhook && !hasURL:
		return nil, Invalid("invalid_delivery_target", "webhook_url is required for delivery_target 'webhook'")
	case in.Target != DeliveryPull && in.Target != DeliveryWebhook:
		return nil, Invalid("invalid_delivery_target", "delivery_target must be 'pull' or 'webhook'")
	}
	now := s.clock.Now()
	sub := &Subscription{
		ID: NewUUID(), TenantID: u.ID, AgentID: agent, EventType: in.EventType, Target: in.Target,
		InlineBody: in.InlineBody, CreatedAt: now,
	}
	if hasURL {
		canon, err := s.guard.Check(ctx, *in.WebhookURL)
		if err != nil {
			var rej *URLRejection
			if errors.As(err, &rej) {
				return nil, Invalid("invalid_webhook_url", rej.Message)
			}
			return nil, err
		}
		secret := NewWebhookSecret()
		sealed, err := s.box.Seal(secret)
		if err != nil {
			return nil, err
		}
		sub.WebhookURL, sub.SecretSealed, sub.Secret = &canon, &sealed, &secret
	}
	if err := s.store.SubscriptionCreate(ctx, sub); err != nil {
		if errors.Is(err, ErrConflict) {
			return nil, Conflict("subscription_exists", "an active "+in.Target+" subscription to '"+in.EventType+"' already exists for this agent")
		}
		return nil, err
	}
	return sub, nil
}

// Subscriptions lists the agent's active subscriptions.
func (s *Events) Subscriptions(ctx context.Context, u *User, ref string) ([]*Subscription, error) {
	agent, err := s.resolve(ctx, u.ID, ref)
	if err != nil {
		return nil, err
	}
	return s.store.SubscriptionList(ctx, &SubscriptionListParams{TenantID: u.ID, AgentID: agent})
}

// Detach detaches a subscription; unknown or detached ids are not errors.
func (s *Events) Detach(ctx context.Context, u *User, ref, id string) error {
	agent, err := s.resolve(ctx, u.ID, ref)
	if err != nil {
		return err
	}
	return s.store.SubscriptionDetach(ctx, &SubscriptionDetachParams{TenantID: u.ID, AgentID: agent, ID: id, Now: s.clock.Now()})
}

// Ack raises a subscription's acknowledgement watermark.
func (s *Events) Ack(ctx context.Context, u *User, ref, id string, eventID int64) error {
	agent, err := s.resolve(ctx, u.ID, ref)
	if err != nil {
		return err
	}
	return s.store.SubscriptionAck(ctx, &SubscriptionAckParams{TenantID: u.ID, AgentID: agent, ID: id, EventID: eventID})
}

// PullInput is a pull request.
type PullInput struct {
	Since int64
	Limit int
	Type  string
	// Long holds an empty read open (wait=long).
	Long bool
}

// EventPage is a pull result.
type EventPage struct {
	Events     []*Event
	NextCursor *int64
	HasMore    bool
}

// Pull reads the agent's events after the cursor; with Long an empty read
// waits for the next event of the agent (or the long-poll timeout). A
// non-empty page raises the pull subscriptions' watermark (a failure there
// is logged, never returned).
func (s *Events) Pull(ctx context.Context, u *User, ref string, in PullInput) (*EventPage, error) {
	agent, err := s.resolve(ctx, u.ID, ref)
	if err != nil {
		return nil, err
	}
	if in.Limit <= 0 {
		in.Limit = 100
	}
	in.Limit = min(in.Limit, EventPullMaxLimit)
	in.Since = max(in.Since, 0)
	p := &EventListParams{TenantID: u.ID, AgentID: agent, Since: in.Since, Type: in.Type, Limit: in.Limit}
	var evs []*Event
	if in.Long && s.hub != nil {
		evs, err = s.hold(ctx, p)
	} else {
		evs, err = s.store.EventList(ctx, p)
	}
	if err != nil {
		return nil, err
	}
	page := &EventPage{Events: evs, HasMore: len(evs) == in.Limit}
	if len(evs) > 0 {
		last := evs[len(evs)-1].ID
		page.NextCursor = &last
		if err := s.store.SubscriptionAckPulls(context.WithoutCancel(ctx), &SubscriptionAckPullsParams{
			TenantID: u.ID, AgentID: agent, EventType: in.Type, EventID: last,
		}); err != nil {
			s.log.Warn("events: pull acknowledgement not recorded", "agent_id", agent, "err", err)
		}
	}
	return page, nil
}

// hold reads, and while the read is empty waits for a wake-up of the agent
// (or re-reads every longPollReread), until the long-poll timeout.
func (s *Events) hold(ctx context.Context, p *EventListParams) ([]*Event, error) {
	// Register before the first read: an event committed between the read
	// and the wait still wakes us.
	wake, cancel := s.hub.Wait(p.AgentID)
	defer cancel()
	deadline := time.NewTimer(s.cfg.LongPollTimeout)
	defer deadline.Stop()
	reread := time.NewTicker(longPollReread)
	defer reread.Stop()
	for {
		evs, err := s.store.EventList(ctx, p)
		if err != nil || len(evs) > 0 {
			return evs, err
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-deadline.C:
			return nil, nil
		case <-s.released:
			return nil, nil
		case <-wake:
		case <-reread.C:
		}
	}
}

// Release answers every held long-poll now (with what is there, usually
// nothing) and makes later ones answer at once: on shutdown, so held polls
// do not hold up the HTTP drain. Idempotent.
func (s *Events) Release() { s.releaseOnce.Do(func() { close(s.released) }) }

// PayloadPriority reads payload.priority: 1-5, else 3 (clients.md §2.15.8).
func PayloadPriority(payload json.RawMessage) int {
	var p struct {
		Priority any `json:"priority"`
	}
	if json.Unmarshal(payload, &p) != nil {
		return 3
	}
	n, ok := p.Priority.(float64)
	if !ok || n != float64(int(n)) || n < 1 || n > 5 {
		return 3
	}
	return int(n)
}

// MessageEventFields are the message facts a message.delivered event
// carries (clients.md §2.15.6).
type MessageEventFields struct {
	MessageID        string
	SenderAgentID    string
	RecipientAgentID string
	ThreadID         string
	ReplyTo          *string
	Priority         int
	CorrelationID    *string
	Subject          *string
	Body             string
}

// MessageDeliveredEvent builds the message.delivered event of a new
// message for its recipient (owned by tenant); inline puts the body into
// the payload (or body_omitted when it is over EventInlineBodyMax bytes).
// Its idempotency key is "message.delivered:<message id>".
func MessageDeliveredEvent(tenant TenantID, m MessageEventFields, inline bool, now time.Time) *EventEmit {
	p := map[string]any{
		"message_id": m.MessageID, "sender_agent_id": m.SenderAgentID, "recipient_agent_id": m.RecipientAgentID,
		"thread_id": m.ThreadID, "reply_to": m.ReplyTo, "priority": m.Priority, "correlation_id": m.CorrelationID,
		"subject": m.Subject,
	}
	if inline {
		if n := len(m.Body); n <= EventInlineBodyMax {
			p["body"] = m.Body
		} else {
			p["body_omitted"], p["body_size_bytes"] = "size_too_large", n
		}
	}
	payload, _ := json.Marshal(p) // strings, numbers and nil only: cannot fail
	prio := m.Priority
	return &EventEmit{
		TenantID: tenant, Type: EventMessageDelivered, RecipientAgentID: m.RecipientAgentID, Payload: payload,
		EmittedAt: now, IdempotencyKey: EventMessageDelivered + ":" + m.MessageID, Priority: &prio,
	}
}

// InlineWanted reports whether the agent (of tenant) has an active
// message.delivered subscription with inline_body: the decision is made
// once per event, so every consumer sees the same payload.
func (s *Events) InlineWanted(ctx context.Context, tenant TenantID, agent string) (bool, error) {
	subs, err := s.store.SubscriptionList(ctx, &SubscriptionListParams{TenantID: tenant, AgentID: agent})
	if err != nil {
		return false, err
	}
	for _, sub := range subs {
		if sub.EventType == EventMessageDelivered && sub.InlineBody {
			return true, nil
		}
	}
	return false, nil
}

// MessageEvents builds the message.delivered event of each new message
// (main message and notify copies alike) for its recipient; the send path
// writes them in the messages' transaction.
func (s *Events) MessageEvents(ctx context.Context, ms []*Message, now time.Time) ([]*EventEmit, error) {
	out := make([]*EventEmit, 0, len(ms))
	inline := map[AgentID]bool{}
	for _, m := range ms {
		want, seen := inline[m.ToAgentID]
		if !seen {
			var err error
			if want, err = s.InlineWanted(ctx, m.ToTenantID, string(m.ToAgentID)); err != nil {
				return nil, err
			}
			inline[m.ToAgentID] = want
		}
		f := MessageEventFields{
			MessageID: string(m.ID), SenderAgentID: string(m.FromAgentID), RecipientAgentID: string(m.ToAgentID),
			ThreadID: string(m.ThreadID), Priority: m.Priority, CorrelationID: m.CorrelationID, Subject: m.Subject, Body: m.Body,
		}
		if m.ReplyTo != nil {
			f.ReplyTo = new(string(*m.ReplyTo))
		}
		out = append(out, MessageDeliveredEvent(m.ToTenantID, f, want, now))
	}
	return out, nil
}
