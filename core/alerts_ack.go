package core

import (
	"context"
	"errors"
)

// AlertAcknowledgeParams selects one of a tenant's alerts.
type AlertAcknowledgeParams struct {
	TenantID TenantID
	ID       string
}

// ErrAlertNotFound is an absent or foreign alert.
var ErrAlertNotFound = NotFound("alert_not_found", "Alert not found")

// Acknowledge marks one of the caller's alerts as seen (the dashboard's
// acknowledge action); the alert's acknowledged field reports it.
func (a *Alerts) Acknowledge(ctx context.Context, u *User, id string) error {
	err := a.store.AlertAcknowledge(ctx, &AlertAcknowledgeParams{TenantID: u.ID, ID: id})
	if errors.Is(err, ErrNotFound) {
		return ErrAlertNotFound
	}
	return err
}
