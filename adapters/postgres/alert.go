package postgres

import (
	"context"

	"github.com/cueapi/cueapi/adapters/postgres/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
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
	var created bool
	err := s.tenantTx(ctx, op, pgx.TxOptions{}, a.TenantID, func(tx pgx.Tx, tenant string) error {
		var enc sqlkit.Args
		args := &dbsqlc.AlertInsertUnlessRecentParams{
			ID:           enc.ID("alert id", a.ID),
			UserID:       tenant,
			CueID:        (*string)(a.CueID),
			ExecutionID:  enc.OptionalID("execution id", (*string)(a.ExecutionID)),
			AlertType:    a.Type,
			Severity:     a.Severity,
			Message:      a.Message,
			Metadata:     enc.JSON("metadata", a.Metadata, nil),
			Acknowledged: a.Acknowledged,
			CreatedAt:    a.CreatedAt,
			DedupSince:   p.DedupSince(),
		}
		if enc.Err != nil {
			return dbErr.Op(op, enc.Err)
		}
		url, err := s.q.AlertUserLock(ctx, tx, tenant)
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		if core.HasAlertWebhook(url) {
			args.DeliveryStatus, args.NextDeliveryAt, args.Destination = new(core.AlertDeliveryPending), new(p.Now), core.DestinationOf(*url)
		}
		n, err := s.q.AlertInsertUnlessRecent(ctx, tx, args)
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		created = n > 0
		return nil
	})
	return created, err
}

// AlertList returns a page of the tenant's alerts, newest (created_at)
// first, ties by id descending, filtered by type and created_at >= Since
// when given, and the total matching count (both in one REPEATABLE READ
// transaction). A Limit of 0 or less means no limit.
func (s *Store) AlertList(ctx context.Context, p *core.AlertListParams) ([]*core.Alert, int, error) {
	const op = "alert list"
	maxRows, skipRows := sqlkit.Page[int32](p.Limit, p.Offset)
	page := sqlkit.NewListing[*core.Alert]().Window(p.Limit, p.Offset)
	return page.Of(s.tenantRead(p.TenantID, func(tx dbsqlc.DBTX, tenant string) error {
		return sqlkit.ReadPage(page, dbErr, op, func() ([]*dbsqlc.Alert, error) {
			return s.q.AlertList(ctx, tx, &dbsqlc.AlertListParams{
				UserID: tenant, AlertType: p.Type, Since: p.Since, MaxRows: maxRows, SkipRows: skipRows,
			})
		}, sqlkit.Infallible(alertFromRow), func() (int64, error) {
			return s.q.AlertCount(ctx, tx, &dbsqlc.AlertCountParams{UserID: tenant, AlertType: p.Type, Since: p.Since})
		})
	}))
}

// AlertClaimDeliveries claims up to p.Limit alerts due for delivery in one
// transaction: it locks them fairly across destinations (AlertListDue: at
// most p.RoomFor(d) per destination, round-robin, FOR NO KEY UPDATE SKIP
// LOCKED, so concurrent claimers take disjoint sets) with their tenants'
// alert URL and sealed secret, leases the deliverable ones
// (next_delivery_at = Now + Lease, delivery_attempts + 1), gives up those
// whose tenant has no alert URL any more (delivery_status failed,
// last_delivery_error "alert webhook URL removed") and moves those whose
// tenant's URL has another destination now to it (neither is returned).
// The deliveries come oldest first.
func (s *Store) AlertClaimDeliveries(ctx context.Context, p *core.AlertClaimDeliveriesParams) ([]*core.AlertDelivery, error) {
	const op = "alert claim deliveries"
	out := []*core.AlertDelivery{}
	if p.Limit <= 0 {
		return out, nil
	}
	room := sqlkit.RoomOf(p)
	return sqlkit.Value(&out, s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		out = out[:0]
		rows, err := s.q.AlertListDue(ctx, tx, &dbsqlc.AlertListDueParams{
			Now: p.Now, RoomDestinations: room.Destinations, RoomSizes: room.Sizes, SkipDestinations: room.Skip,
			ScanRows: sqlkit.Clamp[int32](room.ScanRows), PerDestination: sqlkit.Clamp[int32](room.PerDestination), MaxRows: sqlkit.Clamp[int32](p.Limit),
		})
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		due := make([]sqlkit.AlertDue, len(rows))
		for i, row := range rows {
			due[i] = sqlkit.AlertDue{ID: row.Alert.ID, Destination: row.Alert.Destination, URL: row.AlertWebhookURL}
		}
		claimed, orphaned, moved := sqlkit.AlertClaimSplit(due)
		ids := make([]string, 0, len(claimed))
		for _, i := range claimed {
			row := rows[i]
			a := alertFromRow(&row.Alert)
			a.DeliveryAttempts++
			ids = append(ids, a.ID)
			out = append(out, &core.AlertDelivery{Alert: a, URL: *row.AlertWebhookURL, Destination: row.Alert.Destination, SecretSealed: row.AlertSecretSealed})
		}
		if len(orphaned) > 0 {
			err := s.q.AlertFailUndeliverable(ctx, tx, &dbsqlc.AlertFailUndeliverableParams{Ids: orphaned, LastDeliveryError: new(core.AlertURLRemoved)})
			if err != nil {
				return dbErr.Interpret(op+": give up", err)
			}
		}
		for id, dest := range moved {
			if err := s.q.AlertSetDestination(ctx, tx, &dbsqlc.AlertSetDestinationParams{ID: id, Destination: dest}); err != nil {
				return dbErr.Interpret(op+": move", err)
			}
		}
		if len(ids) > 0 {
			err := s.q.AlertClaim(ctx, tx, &dbsqlc.AlertClaimParams{Ids: ids, LeaseUntil: p.LeaseUntil()})
			if err != nil {
				return dbErr.Interpret(op, err)
			}
		}
		return nil
	}))
}

// AlertRecordDeliveries stores a batch of attempt results in one
// transaction, each on an alert still pending under its claim
// (delivery_attempts = Attempt): delivered (delivered_at = Now), given up
// (failed), released (delivery_attempts = Attempt - 1, due at Now) or a
// retry at NextAttempt (at Now when unset, so the alert cannot get stuck).
// next_delivery_at is cleared unless pending; last_delivery_error is set to
// Error when given. applied[i] is false for a result whose claim was lost.
func (s *Store) AlertRecordDeliveries(ctx context.Context, p *core.AlertRecordDeliveriesParams) ([]bool, error) {
	const op = "alert record deliveries"
	var applied []bool
	return sqlkit.Value(&applied, s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var err error
		applied, err = sqlkit.AlertRecord(p, func(r *core.AlertRecordDeliveryParams, id string) (int64, error) {
			status, deliveredAt, next := r.Stored()
			return s.q.AlertRecordDelivery(ctx, tx, &dbsqlc.AlertRecordDeliveryParams{
				ID: id, Attempt: sqlkit.Clamp[int32](r.Attempt), DeliveryAttempts: sqlkit.Clamp[int32](r.Attempts()),
				DeliveryStatus: &status, DeliveredAt: deliveredAt, NextDeliveryAt: next, LastDeliveryError: r.Error,
			})
		})
		return dbErr.Interpret(op, err)
	}))
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
	a.CueID = sqlkit.Named[core.CueID](r.CueID)
	a.ExecutionID = sqlkit.Named[core.ExecutionID](r.ExecutionID)
	return a
}

// AlertAcknowledge marks the tenant's alert acknowledged.
func (s *Store) AlertAcknowledge(ctx context.Context, p *core.AlertAcknowledgeParams) error {
	const op = "alert acknowledge"
	return sqlkit.Do2(dbErr, op, string(p.TenantID), p.ID, func(tenant, id string) error {
		n, err := s.q.AlertAcknowledge(ctx, s.rd, &dbsqlc.AlertAcknowledgeParams{ID: id, UserID: tenant})
		return dbErr.Affected(op, n, err)
	})
}
