package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cueapi/cueapi/adapters/postgres/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
)

// core.AccountingStore: alerts, usage, the echo sink and device-code
// logins.

var _ core.AccountingStore = (*Store)(nil)

// Alert delivery states (alerts.delivery_status).
const (
	alertPending   = "pending"
	alertDelivered = "delivered"
	alertFailed    = "failed"
)

// alertURLRemoved is the last_delivery_error of an alert given up because
// its tenant cleared the alert webhook URL after it was queued.
const alertURLRemoved = "alert webhook URL removed"

// AlertCreate inserts p.Alert unless the tenant has an alert of the same
// type about the same cue (or, for an alert without a cue, the same
// execution) created after p.Now - p.DedupWindow. One transaction of two
// statements: it locks the tenant's row (FOR NO KEY UPDATE), so that
// concurrent creates of one tenant serialize and the check is race-free,
// then inserts with INSERT … SELECT … WHERE NOT EXISTS. When the tenant has
// an alert webhook URL the alert is queued (delivery_status pending,
// next_delivery_at = p.Now); otherwise delivery_status is NULL. An empty
// Severity stores warning. ErrNotFound when the tenant does not exist;
// ErrConflict when the alert id does.
func (s *Store) AlertCreate(ctx context.Context, p *core.AlertCreateParams) (bool, error) {
	const op = "alert create"
	a := p.Alert
	tenant, ok := uuidArg(string(a.TenantID))
	if !ok {
		return false, opError(op, core.ErrNotFound)
	}
	id, ok := uuidArg(a.ID)
	if !ok {
		return false, opError(op, fmt.Errorf("alert id %q is not a UUID", a.ID))
	}
	var cueID, execID *string
	if a.CueID != nil {
		cueID = new(string(*a.CueID))
	}
	if a.ExecutionID != nil {
		e, ok := uuidArg(string(*a.ExecutionID))
		if !ok {
			return false, opError(op, fmt.Errorf("execution id %q is not a UUID", *a.ExecutionID))
		}
		execID = &e
	}
	meta, err := jsonArg(a.Metadata, nil)
	if err != nil {
		return false, opError(op, fmt.Errorf("metadata: %w", err))
	}
	severity := a.Severity
	if severity == "" {
		severity = core.SeverityWarning
	}
	args := &dbsqlc.AlertInsertUnlessRecentParams{
		ID:           id,
		UserID:       tenant,
		CueID:        cueID,
		ExecutionID:  execID,
		AlertType:    a.Type,
		Severity:     severity,
		Message:      a.Message,
		Metadata:     meta,
		Acknowledged: a.Acknowledged,
		CreatedAt:    a.CreatedAt,
		DedupSince:   p.Now.Add(-p.DedupWindow),
	}
	var created bool
	err = s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		url, err := s.q.AlertUserLock(ctx, tx, tenant)
		if err != nil {
			return interpretError(op, err)
		}
		args.DeliveryStatus, args.NextDeliveryAt = nil, nil
		if url != nil && *url != "" {
			args.DeliveryStatus, args.NextDeliveryAt = new(alertPending), new(p.Now)
		}
		n, err := s.q.AlertInsertUnlessRecent(ctx, tx, args)
		if err != nil {
			return interpretError(op, err)
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
	tenant, ok := uuidArg(string(p.TenantID))
	if !ok {
		return alerts, 0, nil
	}
	maxRows, skipRows := pageArgs(p.Limit, p.Offset)
	var total int64
	err := s.inTx(ctx, op, readTx, func(tx pgx.Tx) error {
		alerts = alerts[:0]
		rows, err := s.q.AlertList(ctx, tx, &dbsqlc.AlertListParams{
			UserID: tenant, AlertType: p.Type, Since: p.Since, MaxRows: maxRows, SkipRows: skipRows,
		})
		if err != nil {
			return interpretError(op, err)
		}
		for _, row := range rows {
			alerts = append(alerts, alertFromRow(row))
		}
		total, err = s.q.AlertCount(ctx, tx, &dbsqlc.AlertCountParams{UserID: tenant, AlertType: p.Type, Since: p.Since})
		return interpretError(op, err)
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
		rows, err := s.q.AlertListDue(ctx, tx, &dbsqlc.AlertListDueParams{Now: p.Now, MaxRows: clampInt32(p.Limit)})
		if err != nil {
			return interpretError(op, err)
		}
		var claimed, orphaned []string
		for _, row := range rows {
			if row.AlertWebhookURL == nil || *row.AlertWebhookURL == "" {
				orphaned = append(orphaned, row.Alert.ID)
				continue
			}
			claimed = append(claimed, row.Alert.ID)
			a := alertFromRow(&row.Alert)
			a.DeliveryAttempts++
			out = append(out, &core.AlertDelivery{Alert: a, URL: *row.AlertWebhookURL, SecretSealed: row.AlertSecretSealed})
		}
		if len(orphaned) > 0 {
			err := s.q.AlertFailUndeliverable(ctx, tx, &dbsqlc.AlertFailUndeliverableParams{Ids: orphaned, LastDeliveryError: new(alertURLRemoved)})
			if err != nil {
				return interpretError(op+": give up", err)
			}
		}
		if len(claimed) > 0 {
			err := s.q.AlertClaim(ctx, tx, &dbsqlc.AlertClaimParams{Ids: claimed, LeaseUntil: p.Now.Add(p.Lease)})
			if err != nil {
				return interpretError(op, err)
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
	id, ok := uuidArg(p.ID)
	if !ok {
		return opError(op, core.ErrNotFound)
	}
	args := &dbsqlc.AlertRecordDeliveryParams{ID: id, LastDeliveryError: p.Error}
	switch {
	case p.Delivered:
		args.DeliveryStatus, args.DeliveredAt = new(alertDelivered), new(p.Now)
	case p.GiveUp:
		args.DeliveryStatus = new(alertFailed)
	default:
		args.DeliveryStatus, args.NextDeliveryAt = new(alertPending), new(p.Now)
		if p.NextAttempt != nil {
			args.NextDeliveryAt = new(*p.NextAttempt)
		}
	}
	n, err := s.q.AlertRecordDelivery(ctx, s.pool, args)
	if err != nil {
		return interpretError(op, err)
	}
	if n == 0 {
		return opError(op, core.ErrNotFound)
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

// UsageGet returns the tenant's usage of the UTC month of p.MonthStart:
// zero executions and no grace start when it has no row (never
// ErrNotFound).
func (s *Store) UsageGet(ctx context.Context, p *core.UsageGetParams) (*core.Usage, error) {
	const op = "usage get"
	month := monthStart(p.MonthStart)
	out := &core.Usage{MonthStart: month}
	tenant, ok := uuidArg(string(p.TenantID))
	if !ok {
		return out, nil
	}
	row, err := s.q.UsageGet(ctx, s.pool, &dbsqlc.UsageGetParams{UserID: tenant, MonthStart: month})
	if errors.Is(err, pgx.ErrNoRows) {
		return out, nil
	}
	if err != nil {
		return nil, interpretError(op, err)
	}
	out.Executions = int(row.ExecutionCount)
	out.GraceStartedAt = utcPtr(row.GraceStartedAt)
	return out, nil
}

// UsageStartGrace sets grace_started_at = p.Now on the tenant's row of the
// month (creating it) unless already set, in one upsert, and returns the
// stored value. ErrNotFound when the tenant does not exist.
func (s *Store) UsageStartGrace(ctx context.Context, p *core.UsageStartGraceParams) (time.Time, error) {
	const op = "usage start grace"
	tenant, ok := uuidArg(string(p.TenantID))
	if !ok {
		return time.Time{}, opError(op, core.ErrNotFound)
	}
	at, err := s.q.UsageStartGrace(ctx, s.pool, &dbsqlc.UsageStartGraceParams{UserID: tenant, MonthStart: monthStart(p.MonthStart), Now: new(p.Now)})
	if err != nil {
		return time.Time{}, tenantError(op, err)
	}
	if at == nil { // the upsert never leaves it NULL
		return time.Time{}, opError(op, errors.New("grace_started_at is NULL"))
	}
	return utc(*at), nil
}

// UsageCount adds p.N executions to the tenant's month in one upsert; N 0
// is a no-op. ErrNotFound when the tenant does not exist.
func (s *Store) UsageCount(ctx context.Context, p *core.UsageCountParams) error {
	const op = "usage count"
	tenant, ok := uuidArg(string(p.TenantID))
	if !ok {
		return opError(op, core.ErrNotFound)
	}
	if p.N == 0 {
		return nil
	}
	err := s.q.UsageMonthlyAdd(ctx, s.pool, &dbsqlc.UsageMonthlyAddParams{
		MonthStart: monthStart(p.MonthStart), UserIds: []string{tenant}, Counts: []int32{clampInt32(p.N)},
	})
	return tenantError(op, err)
}

// OutcomeCounts counts the tenant's executions created in [From, To) in
// one statement: with an outcome, of those successful, and failed (a
// failure outcome, or no outcome and status failed or missed).
func (s *Store) OutcomeCounts(ctx context.Context, p *core.OutcomeCountsParams) (*core.OutcomeCounts, error) {
	tenant, ok := uuidArg(string(p.TenantID))
	if !ok {
		return &core.OutcomeCounts{}, nil
	}
	row, err := s.q.OutcomeCounts(ctx, s.pool, &dbsqlc.OutcomeCountsParams{UserID: tenant, CreatedFrom: p.From, CreatedTo: p.To})
	if err != nil {
		return nil, interpretError("outcome counts", err)
	}
	return &core.OutcomeCounts{Reported: int(row.Reported), Succeeded: int(row.Succeeded), Failed: int(row.Failed)}, nil
}

// tenantError is interpretError for writes of a tenant's own rows: a
// foreign key violation means the tenant does not exist (ErrNotFound).
func tenantError(op string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" { // foreign_key_violation
		return fmt.Errorf("postgres: %s: %w (%s)", op, core.ErrNotFound, pgErr.ConstraintName)
	}
	return interpretError(op, err)
}

// EchoPut stores the entry under its token, overwriting any previous one,
// in one upsert. An empty Body stores JSON null; nil Headers store {}.
func (s *Store) EchoPut(ctx context.Context, p *core.EchoEntry) error {
	const op = "echo put"
	body, err := jsonArg(p.Body, []byte("null"))
	if err != nil {
		return opError(op, fmt.Errorf("body: %w", err))
	}
	headers, err := headersArg(p.Headers)
	if err != nil {
		return opError(op, fmt.Errorf("headers: %w", err))
	}
	err = s.q.EchoPut(ctx, s.pool, &dbsqlc.EchoPutParams{
		Token: p.Token, Body: body, Headers: headers, ReceivedAt: p.ReceivedAt, ExpiresAt: p.ExpiresAt,
	})
	return interpretError(op, err)
}

// EchoGet returns the entry of the token if it expires after p.Now.
// ErrNotFound otherwise.
func (s *Store) EchoGet(ctx context.Context, p *core.EchoGetParams) (*core.EchoEntry, error) {
	const op = "echo get"
	row, err := s.q.EchoGet(ctx, s.pool, &dbsqlc.EchoGetParams{Token: p.Token, Now: p.Now})
	if err != nil {
		return nil, interpretError(op, err)
	}
	var headers map[string]string
	if err := json.Unmarshal(row.Headers, &headers); err != nil {
		return nil, opError(op, fmt.Errorf("decode headers: %w", err))
	}
	return &core.EchoEntry{
		Token:      row.Token,
		Body:       jsonValue(row.Body),
		Headers:    headers,
		ReceivedAt: utc(row.ReceivedAt),
		ExpiresAt:  utc(row.ExpiresAt),
	}, nil
}

// DeviceCodeCreate inserts the device code in one transaction of two
// statements: it deletes a row of the same code that may be replaced
// (status expired or claimed, or expires_at <= p.CreatedAt — the creation
// time is "now"), then inserts; a live row left in place makes the insert
// fail on the unique code, so concurrent creates of one code never both
// succeed. ErrConflict when a live row exists (or the id is taken).
func (s *Store) DeviceCodeCreate(ctx context.Context, p *core.DeviceCode) error {
	const op = "device code create"
	id, ok := uuidArg(p.ID)
	if !ok {
		return opError(op, fmt.Errorf("device code id %q is not a UUID", p.ID))
	}
	userID, err := deviceCodeUserArg(p.UserID)
	if err != nil {
		return opError(op, err)
	}
	return s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		err := s.q.DeviceCodeDeleteReplaceable(ctx, tx, &dbsqlc.DeviceCodeDeleteReplaceableParams{DeviceCode: p.Code, Now: p.CreatedAt})
		if err != nil {
			return interpretError(op+": replace", err)
		}
		err = s.q.DeviceCodeInsert(ctx, tx, &dbsqlc.DeviceCodeInsertParams{
			ID:                    id,
			DeviceCode:            p.Code,
			Email:                 p.Email,
			Status:                p.Status,
			APIKeySealed:          p.APIKeySealed,
			VerificationTokenHash: p.VerificationTokenHash,
			SessionTokenHash:      p.SessionTokenHash,
			UserID:                userID,
			ExpiresAt:             p.ExpiresAt,
			CreatedAt:             p.CreatedAt,
		})
		return interpretError(op, err)
	})
}

// DeviceCodeGet returns the row of a code. ErrNotFound when absent.
func (s *Store) DeviceCodeGet(ctx context.Context, p *core.DeviceCodeGetParams) (*core.DeviceCode, error) {
	row, err := s.q.DeviceCodeGet(ctx, s.pool, p.Code)
	if err != nil {
		return nil, interpretError("device code get", err)
	}
	return deviceCodeFromRow(row), nil
}

// DeviceCodeGetBySessionToken returns the row whose session token hash is
// p.Hash. ErrNotFound when none has.
func (s *Store) DeviceCodeGetBySessionToken(ctx context.Context, p *core.DeviceCodeGetBySessionTokenParams) (*core.DeviceCode, error) {
	row, err := s.q.DeviceCodeGetBySessionTokenHash(ctx, s.pool, &p.Hash)
	if err != nil {
		return nil, interpretError("device code get by session token", err)
	}
	return deviceCodeFromRow(row), nil
}

// DeviceCodeUpdate locks the code's row (FOR NO KEY UPDATE), runs p.Fn on
// it and saves the email, status, sealed API key, verification and session
// token hashes and user id that Fn leaves. Fn's error aborts without
// saving and is returned as is. ErrNotFound when absent.
func (s *Store) DeviceCodeUpdate(ctx context.Context, p *core.DeviceCodeUpdateParams) (*core.DeviceCode, error) {
	const op = "device code update"
	var out *core.DeviceCode
	err := s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		row, err := s.q.DeviceCodeGetForUpdate(ctx, tx, p.Code)
		if err != nil {
			return interpretError(op, err)
		}
		d := deviceCodeFromRow(row)
		if err := p.Fn(d); err != nil {
			return err
		}
		userID, err := deviceCodeUserArg(d.UserID)
		if err != nil {
			return opError(op, err)
		}
		row, err = s.q.DeviceCodeUpdate(ctx, tx, &dbsqlc.DeviceCodeUpdateParams{
			ID:                    row.ID,
			Email:                 d.Email,
			Status:                d.Status,
			APIKeySealed:          d.APIKeySealed,
			VerificationTokenHash: d.VerificationTokenHash,
			SessionTokenHash:      d.SessionTokenHash,
			UserID:                userID,
		})
		if err != nil {
			return interpretError(op, err)
		}
		out = deviceCodeFromRow(row)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeviceCodePurge deletes, in one transaction, the device codes that
// expired before p.Before and the echo entries expired at p.Before (both
// by index), and returns how many rows went.
func (s *Store) DeviceCodePurge(ctx context.Context, p *core.DeviceCodePurgeParams) (int, error) {
	const op = "device code purge"
	var n int64
	err := s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		codes, err := s.q.DeviceCodePurge(ctx, tx, p.Before)
		if err != nil {
			return interpretError(op, err)
		}
		echoes, err := s.q.EchoPurge(ctx, tx, p.Before)
		if err != nil {
			return interpretError(op+": echo entries", err)
		}
		n = codes + echoes
		return nil
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// deviceCodeUserArg is the user_id column of a device code.
func deviceCodeUserArg(u *core.TenantID) (*string, error) {
	if u == nil {
		return nil, nil
	}
	id, ok := uuidArg(string(*u))
	if !ok {
		return nil, fmt.Errorf("user id %q is not a UUID", *u)
	}
	return &id, nil
}

func deviceCodeFromRow(r *dbsqlc.DeviceCode) *core.DeviceCode {
	d := &core.DeviceCode{
		ID:                    r.ID,
		Code:                  r.DeviceCode,
		Email:                 r.Email,
		Status:                r.Status,
		APIKeySealed:          r.APIKeySealed,
		VerificationTokenHash: r.VerificationTokenHash,
		SessionTokenHash:      r.SessionTokenHash,
		ExpiresAt:             utc(r.ExpiresAt),
		CreatedAt:             utc(r.CreatedAt),
	}
	if r.UserID != nil {
		d.UserID = new(core.TenantID(*r.UserID))
	}
	return d
}
