package sqlkit

import (
	"encoding/json"

	"github.com/cueapi/cueapi/core"
)

// AgentRow mirrors an agents row and AgentInsert's parameters (T: the
// dialect's time type).
type AgentRow[T any] struct {
	ID                  string
	UserID              string
	Slug                string
	DisplayName         string
	WebhookURL          *string
	WebhookSecretSealed *string
	Metadata            string
	Status              string
	ParentAgentID       *string
	LastSeenAt          *T
	DeletedAt           *T
	CreatedAt           T
	UpdatedAt           T
}

// AgentUpdateRow mirrors AgentUpdate's parameters.
type AgentUpdateRow[T any] struct {
	DisplayName         string
	WebhookURL          *string
	WebhookSecretSealed *string
	Metadata            string
	Status              string
	DeletedAt           *T
	UpdatedAt           T
	UserID              string
	ID                  string
}

// AgentOf maps a row to a core.Agent.
func AgentOf[T any](r *AgentRow[T], at Times[T]) (*core.Agent, error) {
	var d Decoder
	a := &core.Agent{
		ID: core.AgentID(r.ID), TenantID: core.TenantID(r.UserID), Slug: r.Slug, DisplayName: r.DisplayName,
		WebhookURL: r.WebhookURL, WebhookSecretSealed: r.WebhookSecretSealed, Metadata: json.RawMessage(r.Metadata),
		Status: r.Status, ParentAgentID: Named[core.AgentID](r.ParentAgentID),
		LastSeenAt: TimePtr(&d, at, r.LastSeenAt), DeletedAt: TimePtr(&d, at, r.DeletedAt),
		CreatedAt: Time(&d, at, r.CreatedAt), UpdatedAt: Time(&d, at, r.UpdatedAt),
	}
	return a, d.Err
}

// AgentInsertOf maps a core.Agent to AgentInsert's parameters.
func AgentInsertOf[T any](a *core.Agent, at Times[T]) *AgentRow[T] {
	return &AgentRow[T]{
		ID: string(a.ID), UserID: string(a.TenantID), Slug: a.Slug, DisplayName: a.DisplayName,
		WebhookURL: a.WebhookURL, WebhookSecretSealed: a.WebhookSecretSealed, Metadata: metadataText(a.Metadata),
		Status: a.Status, ParentAgentID: Text(a.ParentAgentID),
		LastSeenAt: EncodePtr(at, a.LastSeenAt), DeletedAt: EncodePtr(at, a.DeletedAt),
		CreatedAt: at.Encode(a.CreatedAt), UpdatedAt: at.Encode(a.UpdatedAt),
	}
}

// AgentUpdateOf maps the mutable fields of a core.Agent to AgentUpdate's
// parameters.
func AgentUpdateOf[T any](a *core.Agent, at Times[T]) *AgentUpdateRow[T] {
	return &AgentUpdateRow[T]{
		DisplayName: a.DisplayName, WebhookURL: a.WebhookURL, WebhookSecretSealed: a.WebhookSecretSealed,
		Metadata: metadataText(a.Metadata), Status: a.Status, DeletedAt: EncodePtr(at, a.DeletedAt),
		UpdatedAt: at.Encode(a.UpdatedAt), UserID: string(a.TenantID), ID: string(a.ID),
	}
}

// metadataText is the stored form of a JSON object ("{}" when empty).
func metadataText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "{}"
	}
	return string(raw)
}

// AnyTenant is the optional tenant filter of a lookup: nil for "" (any
// tenant), the canonical UUID otherwise; ok is false for a tenant that is
// not a UUID (it owns nothing).
func AnyTenant(t core.TenantID) (id *string, ok bool) {
	if t == "" {
		return nil, true
	}
	u, ok := UUID(string(t))
	return &u, ok
}
