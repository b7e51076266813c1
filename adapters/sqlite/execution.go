package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cueapi/cueapi/adapters/sqlite/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
)

// executionFilter is the query form of p's filters for tenant (statuses
// as a JSON array, nil when any).
func executionFilter(tenant string, p *core.ExecutionListParams) *dbsqlc.ExecutionCountParams {
	f := &dbsqlc.ExecutionCountParams{
		UserID: tenant, CueID: sqlkit.Text(p.CueID), OutcomeState: p.OutcomeState,
		NoOutcomeState: p.NoOutcomeState, TriggeredBy: p.TriggeredBy, ScheduledOnly: p.ScheduledOnly,
		ResultType: p.ResultType, HasEvidence: p.HasEvidence, WorkerID: p.WorkerID,
	}
	if len(p.Statuses) > 0 {
		b, _ := json.Marshal(p.Statuses) // a []string always encodes
		st := string(b)
		f.Statuses = &st
	}
	return f
}

// ExecutionList returns a page of the tenant's executions, newest
// (created_at) first, ties by id descending, filtered as p says, and the
// total matching count. A Limit of 0 or less means no limit.
func (s *Store) ExecutionList(ctx context.Context, p *core.ExecutionListParams) ([]*core.Execution, int, error) {
	const op = "execution list"
	maxRows, skipRows := sqlkit.Page[int64](p.Limit, p.Offset)
	page := sqlkit.NewListing[*core.Execution]().Window(p.Limit, p.Offset)
	return page.Of(s.tenantReadTx(ctx, op, p.TenantID, func(tx *sql.Tx, tenant string) error {
		f := executionFilter(tenant, p)
		return sqlkit.ReadPage(page, dbErr, op, func() ([]*dbsqlc.Execution, error) {
			return s.q.ExecutionList(ctx, tx, &dbsqlc.ExecutionListParams{
				UserID: f.UserID, CueID: f.CueID, Statuses: f.Statuses, OutcomeState: f.OutcomeState,
				NoOutcomeState: f.NoOutcomeState, TriggeredBy: f.TriggeredBy, ScheduledOnly: f.ScheduledOnly,
				ResultType: f.ResultType, HasEvidence: f.HasEvidence, WorkerID: f.WorkerID,
				MaxRows: maxRows, SkipRows: skipRows,
			})
		}, executionFromRow, func() (int64, error) {
			return s.q.ExecutionCount(ctx, tx, f)
		})
	}))
}

// ExecutionOldestClaimedAt returns the earliest claimed_at among the
// executions p filters (nil when none was claimed).
func (s *Store) ExecutionOldestClaimedAt(ctx context.Context, p *core.ExecutionListParams) (*time.Time, error) {
	const op = "execution oldest claimed_at"
	var oldest *time.Time
	err := s.tenantReadTx(ctx, op, p.TenantID, func(tx *sql.Tx, tenant string) error {
		v, err := s.q.ExecutionOldestClaimedAt(ctx, tx, (*dbsqlc.ExecutionOldestClaimedAtParams)(executionFilter(tenant, p)))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		var d decoder
		oldest = d.timePtr(v)
		return dbErr.Op(op, d.Err)
	})
	return oldest, err
}

// ExecutionCreate inserts p.Execution as given (every field) for a cue of
// its tenant, with the cue's transport and due_at derived from the status
// (see core.Execution.InitialDueAt). It returns the stored row. ErrNotFound when the cue is
// absent or foreign; ErrConflict when (cue, scheduled_for) or the id exists.
func (s *Store) ExecutionCreate(ctx context.Context, p *core.ExecutionCreateParams) (*core.Execution, error) {
	const op = "execution create"
	return sqlkit.Find(dbErr, op, string(p.Execution.TenantID), func(tenant string) (*core.Execution, error) {
		args, err := createArgs(p.Execution, tenant)
		if err != nil {
			return nil, dbErr.Op(op, err)
		}
		var out *core.Execution
		return sqlkit.Value(&out, s.inTx(ctx, op, func(tx *sql.Tx) error {
			row, err := s.q.ExecutionCreate(ctx, tx, args)
			if out, err = sqlkit.Row(dbErr, op, row, err, executionFromRow); err != nil {
				return err
			}
			return s.claimIdempotency(ctx, tx, p.Idempotency, tenant, args.CueID, &args.ID)
		}))
	})
}

// createArgs lays out the fields of an execution inserted as given.
func createArgs(e *core.Execution, tenant string) (*dbsqlc.ExecutionCreateParams, error) {
	id, ok := sqlkit.UUID(string(e.ID))
	if !ok {
		return nil, fmt.Errorf("execution id %q is not a UUID", e.ID)
	}
	artifacts, err := jsonPtrArg(e.Evidence.Artifacts)
	if err != nil {
		return nil, fmt.Errorf("evidence artifacts: %w", err)
	}
	evidenceMeta, err := jsonPtrArg(e.Evidence.Metadata)
	if err != nil {
		return nil, fmt.Errorf("evidence metadata: %w", err)
	}
	args := &dbsqlc.ExecutionCreateParams{
		ID:                      id,
		CueID:                   string(e.CueID),
		UserID:                  tenant,
		ScheduledFor:            timeArg(e.ScheduledFor),
		Status:                  string(e.Status),
		HTTPStatus:              int64Ptr(e.HTTPStatus),
		ResponseBody:            e.ResponseBody,
		Attempts:                int64(e.Attempts),
		NextRetry:               timePtrArg(e.NextRetry),
		DueAt:                   timePtrArg(e.InitialDueAt()),
		ErrorMessage:            e.ErrorMessage,
		StartedAt:               timePtrArg(e.StartedAt),
		DeliveredAt:             timePtrArg(e.DeliveredAt),
		LastAttemptAt:           timePtrArg(e.LastAttemptAt),
		LeaseExpiresAt:          timePtrArg(e.LeaseExpiresAt),
		ClaimedByWorker:         e.ClaimedByWorker,
		ClaimedAt:               timePtrArg(e.ClaimedAt),
		LastHeartbeatAt:         timePtrArg(e.LastHeartbeatAt),
		OutcomeDeadlineAt:       timePtrArg(e.OutcomeDeadlineAt),
		EvidenceExternalID:      e.Evidence.ExternalID,
		EvidenceResultURL:       e.Evidence.ResultURL,
		EvidenceResultRef:       e.Evidence.ResultRef,
		EvidenceResultType:      e.Evidence.ResultType,
		EvidenceSummary:         e.Evidence.Summary,
		EvidenceArtifacts:       artifacts,
		EvidenceMetadata:        evidenceMeta,
		EvidenceValidationState: e.Evidence.ValidationState,
		EvidenceProducedAt:      timePtrArg(e.Evidence.ProducedAt),
		TriggeredBy:             e.TriggeredBy,
		LiveClaimSessionToken:   e.LiveClaimSessionToken,
		LiveClaimedAt:           timePtrArg(e.LiveClaimedAt),
		Destination:             e.Destination,
		CreatedAt:               timeArg(e.CreatedAt),
		UpdatedAt:               timeArg(e.UpdatedAt),
	}
	if args.Payload, err = jsonPtrArg(e.Payload); err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	opts, err := sqlkit.ExecutionOptions(e)
	if err != nil {
		return nil, err
	}
	args.Options = string(opts)
	if e.Outcome != nil {
		meta, err := jsonPtrArg(e.Outcome.Metadata)
		if err != nil {
			return nil, fmt.Errorf("outcome metadata: %w", err)
		}
		args.OutcomeSuccess = new(boolArg(e.Outcome.Success))
		args.OutcomeResult = e.Outcome.Result
		args.OutcomeError = e.Outcome.Error
		args.OutcomeMetadata = meta
		args.OutcomeRecordedAt = new(timeArg(e.Outcome.RecordedAt))
	}
	args.OutcomeState = sqlkit.Text(e.OutcomeState)
	args.ReplayedFrom, err = sqlkit.OptionalUUID("replayed_from", (*string)(e.ReplayedFrom))
	return args, err
}

// ExecutionGet returns one of the tenant's executions. ErrNotFound when
// absent, foreign, or when the id or tenant is not a UUID.
func (s *Store) ExecutionGet(ctx context.Context, p *core.ExecutionGetParams) (*core.Execution, error) {
	const op = "execution get"
	return sqlkit.Find2(dbErr, op, string(p.TenantID), string(p.ID), func(tenant, id string) (*core.Execution, error) {
		row, err := s.q.ExecutionGet(ctx, s.rdb, &dbsqlc.ExecutionGetParams{ID: id, UserID: tenant})
		return sqlkit.Row(dbErr, op, row, err, executionFromRow)
	})
}

// ExecutionCancelUpcoming deletes the tenant's cue's pending,
// scheduler-created executions scheduled after p.Now and takes them off
// fired_count (never below zero), in one write transaction. It returns how
// many it deleted: 0 when the cue is absent or foreign.
func (s *Store) ExecutionCancelUpcoming(ctx context.Context, p *core.ExecutionCancelUpcomingParams) (int, error) {
	const op = "execution cancel upcoming"
	return sqlkit.Scan(string(p.TenantID), 0, func(tenant string) (n int, err error) {
		err = s.inTx(ctx, op, func(tx *sql.Tx) error {
			_, err := s.q.CueGetForUpdate(ctx, tx, &dbsqlc.CueGetForUpdateParams{ID: string(p.CueID), UserID: tenant})
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			if err != nil {
				return dbErr.Interpret(op, err)
			}
			deleted, err := s.cancelUpcoming(ctx, tx, string(p.CueID), tenant, timeArg(p.Now))
			n = int(deleted)
			return dbErr.Interpret(op, err)
		})
		return n, err
	})
}

func executionFromRow(r *dbsqlc.Execution) (*core.Execution, error) {
	var d decoder
	e := &core.Execution{
		ID:                core.ExecutionID(r.ID),
		CueID:             core.CueID(r.CueID),
		TenantID:          core.TenantID(r.UserID),
		ScheduledFor:      d.time(r.ScheduledFor),
		Status:            core.ExecutionStatus(r.Status),
		HTTPStatus:        intPtr(r.HTTPStatus),
		ResponseBody:      r.ResponseBody,
		Attempts:          int(r.Attempts),
		NextRetry:         d.timePtr(r.NextRetry),
		ErrorMessage:      r.ErrorMessage,
		StartedAt:         d.timePtr(r.StartedAt),
		DeliveredAt:       d.timePtr(r.DeliveredAt),
		LastAttemptAt:     d.timePtr(r.LastAttemptAt),
		LeaseExpiresAt:    d.timePtr(r.LeaseExpiresAt),
		ClaimedByWorker:   r.ClaimedByWorker,
		ClaimedAt:         d.timePtr(r.ClaimedAt),
		LastHeartbeatAt:   d.timePtr(r.LastHeartbeatAt),
		OutcomeDeadlineAt: d.timePtr(r.OutcomeDeadlineAt),
		Evidence: core.Evidence{
			ExternalID:      r.EvidenceExternalID,
			ResultURL:       r.EvidenceResultURL,
			ResultRef:       r.EvidenceResultRef,
			ResultType:      r.EvidenceResultType,
			Summary:         r.EvidenceSummary,
			Artifacts:       jsonValue(r.EvidenceArtifacts),
			Metadata:        jsonValue(r.EvidenceMetadata),
			ValidationState: r.EvidenceValidationState,
			ProducedAt:      d.timePtr(r.EvidenceProducedAt),
		},
		TriggeredBy:           r.TriggeredBy,
		CreatedAt:             d.time(r.CreatedAt),
		UpdatedAt:             d.time(r.UpdatedAt),
		LiveClaimSessionToken: r.LiveClaimSessionToken,
		LiveClaimedAt:         d.timePtr(r.LiveClaimedAt),
		Destination:           r.Destination,
	}
	var payload []byte
	if r.Payload != nil {
		payload = []byte(*r.Payload)
	}
	d.ExecutionOptionsOf(e, []byte(r.Options), payload)
	if r.OutcomeRecordedAt != nil {
		e.Outcome = &core.Outcome{
			Success:    r.OutcomeSuccess != nil && *r.OutcomeSuccess != 0,
			Result:     r.OutcomeResult,
			Error:      r.OutcomeError,
			Metadata:   jsonValue(r.OutcomeMetadata),
			RecordedAt: d.time(*r.OutcomeRecordedAt),
		}
	}
	e.OutcomeState = sqlkit.Named[core.OutcomeState](r.OutcomeState)
	e.ReplayedFrom = sqlkit.Named[core.ExecutionID](r.ReplayedFrom)
	if d.Err != nil {
		return nil, d.Err
	}
	return e, nil
}

// cancelUpcoming deletes the cue's scheduler-created executions still
// pending after now and takes them off fired_count, inside tx (the write
// transaction). It returns how many went.
func (s *Store) cancelUpcoming(ctx context.Context, tx *sql.Tx, cueID, userID, now string) (int64, error) {
	n, err := s.q.ExecutionDeleteUpcoming(ctx, tx, &dbsqlc.ExecutionDeleteUpcomingParams{CueID: cueID, UserID: userID, Now: now})
	if err != nil || n == 0 {
		return n, err
	}
	return n, s.q.CueSubtractFired(ctx, tx, &dbsqlc.CueSubtractFiredParams{N: n, Now: now, ID: cueID, UserID: userID})
}

// ExecutionClaimDeliveries claims up to p.Limit due webhook executions in
// one write transaction (the write lock makes claims exclusive: two callers
// never claim the same execution) and reads their cues and the owners'
// sealed webhook secrets. The deliveries are ordered by scheduled time,
// then id. Executions due by p.DueBy are claimed ahead (see the query).
func (s *Store) ExecutionClaimDeliveries(ctx context.Context, p *core.ExecutionClaimDeliveriesParams) ([]*core.Delivery, error) {
	const op = "execution claim deliveries"
	out := []*core.Delivery{}
	if p.Limit <= 0 {
		return out, nil
	}
	room := sqlkit.RoomOf(p)
	return sqlkit.Value(&out, s.inTx(ctx, op, func(tx *sql.Tx) error {
		rows, err := s.q.ExecutionClaimDeliveries(ctx, tx, &dbsqlc.ExecutionClaimDeliveriesParams{
			Now: timeArg(p.Now), DueBy: timeArg(p.DueLimit()), LeaseUntil: timeArg(p.LeaseUntil()), MaxRows: int64(p.Limit),
			PerDestination: int64(room.PerDestination), Room: room.JSON, Skip: room.SkipJSON, ScanRows: int64(room.ScanRows),
		})
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		if len(rows) == 0 {
			return nil
		}
		out, err = s.deliveriesOf(ctx, tx, rows)
		return dbErr.Interpret(op, err)
	}))
}

// ExecutionRecordDeliveries stores p.Results in one write transaction: each
// result updates its execution only while it is still delivering with
// attempts == Attempt; then the applied results' cue effects are applied
// aggregated per cue (run counts summed, last status wins) and their usage
// aggregated per tenant. The per-row statements are prepared once per
// batch. A nil result, or one whose id is not a UUID, is not applied.
func (s *Store) ExecutionRecordDeliveries(ctx context.Context, p *core.ExecutionRecordDeliveriesParams) ([]bool, error) {
	const op = "execution record deliveries"
	applied := make([]bool, len(p.Results))
	if len(p.Results) == 0 {
		return applied, nil
	}
	now := timeArg(p.Now)
	return sqlkit.Value(&applied, s.inTx(ctx, op, func(tx *sql.Tx) error {
		clear(applied)
		db := newStmtCache(tx)
		fx := core.NewRunEffects(p.Now)
		for i, r := range p.Results {
			if r == nil {
				continue
			}
			id, ok := sqlkit.UUID(string(r.ExecutionID))
			if !ok {
				continue
			}
			next, due := r.RetryTimes(p.Now)
			owner, err := s.q.ExecutionRecordDeliveries(ctx, db, &dbsqlc.ExecutionRecordDeliveriesParams{
				ID:                id,
				Attempt:           int64(r.Attempt),
				Status:            string(r.Status),
				Attempts:          int64(r.Attempts),
				HTTPStatus:        int64Ptr(r.HTTPStatus),
				ResponseBody:      r.ResponseBody,
				ErrorMessage:      r.ErrorMessage,
				Now:               now,
				NextRetry:         timePtrArg(next),
				DueAt:             timePtrArg(due),
				OutcomeDeadlineAt: timePtrArg(r.OutcomeDeadlineAt),
			})
			if errors.Is(err, sql.ErrNoRows) {
				continue // no longer this claim's
			}
			if err != nil {
				return dbErr.Interpret(op, err)
			}
			applied[i] = true
			fx.AddResult(core.CueID(owner.CueID), core.TenantID(owner.UserID), r)
		}
		return s.applyRunEffects(ctx, db, op, fx)
	}))
}

// ExecutionQueueStats counts the delivery queue as of p.Now in one
// statement whose counts each scan a partial index: webhook executions
// pending and due, delivering with an expired lease, and retrying or
// retry_ready; worker executions pending.
func (s *Store) ExecutionQueueStats(ctx context.Context, p *core.ExecutionQueueStatsParams) (*core.QueueStats, error) {
	row, err := s.q.ExecutionQueueStats(ctx, s.rdb, timeArg(p.Now))
	if err != nil {
		return nil, dbErr.Interpret("execution queue stats", err)
	}
	return &core.QueueStats{
		PendingWebhooks:     int(row.PendingWebhooks),
		StaleDeliveries:     int(row.StaleDeliveries),
		PendingRetries:      int(row.PendingRetries),
		PendingWorkerClaims: int(row.PendingWorkerClaims),
	}, nil
}

// ExecutionClaimable lists the tenant's worker executions that are pending
// and scheduled by p.Now, oldest scheduled_for first (ties by id), with
// their cues, in one statement over executions_claimable_idx. Task keeps
// only executions whose cue payload's "task" is that string, before the
// limit. A Limit of 0 or less means no limit.
func (s *Store) ExecutionClaimable(ctx context.Context, p *core.ExecutionClaimableParams) ([]*core.Claimable, error) {
	maxRows, _ := sqlkit.Page[int64](p.Limit, 0)
	return sqlkit.Rows(dbErr, "execution claimable", string(p.TenantID), func(tenant string) ([]*dbsqlc.ExecutionClaimableRow, error) {
		return s.q.ExecutionClaimable(ctx, s.rdb, &dbsqlc.ExecutionClaimableParams{
			UserID: tenant, Now: timeArg(p.Now), Task: p.Task, Agent: p.Agent, MaxRows: maxRows,
		})
	}, func(r *dbsqlc.ExecutionClaimableRow) (*core.Claimable, error) {
		c, err := cueFromRow(&r.Cue)
		if err != nil {
			return nil, err
		}
		e, err := executionFromRow(&r.Execution)
		return &core.Claimable{Execution: e, Cue: c}, err
	})
}

// ExecutionClaimWorker claims one worker execution for p.WorkerID in one
// write transaction: it picks the execution by id, or the oldest claimable
// one (optionally of payload task p.Task), then claims it with an UPDATE
// that re-checks it is pending. A first claim with CountUsage adds one
// execution to the tenant's month of p.Now. ErrNotFound when nothing
// matched or the id is not a UUID.
func (s *Store) ExecutionClaimWorker(ctx context.Context, p *core.ExecutionClaimWorkerParams) (*core.Execution, error) {
	const op = "execution claim worker"
	now := timeArg(p.Now)
	var out *core.Execution
	return sqlkit.Value(&out, s.tenantTx(ctx, op, p.TenantID, func(tx *sql.Tx, tenant string) error {
		var id string
		var deadline *int64
		if p.ID != nil {
			row, err := sqlkit.Find(dbErr, op, string(*p.ID), func(id string) (*dbsqlc.ExecutionClaimWorkerPickByIDRow, error) {
				row, err := s.q.ExecutionClaimWorkerPickByID(ctx, tx, &dbsqlc.ExecutionClaimWorkerPickByIDParams{ID: id, UserID: tenant, Now: now})
				return row, dbErr.Interpret(op, err)
			})
			if err != nil {
				return err
			}
			id, deadline = row.ID, row.OutcomeDeadlineSeconds
		} else {
			row, err := s.q.ExecutionClaimWorkerPickNext(ctx, tx, &dbsqlc.ExecutionClaimWorkerPickNextParams{UserID: tenant, Now: now, Task: p.Task})
			if err != nil {
				return dbErr.Interpret(op, err)
			}
			id, deadline = row.ID, row.OutcomeDeadlineSeconds
		}
		deadlineAt := timePtrArg(core.OutcomeDeadline(p.Now, intPtr(deadline)))
		row, err := s.q.ExecutionClaimWorker(ctx, tx, &dbsqlc.ExecutionClaimWorkerParams{
			WorkerID: p.WorkerID, Now: now, LeaseUntil: timeArg(p.LeaseUntil()), OutcomeDeadlineAt: deadlineAt, ID: id,
		})
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		if p.CountsUsage(int(row.Attempts)) {
			fx := core.NewRunEffects(p.Now)
			fx.Add("", core.TenantID(tenant), core.CueEffect{CountUsage: true})
			if err := s.applyRunEffects(ctx, tx, op, fx); err != nil {
				return err
			}
		}
		out, err = executionFromRow(row)
		return dbErr.Op(op, err)
	}))
}

// ExecutionUpdate runs p.Fn on the tenant's execution and a copy of its cue
// in one write transaction (so concurrent calls on one execution run one
// after the other), saves the fields the port lists (due_at derived, see
// core.Execution.SavedDueAt) and applies the returned CueEffect and usage. Fn runs while
// the write connection is held: it must not write through the Store. Fn's
// error aborts and is returned as is. ErrNotFound when the execution is
// absent or foreign, or an id is not a UUID.
func (s *Store) ExecutionUpdate(ctx context.Context, p *core.ExecutionUpdateParams) (*core.Execution, error) {
	const op = "execution update"
	var out *core.Execution
	return sqlkit.Value(&out, s.rowTx(ctx, op, p.TenantID, string(p.ID), func(tx *sql.Tx, tenant, id string) error {
		row, err := s.q.ExecutionGetForUpdate(ctx, tx, &dbsqlc.ExecutionGetForUpdateParams{ID: id, UserID: tenant})
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		cueRow, err := s.q.CueGetForUpdate(ctx, tx, &dbsqlc.CueGetForUpdateParams{ID: row.CueID, UserID: tenant})
		if err != nil {
			return dbErr.Interpret(op+": read cue", err)
		}
		c, err := cueFromRow(cueRow)
		if err != nil {
			return dbErr.Op(op, err)
		}
		e, err := executionFromRow(row)
		if err != nil {
			return dbErr.Op(op, err)
		}
		var d decoder
		current := d.timePtr(row.DueAt)
		if d.Err != nil {
			return dbErr.Op(op, d.Err)
		}
		eff, err := p.Fn(e, c)
		if err != nil {
			return err
		}
		args, err := saveArgs(row.ID, e, current)
		if err != nil {
			return dbErr.Op(op, err)
		}
		saved, err := s.q.ExecutionSave(ctx, tx, args)
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		if out, err = executionFromRow(saved); err != nil {
			return dbErr.Op(op, err)
		}
		if eff == nil {
			return nil
		}
		fx := core.NewRunEffects(eff.Now)
		fx.Add(core.CueID(row.CueID), core.TenantID(tenant), *eff)
		return s.applyRunEffects(ctx, tx, op, fx)
	}))
}

// saveArgs lays out the fields a read-modify-write saves; current is the
// row's due_at.
func saveArgs(id string, e *core.Execution, current *time.Time) (*dbsqlc.ExecutionSaveParams, error) {
	artifacts, err := jsonPtrArg(e.Evidence.Artifacts)
	if err != nil {
		return nil, fmt.Errorf("evidence artifacts: %w", err)
	}
	evidenceMeta, err := jsonPtrArg(e.Evidence.Metadata)
	if err != nil {
		return nil, fmt.Errorf("evidence metadata: %w", err)
	}
	a := &dbsqlc.ExecutionSaveParams{
		ID:                      id,
		Status:                  string(e.Status),
		ErrorMessage:            e.ErrorMessage,
		DeliveredAt:             timePtrArg(e.DeliveredAt),
		LeaseExpiresAt:          timePtrArg(e.LeaseExpiresAt),
		DueAt:                   timePtrArg(e.SavedDueAt(current)),
		ClaimedByWorker:         e.ClaimedByWorker,
		ClaimedAt:               timePtrArg(e.ClaimedAt),
		LastHeartbeatAt:         timePtrArg(e.LastHeartbeatAt),
		OutcomeDeadlineAt:       timePtrArg(e.OutcomeDeadlineAt),
		EvidenceExternalID:      e.Evidence.ExternalID,
		EvidenceResultURL:       e.Evidence.ResultURL,
		EvidenceResultRef:       e.Evidence.ResultRef,
		EvidenceResultType:      e.Evidence.ResultType,
		EvidenceSummary:         e.Evidence.Summary,
		EvidenceArtifacts:       artifacts,
		EvidenceMetadata:        evidenceMeta,
		EvidenceValidationState: e.Evidence.ValidationState,
		EvidenceProducedAt:      timePtrArg(e.Evidence.ProducedAt),
		LiveClaimSessionToken:   e.LiveClaimSessionToken,
		LiveClaimedAt:           timePtrArg(e.LiveClaimedAt),
		UpdatedAt:               timeArg(e.UpdatedAt),
	}
	opts, err := sqlkit.ExecutionOptions(e)
	if err != nil {
		return nil, fmt.Errorf("options: %w", err)
	}
	a.Options = string(opts)
	if e.Outcome != nil {
		meta, err := jsonPtrArg(e.Outcome.Metadata)
		if err != nil {
			return nil, fmt.Errorf("outcome metadata: %w", err)
		}
		a.OutcomeSuccess = new(boolArg(e.Outcome.Success))
		a.OutcomeResult = e.Outcome.Result
		a.OutcomeError = e.Outcome.Error
		a.OutcomeMetadata = meta
		a.OutcomeRecordedAt = new(timeArg(e.Outcome.RecordedAt))
	}
	a.OutcomeState = sqlkit.Text(e.OutcomeState)
	return a, nil
}

// ExecutionSweepWorkerLeases runs the two worker sweep steps in one write
// transaction (so a failure leaves nothing changed and unescalated) and
// returns the executions that became failed, then those that became missed
// (each ordered by scheduled time, then id), with their cues as updated
// and the owners' sealed webhook secrets.
//
// Expired claims: up to p.Limit worker executions delivering with
// lease_expires_at <= p.Now (oldest lease first) go back to pending (claim
// fields, heartbeat and outcome deadline cleared, due_at = p.Now,
// ResetMessage) while the cue's retry policy leaves attempts
// (core.RetryPolicy.AttemptsLeft), else fail (ExhaustedMessage). Unclaimed: up to p.Limit pending worker executions
// with due_at <= p.Now - p.UnclaimedTimeout become missed (MissedMessage).
// For each failed or missed execution the cue gets last_run = p.Now and,
// when active, status failed (a one-time cue's scheduled run) or paused
// with next_run cleared (a recurring cue with on_failure.pause). Each
// update re-checks the state it expects. The per-row statements are
// prepared once per transaction.
func (s *Store) ExecutionSweepWorkerLeases(ctx context.Context, p *core.ExecutionSweepWorkerLeasesParams) ([]*core.Delivery, error) {
	const op = "execution sweep worker leases"
	out := []*core.Delivery{}
	if p.Limit <= 0 {
		return out, nil
	}
	now := timeArg(p.Now)
	cutoff := timeArg(p.UnclaimedCutoff())
	return sqlkit.Value(&out, s.inTx(ctx, op, func(tx *sql.Tx) error {
		out = out[:0]
		db := newStmtCache(tx)
		failed, err := s.sweepStep(ctx, tx, db, op, p.Now, func(fx *core.RunEffects) ([]*dbsqlc.Execution, error) {
			rows, err := s.q.ExecutionListExpiredLeases(ctx, db, &dbsqlc.ExecutionListExpiredLeasesParams{Now: now, MaxRows: int64(p.Limit)})
			if err != nil {
				return nil, err
			}
			var ended []*dbsqlc.Execution
			for _, r := range rows {
				if (core.RetryPolicy{MaxAttempts: int(r.RetryMaxAttempts)}).AttemptsLeft(int(r.Attempts)) {
					_, err := s.q.ExecutionResetLease(ctx, db, &dbsqlc.ExecutionResetLeaseParams{Message: p.ResetMessage, Now: now, ID: r.ID})
					if err != nil && !errors.Is(err, sql.ErrNoRows) {
						return nil, err
					}
					continue
				}
				e, err := s.q.ExecutionFailLease(ctx, db, &dbsqlc.ExecutionFailLeaseParams{Message: p.ExhaustedMessage, Now: now, ID: r.ID})
				if errors.Is(err, sql.ErrNoRows) {
					continue
				}
				if err != nil {
					return nil, err
				}
				fx.AddSwept(core.CueID(e.CueID), core.ScheduleType(r.ScheduleType), r.OnFailurePause != 0, r.TriggeredBy)
				ended = append(ended, e)
			}
			return ended, nil
		})
		if err != nil {
			return err
		}
		missed, err := s.sweepStep(ctx, tx, db, op+": unclaimed", p.Now, func(fx *core.RunEffects) ([]*dbsqlc.Execution, error) {
			rows, err := s.q.ExecutionListUnclaimed(ctx, db, &dbsqlc.ExecutionListUnclaimedParams{Cutoff: cutoff, MaxRows: int64(p.Limit)})
			if err != nil {
				return nil, err
			}
			var ended []*dbsqlc.Execution
			for _, r := range rows {
				e, err := s.q.ExecutionMarkUnclaimedMissed(ctx, db, &dbsqlc.ExecutionMarkUnclaimedMissedParams{
					Message: p.MissedMessage, Now: now, ID: r.ID, Cutoff: cutoff,
				})
				if errors.Is(err, sql.ErrNoRows) {
					continue
				}
				if err != nil {
					return nil, err
				}
				fx.AddSwept(core.CueID(e.CueID), core.ScheduleType(r.ScheduleType), r.OnFailurePause != 0, r.TriggeredBy)
				ended = append(ended, e)
			}
			return ended, nil
		})
		if err != nil {
			return err
		}
		out = append(append(out, failed...), missed...)
		return nil
	}))
}

// sweepStep runs one worker sweep step in tx: step changes the executions
// through db and returns the ones that ended (failed or missed), adding
// their cue effects to fx; the effects are applied and the ended
// executions are returned as deliveries, ordered by scheduled time, then
// id.
func (s *Store) sweepStep(ctx context.Context, tx *sql.Tx, db *stmtCache, op string, now time.Time, step func(fx *core.RunEffects) ([]*dbsqlc.Execution, error)) ([]*core.Delivery, error) {
	fx := core.NewRunEffects(now)
	ended, err := step(fx)
	if err != nil {
		return nil, dbErr.Interpret(op, err)
	}
	if len(ended) == 0 {
		return nil, nil
	}
	if err := s.applyRunEffects(ctx, db, op, fx); err != nil {
		return nil, err
	}
	out, err := s.deliveriesOf(ctx, tx, ended)
	if err != nil {
		return nil, dbErr.Interpret(op, err)
	}
	return out, nil
}

// applyRunEffects stores fx through db: each cue's effect, then each
// tenant's usage, in id order.
func (s *Store) applyRunEffects(ctx context.Context, db dbsqlc.DBTX, op string, fx *core.RunEffects) error {
	now := timeArg(fx.Now)
	for _, e := range fx.Cues() {
		err := s.q.CueRecordDeliveries(ctx, db, &dbsqlc.CueRecordDeliveriesParams{
			ID: string(e.CueID), Runs: int64(e.Runs), SetLastRun: boolArg(e.SetLastRun), NewStatus: sqlkit.Status(e.Status), Now: now,
		})
		if err != nil {
			return dbErr.Interpret(op+": update cue", err)
		}
	}
	month := monthArg(fx.Month)
	for _, u := range fx.Usage() {
		err := s.q.UsageMonthlyAdd(ctx, db, &dbsqlc.UsageMonthlyAddParams{UserID: string(u.TenantID), MonthStart: month, N: int64(u.Executions)})
		if err != nil {
			return dbErr.Interpret(op+": count usage", err)
		}
	}
	return nil
}

// deliveriesOf pairs executions with their cues and the owners' sealed
// webhook secrets, read in tx (see sqlkit.Deliveries).
func (s *Store) deliveriesOf(ctx context.Context, tx *sql.Tx, rows []*dbsqlc.Execution) ([]*core.Delivery, error) {
	execs, err := sqlkit.Convert(rows, executionFromRow)
	if err != nil {
		return nil, err
	}
	return sqlkit.Deliveries(execs, func(ids []string) ([]*dbsqlc.CueListForDeliveryRow, error) {
		return s.q.CueListForDelivery(ctx, tx, ids)
	}, cueSecretFromRow)
}

// ExecutionSweepOutcomeDeadlines times out up to p.Limit executions whose
// outcome deadline passed by p.Now without an outcome (oldest deadline
// first) in one write transaction: status outcome_timeout, outcome
// deadline, lease and due_at cleared. It returns them (ordered by scheduled
// time, then id) with their cues and the owners' sealed webhook secrets.
func (s *Store) ExecutionSweepOutcomeDeadlines(ctx context.Context, p *core.ExecutionSweepOutcomeDeadlinesParams) ([]*core.Delivery, error) {
	const op = "execution sweep outcome deadlines"
	out := []*core.Delivery{}
	if p.Limit <= 0 {
		return out, nil
	}
	return sqlkit.Value(&out, s.inTx(ctx, op, func(tx *sql.Tx) error {
		rows, err := s.q.ExecutionExpireOutcomeDeadlines(ctx, tx, &dbsqlc.ExecutionExpireOutcomeDeadlinesParams{
			Now: timeArg(p.Now), MaxRows: int64(p.Limit),
		})
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		if len(rows) == 0 {
			out = []*core.Delivery{}
			return nil
		}
		out, err = s.deliveriesOf(ctx, tx, rows)
		return dbErr.Interpret(op, err)
	}))
}

// ExecutionRecentFinished returns the tenant's cue's latest executions
// whose status is success, failed, missed or outcome_timeout, newest
// created_at first (ties by id descending), at most p.Limit (0 or less: no
// limit); empty for a tenant that is not a UUID.
func (s *Store) ExecutionRecentFinished(ctx context.Context, p *core.ExecutionRecentFinishedParams) ([]*core.Execution, error) {
	maxRows, _ := sqlkit.Page[int64](p.Limit, 0)
	return sqlkit.Rows(dbErr, "execution recent finished", string(p.TenantID), func(tenant string) ([]*dbsqlc.Execution, error) {
		return s.q.ExecutionRecentFinished(ctx, s.rdb, &dbsqlc.ExecutionRecentFinishedParams{
			CueID: string(p.CueID), UserID: tenant, MaxRows: maxRows,
		})
	}, executionFromRow)
}
