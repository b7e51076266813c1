package sqlite

import (
	"context"
	"database/sql"

	"github.com/cueapi/cueapi/adapters/sqlite/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
)

// AlertCreate inserts p.Alert unless the tenant has an alert of the same
// type about the same cue (or, for an alert without a cue, the same
// execution) created after p.Now - p.DedupWindow: one write transaction
// (the write lock makes the check and insert race-free) that reads the
// tenant's alert webhook URL and inserts with INSERT … SELECT … WHERE NOT
// EXISTS. When the tenant has an alert webhook URL the alert is queued
// (delivery_status pending, next_delivery_at = p.Now); otherwise
// delivery_status is NULL. ErrNotFound
// when the tenant does not exist; ErrConflict when the alert id does.
func (s *Store) AlertCreate(ctx context.Context, p *core.AlertCreateParams) (bool, error) {
	const op = "alert create"
	a := p.Alert
	var created bool
	err := s.tenantTx(ctx, op, a.TenantID, func(tx *sql.Tx, tenant string) error {
		var enc sqlkit.Args
		args := &dbsqlc.AlertInsertUnlessRecentParams{
			ID:           enc.ID("alert id", a.ID),
			UserID:       tenant,
			CueID:        (*string)(a.CueID),
			ExecutionID:  enc.OptionalID("execution id", (*string)(a.ExecutionID)),
			AlertType:    a.Type,
			Severity:     a.Severity,
			Message:      a.Message,
			Metadata:     textPtr(enc.JSON("metadata", a.Metadata, nil)),
			Acknowledged: boolArg(a.Acknowledged),
			CreatedAt:    timeArg(a.CreatedAt),
			DedupSince:   timeArg(p.DedupSince()),
		}
		if enc.Err != nil {
			return dbErr.Op(op, enc.Err)
		}
		url, err := s.q.AlertUserLock(ctx, tx, tenant)
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		if core.HasAlertWebhook(url) {
			args.DeliveryStatus, args.NextDeliveryAt, args.Destination = new(core.AlertDeliveryPending), new(timeArg(p.Now)), core.DestinationOf(*url)
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
// when given, and the total matching count (both in one read
// transaction). A Limit of 0 or less means no limit.
func (s *Store) AlertList(ctx context.Context, p *core.AlertListParams) ([]*core.Alert, int, error) {
	const op = "alert list"
	maxRows, skipRows := sqlkit.Page[int64](p.Limit, p.Offset)
	since := timePtrArg(p.Since)
	page := sqlkit.NewListing[*core.Alert]().Window(p.Limit, p.Offset)
	return page.Of(s.tenantReadTx(ctx, op, p.TenantID, func(tx *sql.Tx, tenant string) error {
		return sqlkit.ReadPage(page, dbErr, op, func() ([]*dbsqlc.Alert, error) {
			return s.q.AlertList(ctx, tx, &dbsqlc.AlertListParams{
				UserID: tenant, AlertType: p.Type, Since: since, MaxRows: maxRows, SkipRows: skipRows,
			})
		}, alertFromRow, func() (int64, error) {
			return s.q.AlertCount(ctx, tx, &dbsqlc.AlertCountParams{UserID: tenant, AlertType: p.Type, Since: since})
		})
	}))
}

// AlertClaimDeliveries claims up to p.Limit alerts due for delivery in one
// write transaction (the write lock makes claims exclusive): it reads them
// fairly across destinations (AlertListDue: at most p.RoomFor(d) per
// destination, round-robin) with their tenants' alert URL and sealed
// secret, leases the deliverable ones (next_delivery_at = Now + Lease,
// delivery_attempts + 1), gives up those whose tenant has no alert URL any
// more (delivery_status failed, last_delivery_error "alert webhook URL
// removed") and moves those whose tenant's URL has another destination
// now to it (neither is returned). The deliveries come oldest first.
func (s *Store) AlertClaimDeliveries(ctx context.Context, p *core.AlertClaimDeliveriesParams) ([]*core.AlertDelivery, error) {
	const op = "alert claim deliveries"
	out := []*core.AlertDelivery{}
	if p.Limit <= 0 {
		return out, nil
	}
	room := sqlkit.RoomOf(p)
	return sqlkit.Value(&out, s.inTx(ctx, op, func(tx *sql.Tx) error {
		out = out[:0]
		rows, err := s.q.AlertListDue(ctx, tx, &dbsqlc.AlertListDueParams{
			Now: timeArg(p.Now), Room: room.JSON, Skip: room.SkipJSON, ScanRows: int64(room.ScanRows),
			PerDestination: int64(room.PerDestination), MaxRows: int64(p.Limit),
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
			a, err := alertFromRow(&row.Alert)
			if err != nil {
				return dbErr.Op(op, err)
			}
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
			err := s.q.AlertClaim(ctx, tx, &dbsqlc.AlertClaimParams{Ids: ids, LeaseUntil: timeArg(p.LeaseUntil())})
			if err != nil {
				return dbErr.Interpret(op, err)
			}
		}
		return nil
	}))
}

// AlertRecordDeliveries stores a batch of attempt results in one write
// transaction, each on an alert still pending under its claim
// (delivery_attempts = Attempt): delivered (delivered_at = Now), given up
// (failed), released (delivery_attempts = Attempt - 1, due at Now) or a
// retry at NextAttempt (at Now when unset, so the alert cannot get stuck).
// next_delivery_at is cleared unless pending; last_delivery_error is set to
// Error when given. applied[i] is false for a result whose claim was lost.
func (s *Store) AlertRecordDeliveries(ctx context.Context, p *core.AlertRecordDeliveriesParams) ([]bool, error) {
	const op = "alert record deliveries"
	var applied []bool
	return sqlkit.Value(&applied, s.inTx(ctx, op, func(tx *sql.Tx) error {
		var err error
		applied, err = sqlkit.AlertRecord(p, func(r *core.AlertRecordDeliveryParams, id string) (int64, error) {
			status, deliveredAt, next := r.Stored()
			return s.q.AlertRecordDelivery(ctx, tx, &dbsqlc.AlertRecordDeliveryParams{
				ID: id, Attempt: int64(r.Attempt), DeliveryAttempts: int64(r.Attempts()),
				DeliveryStatus: &status, DeliveredAt: timePtrArg(deliveredAt), NextDeliveryAt: timePtrArg(next), LastDeliveryError: r.Error,
			})
		})
		return dbErr.Interpret(op, err)
	}))
}

func alertFromRow(r *dbsqlc.Alert) (*core.Alert, error) {
	var d decoder
	a := &core.Alert{
		ID:               r.ID,
		TenantID:         core.TenantID(r.UserID),
		Type:             r.AlertType,
		Severity:         r.Severity,
		Message:          r.Message,
		Metadata:         jsonValue(r.Metadata),
		Acknowledged:     r.Acknowledged != 0,
		CreatedAt:        d.time(r.CreatedAt),
		DeliveryStatus:   r.DeliveryStatus,
		DeliveryAttempts: int(r.DeliveryAttempts),
		DeliveredAt:      d.timePtr(r.DeliveredAt),
		LastDeliveryErr:  r.LastDeliveryError,
	}
	if d.Err != nil {
		return nil, d.Err
	}
	a.CueID = sqlkit.Named[core.CueID](r.CueID)
	a.ExecutionID = sqlkit.Named[core.ExecutionID](r.ExecutionID)
	return a, nil
}

// AlertAcknowledge marks the tenant's alert acknowledged.
func (s *Store) AlertAcknowledge(ctx context.Context, p *core.AlertAcknowledgeParams) error {
	const op = "alert acknowledge"
	return sqlkit.Do2(dbErr, op, string(p.TenantID), p.ID, func(tenant, id string) error {
		n, err := s.q.AlertAcknowledge(ctx, s.wdb, &dbsqlc.AlertAcknowledgeParams{ID: id, UserID: tenant})
		return dbErr.Affected(op, n, err)
	})
}
