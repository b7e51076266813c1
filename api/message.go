package api

import (
	"context"
	"encoding/json"

	"github.com/cueapi/cueapi/api/apigen"
	"github.com/cueapi/cueapi/core"
)

// messageOut renders a message with the client-expected keys (clients.md
// §2.10.9): from (object), to (the recipient's id), state, reply_to_agent,
// queued_at, updated_at.
func messageOut(v core.MessageView) apigen.Message {
	m := v.Message
	out := apigen.Message{
		ID: string(m.ID), UserID: string(m.TenantID), FromAgentID: string(m.FromAgentID), ToAgentID: string(m.ToAgentID),
		ThreadID: string(m.ThreadID), Subject: m.Subject, Body: m.Body, Preview: m.Preview, Priority: m.Priority,
		ExpectsReply: m.ExpectsReply, DeliveryState: apigen.MessageState(m.State), State: apigen.MessageState(m.State),
		Metadata: m.Metadata, IdempotencyKey: m.IdempotencyKey, CorrelationID: m.CorrelationID,
		CreatedAt: m.CreatedAt.UTC(), QueuedAt: m.CreatedAt.UTC(), UpdatedAt: m.UpdatedAt.UTC(),
		DeliveredAt: utcPtr(m.DeliveredAt), ReadAt: utcPtr(m.ReadAt), AckedAt: utcPtr(m.AckedAt), FailedAt: utcPtr(m.FailedAt),
		SendAt: utcPtr(m.SendAt), ExpiresAt: m.ExpiresAt.UTC(), DispatchPriorityBucket: new(m.Priority),
		From: apigen.MessageFrom{AgentID: string(m.FromAgentID), Slug: v.FromAddress}, To: string(m.ToAgentID),
		EffectiveDeliveryMode: apigen.MessageEffectiveDeliveryMode(m.EffectiveDeliveryMode),
	}
	if len(out.Metadata) == 0 {
		out.Metadata = json.RawMessage(`{}`)
	}
	if m.ReplyTo != nil {
		out.ReplyTo = new(string(*m.ReplyTo))
	}
	if m.ReplyToAgentID != nil {
		out.ReplyToAgentID, out.ReplyToAgent = new(string(*m.ReplyToAgentID)), new(string(*m.ReplyToAgentID))
	}
	return out
}

// messagesOut renders messages with their sender addresses.
func (s *Server) messagesOut(ctx context.Context, msgs []*core.Message) ([]apigen.Message, error) {
	views, err := s.deps.Messages.Views(ctx, msgs)
	if err != nil {
		return nil, err
	}
	out := make([]apigen.Message, 0, len(views))
	for _, v := range views {
		out = append(out, messageOut(v))
	}
	return out, nil
}

func (s *Server) messageOut(ctx context.Context, m *core.Message) (apigen.Message, error) {
	out, err := s.messagesOut(ctx, []*core.Message{m})
	if err != nil {
		return apigen.Message{}, err
	}
	return out[0], nil
}

// SendMessage sends a message (201), or answers a repeated idempotency
// key with the original (200).
func (s *Server) SendMessage(ctx context.Context, req apigen.SendMessageRequestObject) (apigen.SendMessageResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	b := req.Body
	in := &core.SendInput{
		IdempotencyKey: req.Params.IdempotencyKey, To: b.To, Body: b.Body, Subject: b.Subject, ReplyTo: b.ReplyTo,
		Priority: b.Priority, ExpectsReply: b.ExpectsReply != nil && *b.ExpectsReply, ReplyToAgent: b.ReplyToAgent,
		CorrelationID: b.CorrelationID, SendAt: b.SendAt,
	}
	if req.Params.XCueapiFromAgent != nil {
		in.FromAgent = *req.Params.XCueapiFromAgent
	}
	if b.Metadata != nil {
		in.Metadata = *b.Metadata
	}
	if b.Notify != nil {
		in.Notify = *b.Notify
	}
	if b.DeliveryMode != nil {
		in.DeliveryMode = new(string(*b.DeliveryMode))
	}
	if b.LiveFallbackMode != nil {
		in.LiveFallbackMode = new(string(*b.LiveFallbackMode))
	}
	res, err := s.deps.Messages.Send(ctx, u, in)
	if err != nil {
		return nil, err
	}
	out := messageOut(core.MessageView{Message: res.Message, FromAddress: res.FromAddress})
	copies := make([]string, 0, len(res.Copies))
	for _, c := range res.Copies {
		copies = append(copies, string(c))
	}
	out.BccEmitted = &copies
	if res.Replayed {
		return apigen.SendMessage200JSONResponse(out), nil
	}
	resp := apigen.SendMessage201JSONResponse{Body: out}
	if res.Downgraded {
		resp.Headers.XCueAPIPriorityDowngraded = new("true")
	}
	return resp, nil
}

// GetMessage returns a message visible to the caller.
func (s *Server) GetMessage(ctx context.Context, req apigen.GetMessageRequestObject) (apigen.GetMessageResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	m, err := s.deps.Messages.Get(ctx, u, req.MessageID)
	if err != nil {
		return nil, err
	}
	out, err := s.messageOut(ctx, m)
	if err != nil {
		return nil, err
	}
	return apigen.GetMessage200JSONResponse(out), nil
}

func stateChange(m *core.Message) apigen.MessageStateChange {
	return apigen.MessageStateChange{DeliveryState: apigen.MessageState(m.State), ReadAt: utcPtr(m.ReadAt), AckedAt: utcPtr(m.AckedAt)}
}

// MarkMessageRead marks a message read.
func (s *Server) MarkMessageRead(ctx context.Context, req apigen.MarkMessageReadRequestObject) (apigen.MarkMessageReadResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	m, err := s.deps.Messages.MarkRead(ctx, u, req.MessageID)
	if err != nil {
		return nil, err
	}
	return apigen.MarkMessageRead200JSONResponse(stateChange(m)), nil
}

// AckMessage acknowledges a message.
func (s *Server) AckMessage(ctx context.Context, req apigen.AckMessageRequestObject) (apigen.AckMessageResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	m, err := s.deps.Messages.Ack(ctx, u, req.MessageID)
	if err != nil {
		return nil, err
	}
	return apigen.AckMessage200JSONResponse(stateChange(m)), nil
}

// viewQuery maps the shared inbox/sent parameters.
func viewQuery(state, since, thread, counterpart *string, limit, offset *int, countOnly *bool) core.ViewQuery {
	return core.ViewQuery{
		State: state, Since: since, ThreadID: thread, Counterpart: counterpart,
		Limit: intOr(limit, 50), Offset: intOr(offset, 0), CountOnly: countOnly != nil && *countOnly,
	}
}

func (s *Server) pageOut(ctx context.Context, q core.ViewQuery, page *core.MessagePage) (apigen.MessagePage, error) {
	if q.CountOnly {
		return apigen.MessagePage{Count: new(page.Total)}, nil
	}
	msgs, err := s.messagesOut(ctx, page.Messages)
	if err != nil {
		return apigen.MessagePage{}, err
	}
	return apigen.MessagePage{Messages: &msgs, Total: new(page.Total), Limit: new(q.Limit), Offset: new(q.Offset)}, nil
}

// GetAgentInbox lists the caller's agent's inbox.
func (s *Server) GetAgentInbox(ctx context.Context, req apigen.GetAgentInboxRequestObject) (apigen.GetAgentInboxResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	p := req.Params
	q := viewQuery(p.State, p.Since, p.ThreadID, p.Counterpart, p.Limit, p.Offset, p.CountOnly)
	page, err := s.deps.Messages.Inbox(ctx, u, req.Ref, q)
	if err != nil {
		return nil, err
	}
	out, err := s.pageOut(ctx, q, page)
	if err != nil {
		return nil, err
	}
	return apigen.GetAgentInbox200JSONResponse(out), nil
}

// GetAgentSent lists what the caller's agent sent.
func (s *Server) GetAgentSent(ctx context.Context, req apigen.GetAgentSentRequestObject) (apigen.GetAgentSentResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	p := req.Params
	q := viewQuery(p.State, p.Since, p.ThreadID, p.Counterpart, p.Limit, p.Offset, p.CountOnly)
	page, err := s.deps.Messages.Sent(ctx, u, req.Ref, q)
	if err != nil {
		return nil, err
	}
	out, err := s.pageOut(ctx, q, page)
	if err != nil {
		return nil, err
	}
	return apigen.GetAgentSent200JSONResponse(out), nil
}

// messageEcho is the verify echo of a send (clients.md §2.6.3): the body
// field's string exactly as parsed.
func messageEcho(body []byte) (json.RawMessage, string) {
	var req struct {
		Body *string `json:"body"`
	}
	if json.Unmarshal(body, &req) != nil || req.Body == nil {
		return json.RawMessage("null"), hashHex(nil)
	}
	text, _ := json.Marshal(*req.Body)
	return text, hashHex([]byte(*req.Body))
}
