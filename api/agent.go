package api

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"

	"github.com/cueapi/cueapi/api/apigen"
	"github.com/cueapi/cueapi/core"
)

// agentOut renders an agent; secret is the clear secret of a create
// response (nil elsewhere).
func agentOut(a *core.Agent, secret *string) apigen.Agent {
	out := apigen.Agent{
		ID: string(a.ID), UserID: string(a.TenantID), Slug: a.Slug, DisplayName: a.DisplayName,
		WebhookURL: a.WebhookURL, WebhookSecret: secret, Metadata: a.Metadata, Status: apigen.AgentStatus(a.Status),
		LastSeenAt: utcPtr(a.LastSeenAt), DeletedAt: utcPtr(a.DeletedAt), CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC(),
	}
	if len(out.Metadata) == 0 {
		out.Metadata = json.RawMessage(`{}`)
	}
	if a.ParentAgentID != nil {
		out.ParentAgentID = new(string(*a.ParentAgentID))
	}
	return out
}

func boolOf[T ~bool](p *T) bool { return p != nil && bool(*p) }

// CreateAgent creates an agent (201; the secret is shown once).
func (s *Server) CreateAgent(ctx context.Context, req apigen.CreateAgentRequestObject) (apigen.CreateAgentResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	b := req.Body
	in := core.AgentInput{DisplayName: b.DisplayName, Slug: b.Slug, WebhookURL: b.WebhookURL, ParentAgentID: b.ParentAgentID}
	if b.Metadata != nil {
		in.Metadata = *b.Metadata
	}
	created, err := s.deps.Agents.Create(ctx, u, in)
	if err != nil {
		return nil, err
	}
	return apigen.CreateAgent201JSONResponse(agentOut(created.Agent, created.Secret)), nil
}

// ListAgents lists the caller's agents, newest first.
func (s *Server) ListAgents(ctx context.Context, req apigen.ListAgentsRequestObject) (apigen.ListAgentsResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	limit, offset := intOr(req.Params.Limit, 50), intOr(req.Params.Offset, 0)
	agents, total, err := s.deps.Agents.List(ctx, u, req.Params.Status, boolOf(req.Params.IncludeDeleted), limit, offset)
	if err != nil {
		return nil, err
	}
	out := apigen.AgentList{Agents: make([]apigen.Agent, 0, len(agents)), Total: total, Limit: limit, Offset: offset}
	for _, a := range agents {
		out.Agents = append(out.Agents, agentOut(a, nil))
	}
	return apigen.ListAgents200JSONResponse(out), nil
}

// GetAgent returns one of the caller's agents.
func (s *Server) GetAgent(ctx context.Context, req apigen.GetAgentRequestObject) (apigen.GetAgentResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	a, err := s.deps.Agents.ResolveOwned(ctx, u.ID, req.Ref, boolOf(req.Params.IncludeDeleted))
	if err != nil {
		return nil, err
	}
	return apigen.GetAgent200JSONResponse(agentOut(a, nil)), nil
}

// UpdateAgent applies a PATCH (tri-state webhook_url).
func (s *Server) UpdateAgent(ctx context.Context, req apigen.UpdateAgentRequestObject) (apigen.UpdateAgentResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	b := req.Body
	p := core.AgentPatch{DisplayName: b.DisplayName}
	if b.Status != nil {
		p.Status = new(string(*b.Status))
	}
	if b.Metadata != nil {
		p.Metadata = *b.Metadata
	}
	if b.WebhookURL != nil {
		p.SetWebhook = true
		if !bytes.Equal(bytes.TrimSpace(b.WebhookURL), []byte("null")) {
			var url string
			if err := json.Unmarshal(b.WebhookURL, &url); err != nil {
				return nil, core.Body("webhook_url").NotA(core.TypeString).Err()
			}
			p.WebhookURL = &url
		}
	}
	a, err := s.deps.Agents.Update(ctx, u, req.Ref, p)
	if err != nil {
		return nil, err
	}
	return apigen.UpdateAgent200JSONResponse(agentOut(a, nil)), nil
}

// DeleteAgent soft-deletes an agent (204).
func (s *Server) DeleteAgent(ctx context.Context, req apigen.DeleteAgentRequestObject) (apigen.DeleteAgentResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.deps.Agents.Delete(ctx, u, req.Ref); err != nil {
		return nil, err
	}
	return apigen.DeleteAgent204Response{}, nil
}

// GetAgentWebhookSecret reveals the agent's push signing secret.
func (s *Server) GetAgentWebhookSecret(ctx context.Context, req apigen.GetAgentWebhookSecretRequestObject) (apigen.GetAgentWebhookSecretResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	secret, err := s.deps.Agents.WebhookSecret(ctx, u, req.Ref)
	if err != nil {
		return nil, err
	}
	return apigen.GetAgentWebhookSecret200JSONResponse{WebhookSecret: secret}, nil
}

// RegenerateAgentWebhookSecret replaces the agent's secret.
func (s *Server) RegenerateAgentWebhookSecret(ctx context.Context, req apigen.RegenerateAgentWebhookSecretRequestObject) (apigen.RegenerateAgentWebhookSecretResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	secret, err := s.deps.Agents.RegenerateSecret(ctx, u, req.Ref, confirmed((*string)(req.Params.XConfirmDestructive)))
	if err != nil {
		return nil, err
	}
	return apigen.RegenerateAgentWebhookSecret200JSONResponse{WebhookSecret: secret}, nil
}

// GetAgentRoster lists the caller's agents with presence (304 on a
// matching If-None-Match).
func (s *Server) GetAgentRoster(ctx context.Context, req apigen.GetAgentRosterRequestObject) (apigen.GetAgentRosterResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	r, err := s.deps.Agents.Roster(ctx, u)
	if err != nil {
		return nil, err
	}
	etag := r.ETag
	if inm := req.Params.IfNoneMatch; inm != nil && strings.TrimSpace(*inm) == etag {
		return apigen.GetAgentRoster304Response{Headers: apigen.GetAgentRoster304ResponseHeaders{ETag: &etag}}, nil
	}
	out := apigen.Roster{GeneratedAt: r.GeneratedAt.UTC(), Etag: etag, Agents: make([]apigen.RosterAgent, 0, len(r.Agents))}
	for _, p := range r.Agents {
		out.Agents = append(out.Agents, apigen.RosterAgent{
			Name: p.Agent.Slug, Slug: p.Agent.Slug, DisplayName: p.Agent.DisplayName, Description: p.Description,
			Online: p.Online, DerivedStatus: p.DerivedStatus, Status: p.DerivedStatus,
			LastSeenRelative: p.LastSeenRelative, BucketedSeen: p.LastSeenRelative,
			PreferredContact: apigen.RosterAgentPreferredContact(p.PreferredContact), LabeledSessions: []map[string]any{},
		})
	}
	return apigen.GetAgentRoster200JSONResponse{Body: out, Headers: apigen.GetAgentRoster200ResponseHeaders{
		ETag: &etag, CacheControl: new("private, max-age=300"),
	}}, nil
}

// GetAgentPresence returns one agent's presence.
func (s *Server) GetAgentPresence(ctx context.Context, req apigen.GetAgentPresenceRequestObject) (apigen.GetAgentPresenceResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	p, err := s.deps.Agents.Presence(ctx, u, req.Ref)
	if err != nil {
		return nil, err
	}
	return apigen.GetAgentPresence200JSONResponse{
		Slug: p.Agent.Slug, Online: p.Online, DerivedStatus: p.DerivedStatus, Status: p.DerivedStatus,
		BucketedSeen: p.LastSeenRelative, LastSeenRelative: p.LastSeenRelative,
		PreferredContact: apigen.AgentPresencePreferredContact(p.PreferredContact), LabeledSessions: []map[string]any{}, Etag: p.ETag(),
	}, nil
}
