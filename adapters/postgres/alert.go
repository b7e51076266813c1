package postgres

import (
	"context"
	"fmt"

	"github.com/cueapi/cueapi/adapters/internal/sqlkit"
	"github.com/cueapi/cueapi/adapters/postgres/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
	"github.com/jackc/pgx/v5"
)

// AlertCreate inserts p.Alert unless the tenant has an alert of the same
// type about the same cue (or, for an alert without a cue, the same
// execution) created after p.Now - p.DedupWindow. One transaction of two
// statements: it locks the tenant's row (FOR NO KEY UPDATE), so that
// concurrent creates of one tenant serialize and the check is race-free,
// then inserts with INSERT … SELECT … WHERE NOT EXISTS. When the tenant has
// an alert webhook URL the alert is queued (delivery_status pending,
// next_delivery_at = p.Now); otherwise delivery_status is NULL. An empty
//
//	ErrNotFound when the tenant does not exist;
//
// ErrConflict when the alert id does.
func (s *Store) AlertCreate(ctx context.Context, p *core.AlertCreateParams) (bool, error) {
	const op = "alert create"
	a := p.Alert
	tenant, ok := sqlkit.UUID(string(a.TenantID))
	if !ok {
		return false, dbErr.Op(op, core.ErrNotFound)
	}
	id, ok := sqlkit.UUID(a.ID)
	if !ok {
		return false, dbErr.Op(op, fmt.Errorf("alert id %q is not a UUID", a.ID))
	}
	execID, err := sqlkit.OptionalUUID("execution id", (*string)(a.ExecutionID))
	if err != nil {
		return false, dbErr.Op(op, err)
	}
	meta, err := sqlkit.CompactJSON(a.Metadata, nil)
	if err != nil {
		return false, dbErr.Op(op, fmt.Errorf("metadata: %w", err))
	}
	args := &dbsqlc.AlertInsertUnlessRecentParams{
		ID:           id,
		UserID:       tenant,
		CueID:        (*string)(a.CueID),
		ExecutionID:  execID,
		AlertType:    a.Type,
		Severity:     a.Severity,
		Message:      a.Message,
		Metadata:     meta,
		Acknowledged: a.Acknowledged,
		CreatedAt:    a.CreatedAt,
		DedupSince:   p.DedupSince(),
	}
	var created bool
	err = s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		url, err := s.q.AlertUserLock(ctx, tx, tenant)
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		args.DeliveryStatus, args.NextDeliveryAt = nil, nil
		if core.HasAlertWebhook(url) {
			args.DeliveryStatus, args.NextDeliveryAt = new(core.AlertDeliveryPending), new(p.Now)
		}
		n, err := s.q.AlertInsertUnlessRecent(ctx, tx, args)
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		created = n > 0
		return nil
	})
	if err != nil {
		return false, err
	}
	return created, nil
}

// AlertList returns a page of the tenant's alerts, newest (created_at)
// first, ties by id descending, filtered by type and created_at >= Since
// when given, and the total matching count (both in one REPEATABLE READ
// transaction). A Limit of 0 or less means no limit.
func (s *Store) AlertList(ctx context.Context, p *core.AlertListParams) ([]*core.Alert, int, error) {
	const op = "alert list"
	alerts := []*core.Alert{}
	tenant, ok := sqlkit.UUID(string(p.TenantID))
	if !ok {
		return alerts, 0, nil
	}
	maxRows, skipRows := sqlkit.Page[int32](p.Limit, p.Offset)
	var total int64
	err := s.inTx(ctx, op, readTx, func(tx pgx.Tx) error {
		alerts = alerts[:0]
		rows, err := s.q.AlertList(ctx, tx, &dbsqlc.AlertListParams{
			UserID: tenant, AlertType: p.Type, Since: p.Since, MaxRows: maxRows, SkipRows: skipRows,
		})
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		for _, row := range rows {
			alerts = append(alerts, alertFromRow(row))
		}
		total, err = s.q.AlertCount(ctx, tx, &dbsqlc.AlertCountParams{UserID: tenant, AlertType: p.Type, Since: p.Since})
		return dbErr.Interpret(op, err)
	})
	if err != nil {
		return nil, 0, err
	}
	return alerts, int(total), nil
}

// AlertClaimDeliveries claims up to p.Limit alerts due for delivery in one
// transaction of at most three statements: it locks them (oldest
// next_delivery_at first, FOR NO KEY UPDATE SKIP LOCKED, so concurrent
// claimers take disjoint sets) with their tenants' alert URL and sealed
// secret, leases the deliverable ones (next_delivery_at = Now + Lease,
// delivery_attempts + 1) and gives up those whose tenant has no alert URL
// any more (delivery_status failed, last_delivery_error "alert webhook URL
// removed"; they are not returned). The deliveries come oldest first.
func (s *Store) AlertClaimDeliveries(ctx context.Context, p *core.AlertClaimDeliveriesParams) ([]*core.AlertDelivery, error) {
	const op = "alert claim deliveries"
	out := []*core.AlertDelivery{}
	if p.Limit <= 0 {
		return out, nil
	}
	err := s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		out = out[:0]
		rows, err := s.q.AlertListDue(ctx, tx, &dbsqlc.AlertListDueParams{Now: p.Now, MaxRows: sqlkit.Clamp[int32](p.Limit)})
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		var claimed, orphaned []string
		for _, row := range rows {
			if !core.HasAlertWebhook(row.AlertWebhookURL) {
				orphaned = append(orphaned, row.Alert.ID)
				continue
			}
			claimed = append(claimed, row.Alert.ID)
			a := alertFromRow(&row.Alert)
			a.DeliveryAttempts++
			out = append(out, &core.AlertDelivery{Alert: a, URL: *row.AlertWebhookURL, SecretSealed: row.AlertSecretSealed})
		}
		if len(orphaned) > 0 {
			err := s.q.AlertFailUndeliverable(ctx, tx, &dbsqlc.AlertFailUndeliverableParams{Ids: orphaned, LastDeliveryError: new(core.AlertURLRemoved)})
			if err != nil {
				return dbErr.Interpret(op+": give up", err)
			}
		}
		if len(claimed) > 0 {
			err := s.q.AlertClaim(ctx, tx, &dbsqlc.AlertClaimParams{Ids: claimed, LeaseUntil: p.LeaseUntil()})
			if err != nil {
				return dbErr.Interpret(op, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AlertRecordDelivery stores one attempt's result on an alert still
// pending delivery: delivered (delivered_at = Now), given up (failed), or
// a retry at NextAttempt (at Now when unset, so the alert cannot get
// stuck). next_delivery_at is cleared unless retrying; last_delivery_error
// is set to Error when given. ErrNotFound when the alert is absent or no
// longer pending (another claimer recorded it first).
func (s *Store) AlertRecordDelivery(ctx context.Context, p *core.AlertRecordDeliveryParams) error {
	const op = "alert record delivery"
	id, ok := sqlkit.UUID(p.ID)
	if !ok {
		return dbErr.Op(op, core.ErrNotFound)
	}
	status, deliveredAt, next := p.Stored()
	args := &dbsqlc.AlertRecordDeliveryParams{
		ID: id, DeliveryStatus: &status, DeliveredAt: deliveredAt, NextDeliveryAt: next, LastDeliveryError: p.Error,
	}
	n, err := s.q.AlertRecordDelivery(ctx, s.pool, args)
	if err != nil {
		return dbErr.Interpret(op, err)
	}
	if n == 0 {
		return dbErr.Op(op, core.ErrNotFound)
	}
	return nil
}

func alertFromRow(r *dbsqlc.Alert) *core.Alert {
	a := &core.Alert{
		ID:               r.ID,
		TenantID:         core.TenantID(r.UserID),
		Type:             r.AlertType,
		Severity:         r.Severity,
		Message:          r.Message,
		Metadata:         jsonValue(r.Metadata),
		Acknowledged:     r.Acknowledged,
		CreatedAt:        utc(r.CreatedAt),
		DeliveryStatus:   r.DeliveryStatus,
		DeliveryAttempts: int(r.DeliveryAttempts),
		DeliveredAt:      utcPtr(r.DeliveredAt),
		LastDeliveryErr:  r.LastDeliveryError,
	}
	if r.CueID != nil {
		a.CueID = new(core.CueID(*r.CueID))
	}
	if r.ExecutionID != nil {
		a.ExecutionID = new(core.ExecutionID(*r.ExecutionID))
	}
	return a
}
