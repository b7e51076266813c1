package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/cueapi/cueapi/core/canonjson"
)

// Push delivery of messages (clients.md §2.12, K1–K2): a DeliverySource of
// the one delivery engine (Dispatcher). A message whose recipient had a
// webhook URL at send time is due at send (or send_at); each attempt reads
// the recipient's current URL and secret, signs the canonical body with
// the agent's secret (api.md §6.2 scheme) and POSTs it. Retries: at most
// MessagePushMaxAttempts in total, backoff MessagePushBackoff (a 429/503
// Retry-After wins when longer); a lost lease makes the message due again
// (stale recovery).

// MessagePushMaxAttempts bounds the attempts of one push (1 + 3 retries).
const MessagePushMaxAttempts = 4

// MessagePushBackoff is the delay after failed attempt n (1-based).
var MessagePushBackoff = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute}

// MessagePushUserCap is the default per-sender-user limit of pushes in
// flight per process (MAX_CONCURRENT_DELIVERIES_PER_USER); over it an
// attempt is postponed by MessagePushCapDelay without counting.
const (
	MessagePushUserCap  = 50
	MessagePushCapDelay = 30 * time.Second
)

// messagePushSource is the messages' DeliverySource.
type messagePushSource struct {
	store   MessageStore
	agents  *Agents
	timeout time.Duration
	ua      string
	log     Logger
	events  MessageEvents
	userCap int

	mu       sync.Mutex
	inFlight map[TenantID]int
	addrs    map[AgentID]string // agent and user slugs never change
}

// NewMessagePushSource builds the push source (register it with
// Dispatcher.Register). userCap <= 0 means MessagePushUserCap.
func NewMessagePushSource(store MessageStore, agents *Agents, cfg DispatcherConfig, userCap int, events MessageEvents, log Logger) DeliverySource {
	if userCap <= 0 {
		userCap = MessagePushUserCap
	}
	return &messagePushSource{store: store, agents: agents, timeout: cfg.WebhookTimeout, ua: "CueAPI/1.0", log: log,
		events: events, userCap: userCap, inFlight: map[TenantID]int{}, addrs: map[AgentID]string{}}
}

// pushJob is a claimed push and, once settled, its result.
type pushJob struct {
	msg    *Message
	result *MessagePushResult
	// counted: the attempt holds a per-user slot.
	counted bool
}

// Kind implements DeliverySource.
func (s *messagePushSource) Kind() string { return "message" }

// Claim implements DeliverySource.
func (s *messagePushSource) Claim(ctx context.Context, c *DeliveryClaim) ([]*DeliveryJob, error) {
	msgs, err := s.store.MessagePushClaim(ctx, c)
	if err != nil {
		return nil, err
	}
	jobs := make([]*DeliveryJob, len(msgs))
	for i, m := range msgs {
		j := &DeliveryJob{ID: string(m.ID), Destination: m.Destination, Attempt: m.Attempts, Item: &pushJob{msg: m}, Span: "message.push"}
		if m.LeaseExpiresAt != nil {
			j.LeaseUntil = *m.LeaseExpiresAt
		}
		jobs[i] = j
	}
	return jobs, nil
}

// pushBody is the signed body of a push (clients.md §2.12).
type pushBody struct {
	ID             MessageID       `json:"id"`
	From           pushAgent       `json:"from"`
	To             pushAgent       `json:"to"`
	ThreadID       MessageID       `json:"thread_id"`
	ReplyTo        *MessageID      `json:"reply_to"`
	Subject        *string         `json:"subject"`
	Body           string          `json:"body"`
	Priority       int             `json:"priority"`
	ExpectsReply   bool            `json:"expects_reply"`
	ReplyToAgentID *AgentID        `json:"reply_to_agent_id"`
	Metadata       json.RawMessage `json:"metadata"`
	CreatedAt      string          `json:"created_at"`
}

type pushAgent struct {
	AgentID AgentID `json:"agent_id"`
	Slug    string  `json:"slug"`
}

// address is the agent's slug-form address, cached (slugs are immutable).
func (s *messagePushSource) address(ctx context.Context, id AgentID) (string, error) {
	s.mu.Lock()
	addr, ok := s.addrs[id]
	s.mu.Unlock()
	if ok {
		return addr, nil
	}
	a, err := s.agents.AgentByID(ctx, id, true)
	if err != nil {
		return "", err
	}
	if addr, err = s.agents.Address(ctx, a); err != nil {
		return "", err
	}
	s.mu.Lock()
	if len(s.addrs) > 100_000 {
		clear(s.addrs)
	}
	s.addrs[id] = addr
	s.mu.Unlock()
	return addr, nil
}

// Request implements DeliverySource.
func (s *messagePushSource) Request(ctx context.Context, j *DeliveryJob, now time.Time) (*OutboundRequest, error) {
	pj := j.Item.(*pushJob)
	m := pj.msg
	if m.Attempts > MessagePushMaxAttempts {
		// A lost lease with no attempt left.
		pj.result = s.failed(m, now, "Delivery interrupted and max attempts exhausted")
		return nil, nil
	}
	to, err := s.agents.AgentByID(ctx, m.ToAgentID, false)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if err != nil || to.WebhookURL == nil || to.WebhookSecretSealed == nil {
		// The recipient cleared its URL (or is gone): no push; the message
		// stays in the inbox, queued.
		pj.result = &MessagePushResult{ID: m.ID, Attempt: m.Attempts, State: MsgQueued, Attempts: m.Attempts - 1}
		return nil, nil
	}
	s.mu.Lock()
	if s.inFlight[m.TenantID] >= s.userCap {
		s.mu.Unlock()
		later := now.Add(MessagePushCapDelay)
		pj.result = &MessagePushResult{ID: m.ID, Attempt: m.Attempts, State: MsgRetryReady, Attempts: m.Attempts - 1, NextAttemptAt: &later}
		return nil, nil
	}
	s.inFlight[m.TenantID]++
	pj.counted = true
	s.mu.Unlock()
	req, err := s.build(ctx, m, to, now)
	if err != nil {
		s.release(pj)
		return nil, err
	}
	return req, nil
}

// build signs the push of m to agent to at now.
func (s *messagePushSource) build(ctx context.Context, m *Message, to *Agent, now time.Time) (*OutboundRequest, error) {
	secret, err := s.agents.OpenSecret(to)
	if err != nil {
		return nil, fmt.Errorf("open agent webhook secret: %w", err)
	}
	fromAddr, err := s.address(ctx, m.FromAgentID)
	if err != nil {
		return nil, err
	}
	toAddr, err := s.address(ctx, m.ToAgentID)
	if err != nil {
		return nil, err
	}
	meta := m.Metadata
	if len(meta) == 0 {
		meta = json.RawMessage(`{}`)
	}
	raw, err := json.Marshal(pushBody{
		ID: m.ID, From: pushAgent{m.FromAgentID, fromAddr}, To: pushAgent{m.ToAgentID, toAddr}, ThreadID: m.ThreadID,
		ReplyTo: m.ReplyTo, Subject: m.Subject, Body: m.Body, Priority: m.Priority, ExpectsReply: m.ExpectsReply,
		ReplyToAgentID: m.ReplyToAgentID, Metadata: meta, CreatedAt: PyTime(m.CreatedAt),
	})
	if err != nil {
		return nil, err
	}
	body, err := canonjson.Canonical(raw)
	if err != nil {
		return nil, err
	}
	ts := now.Unix()
	return &OutboundRequest{Method: "POST", URL: *to.WebhookURL, Body: body, Timeout: s.timeout, Header: []HeaderField{
		{"Content-Type", "application/json"},
		{"X-CueAPI-Signature", canonjson.Sign(secret, ts, body)},
		{"X-CueAPI-Timestamp", strconv.FormatInt(ts, 10)},
		{"X-CueAPI-Event-Type", "message.created"},
		{"X-CueAPI-Message-Id", string(m.ID)},
		{"X-CueAPI-Agent-Id", string(m.ToAgentID)},
		{"X-CueAPI-Thread-Id", string(m.ThreadID)},
		{"X-CueAPI-Attempt", strconv.Itoa(m.Attempts)},
		{"User-Agent", s.ua},
	}}, nil
}

// release frees the attempt's per-user slot.
func (s *messagePushSource) release(pj *pushJob) {
	if !pj.counted {
		return
	}
	pj.counted = false
	s.mu.Lock()
	if s.inFlight[pj.msg.TenantID]--; s.inFlight[pj.msg.TenantID] <= 0 {
		delete(s.inFlight, pj.msg.TenantID)
	}
	s.mu.Unlock()
}

func (s *messagePushSource) failed(m *Message, now time.Time, reason string) *MessagePushResult {
	return &MessagePushResult{ID: m.ID, Attempt: m.Attempts, State: MsgFailed, Attempts: min(m.Attempts, MessagePushMaxAttempts),
		FailedAt: &now, LastError: &reason}
}

// retryable classifies a failed attempt (clients.md §2.12): 408, 429, 5xx
// and transport failures are retried; the SSRF policy, other statuses and
// a request that could not be built are final.
func retryable(a *DeliveryAttempt) bool {
	if a.Status != 0 {
		return a.Status == 408 || a.Status == 429 || a.Status >= 500
	}
	var de *DeliveryError
	if errors.As(a.Err, &de) {
		return de.Kind != DeliveryBlocked
	}
	return false
}

// Settle implements DeliverySource.
func (s *messagePushSource) Settle(a *DeliveryAttempt) {
	pj := a.Job.Item.(*pushJob)
	s.release(pj)
	m := pj.msg
	switch a.Outcome {
	case AttemptSkipped:
		if pj.result == nil {
			pj.result = s.failed(m, a.At, "Webhook delivery failed")
		}
		return
	case AttemptReleased:
		// Shutdown: hand it back now, the attempt not counted.
		at := a.At
		pj.result = &MessagePushResult{ID: m.ID, Attempt: m.Attempts, State: MsgRetryReady, Attempts: m.Attempts - 1, NextAttemptAt: &at}
		return
	case AttemptDelivered:
		at := a.At
		pj.result = &MessagePushResult{ID: m.ID, Attempt: m.Attempts, State: MsgDelivered, Attempts: m.Attempts, DeliveredAt: &at}
		return
	}
	// Failed or parked (breaker open: counts as a failed attempt).
	reason := a.Message
	if reason == "" {
		reason = "Webhook delivery failed"
	}
	if a.Outcome != AttemptParked && !retryable(a) || m.Attempts >= MessagePushMaxAttempts {
		pj.result = s.failed(m, a.At, reason)
		return
	}
	next := a.At.Add(MessagePushBackoff[min(m.Attempts, len(MessagePushBackoff))-1])
	if a.NotBefore.After(next) {
		next = a.NotBefore
	}
	pj.result = &MessagePushResult{ID: m.ID, Attempt: m.Attempts, State: MsgRetryReady, Attempts: m.Attempts, NextAttemptAt: &next, LastError: &reason}
}

// Record implements DeliverySource.
func (s *messagePushSource) Record(ctx context.Context, now time.Time, done []*DeliveryAttempt) ([]bool, error) {
	p := &MessagePushRecordParams{Now: now, Results: make([]*MessagePushResult, len(done))}
	for i, a := range done {
		p.Results[i] = a.Job.Item.(*pushJob).result
	}
	stored, err := s.store.MessagePushRecord(ctx, p)
	if err != nil {
		return nil, err
	}
	applied := make([]bool, len(done))
	var delivered []*Message
	for i, m := range stored {
		applied[i] = m != nil
		if m != nil && m.State == MsgDelivered {
			delivered = append(delivered, m)
		}
	}
	if s.events != nil && len(delivered) > 0 {
		go func() {
			bg := context.WithoutCancel(ctx)
			for _, m := range delivered {
				s.events.MessageDelivered(bg, m)
			}
		}()
	}
	return applied, nil
}
