package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cueapi/cueapi/adapters/internal/sqlkit"
	"github.com/cueapi/cueapi/adapters/sqlite/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
)

// ExecutionList returns a page of the tenant's executions, newest
// (created_at) first, ties by id descending, filtered by cue, status and
// outcome state when given, and the total matching count. A Limit of 0 or
// less means no limit.
func (s *Store) ExecutionList(ctx context.Context, p *core.ExecutionListParams) ([]*core.Execution, int, error) {
	const op = "execution list"
	execs := []*core.Execution{}
	tenant, ok := sqlkit.UUID(string(p.TenantID))
	if !ok {
		return execs, 0, nil
	}
	var cueID *string
	if p.CueID != nil {
		id := string(*p.CueID)
		cueID = &id
	}
	maxRows, skipRows := sqlkit.Page[int64](p.Limit, p.Offset)
	var total int64
	err := s.inReadTx(ctx, op, func(tx *sql.Tx) error {
		rows, err := s.q.ExecutionList(ctx, tx, &dbsqlc.ExecutionListParams{
			UserID: tenant, CueID: cueID, Status: p.Status, OutcomeState: p.OutcomeState,
			MaxRows: maxRows, SkipRows: skipRows,
		})
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		for _, row := range rows {
			e, err := executionFromRow(row)
			if err != nil {
				return dbErr.Op(op, err)
			}
			execs = append(execs, e)
		}
		total, err = s.q.ExecutionCount(ctx, tx, &dbsqlc.ExecutionCountParams{
			UserID: tenant, CueID: cueID, Status: p.Status, OutcomeState: p.OutcomeState,
		})
		return dbErr.Interpret(op, err)
	})
	if err != nil {
		return nil, 0, err
	}
	return execs, int(total), nil
}

// ExecutionCreate inserts p.Execution as given (every field) for a cue of
// its tenant, with the cue's transport and due_at derived from the status
// (see core.Execution.InitialDueAt). It returns the stored row. ErrNotFound when the cue is
// absent or foreign; ErrConflict when (cue, scheduled_for) or the id exists.
func (s *Store) ExecutionCreate(ctx context.Context, p *core.ExecutionCreateParams) (*core.Execution, error) {
	const op = "execution create"
	e := p.Execution
	tenant, ok := sqlkit.UUID(string(e.TenantID))
	if !ok {
		return nil, dbErr.Op(op, core.ErrNotFound)
	}
	id, ok := sqlkit.UUID(string(e.ID))
	if !ok {
		return nil, dbErr.Op(op, fmt.Errorf("execution id %q is not a UUID", e.ID))
	}
	artifacts, err := jsonPtrArg(e.Evidence.Artifacts)
	if err != nil {
		return nil, dbErr.Op(op, fmt.Errorf("evidence artifacts: %w", err))
	}
	evidenceMeta, err := jsonPtrArg(e.Evidence.Metadata)
	if err != nil {
		return nil, dbErr.Op(op, fmt.Errorf("evidence metadata: %w", err))
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
		CreatedAt:               timeArg(e.CreatedAt),
		UpdatedAt:               timeArg(e.UpdatedAt),
	}
	if e.Outcome != nil {
		meta, err := jsonPtrArg(e.Outcome.Metadata)
		if err != nil {
			return nil, dbErr.Op(op, fmt.Errorf("outcome metadata: %w", err))
		}
		args.OutcomeSuccess = new(boolArg(e.Outcome.Success))
		args.OutcomeResult = e.Outcome.Result
		args.OutcomeError = e.Outcome.Error
		args.OutcomeMetadata = meta
		args.OutcomeRecordedAt = new(timeArg(e.Outcome.RecordedAt))
	}
	if e.OutcomeState != nil {
		args.OutcomeState = new(string(*e.OutcomeState))
	}
	if args.ReplayedFrom, err = sqlkit.OptionalUUID("replayed_from", (*string)(e.ReplayedFrom)); err != nil {
		return nil, dbErr.Op(op, err)
	}
	row, err := s.q.ExecutionCreate(ctx, s.wdb, args)
	return sqlkit.Row(dbErr, op, row, err, executionFromRow)
}

// ExecutionGet returns one of the tenant's executions. ErrNotFound when
// absent, foreign, or when the id or tenant is not a UUID.
func (s *Store) ExecutionGet(ctx context.Context, p *core.ExecutionGetParams) (*core.Execution, error) {
	const op = "execution get"
	tenant, ok := sqlkit.UUID(string(p.TenantID))
	if !ok {
		return nil, dbErr.Op(op, core.ErrNotFound)
	}
	id, ok := sqlkit.UUID(string(p.ID))
	if !ok {
		return nil, dbErr.Op(op, core.ErrNotFound)
	}
	row, err := s.q.ExecutionGet(ctx, s.rdb, &dbsqlc.ExecutionGetParams{ID: id, UserID: tenant})
	return sqlkit.Row(dbErr, op, row, err, executionFromRow)
}

// ExecutionCancelUpcoming deletes the tenant's cue's pending,
// scheduler-created executions scheduled after p.Now and takes them off
// fired_count (never below zero), in one write transaction. It returns how
// many it deleted: 0 when the cue is absent or foreign.
func (s *Store) ExecutionCancelUpcoming(ctx context.Context, p *core.ExecutionCancelUpcomingParams) (int, error) {
	const op = "execution cancel upcoming"
	tenant, ok := sqlkit.UUID(string(p.TenantID))
	if !ok {
		return 0, nil
	}
	var n int64
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
		_, err := s.q.CueGetForUpdate(ctx, tx, &dbsqlc.CueGetForUpdateParams{ID: string(p.CueID), UserID: tenant})
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		n, err = s.cancelUpcoming(ctx, tx, string(p.CueID), tenant, timeArg(p.Now))
		return dbErr.Interpret(op, err)
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
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
		TriggeredBy: r.TriggeredBy,
		CreatedAt:   d.time(r.CreatedAt),
		UpdatedAt:   d.time(r.UpdatedAt),
	}
	if r.OutcomeRecordedAt != nil {
		e.Outcome = &core.Outcome{
			Success:    r.OutcomeSuccess != nil && *r.OutcomeSuccess != 0,
			Result:     r.OutcomeResult,
			Error:      r.OutcomeError,
			Metadata:   jsonValue(r.OutcomeMetadata),
			RecordedAt: d.time(*r.OutcomeRecordedAt),
		}
	}
	if r.OutcomeState != nil {
		st := core.OutcomeState(*r.OutcomeState)
		e.OutcomeState = &st
	}
	if r.ReplayedFrom != nil {
		id := core.ExecutionID(*r.ReplayedFrom)
		e.ReplayedFrom = &id
	}
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
// then id.
func (s *Store) ExecutionClaimDeliveries(ctx context.Context, p *core.ExecutionClaimDeliveriesParams) ([]*core.Delivery, error) {
	const op = "execution claim deliveries"
	out := []*core.Delivery{}
	if p.Limit <= 0 {
		return out, nil
	}
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
		rows, err := s.q.ExecutionClaimDeliveries(ctx, tx, &dbsqlc.ExecutionClaimDeliveriesParams{
			Now: timeArg(p.Now), LeaseUntil: timeArg(p.LeaseUntil()), MaxRows: int64(p.Limit),
		})
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		if len(rows) == 0 {
			return nil
		}
		out, err = s.deliveriesOf(ctx, tx, rows)
		return dbErr.Interpret(op, err)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
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
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
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
	})
	if err != nil {
		return nil, err
	}
	return applied, nil
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
	const op = "execution claimable"
	out := []*core.Claimable{}
	tenant, ok := sqlkit.UUID(string(p.TenantID))
	if !ok {
		return out, nil
	}
	maxRows, _ := sqlkit.Page[int64](p.Limit, 0)
	rows, err := s.q.ExecutionClaimable(ctx, s.rdb, &dbsqlc.ExecutionClaimableParams{
		UserID: tenant, Now: timeArg(p.Now), Task: p.Task, MaxRows: maxRows,
	})
	if err != nil {
		return nil, dbErr.Interpret(op, err)
	}
	for _, r := range rows {
		c, err := cueFromRow(&r.Cue)
		if err != nil {
			return nil, dbErr.Op(op, err)
		}
		e, err := executionFromRow(&r.Execution)
		if err != nil {
			return nil, dbErr.Op(op, err)
		}
		out = append(out, &core.Claimable{Execution: e, Cue: c})
	}
	return out, nil
}

// ExecutionClaimWorker claims one worker execution for p.WorkerID in one
// write transaction: it picks the execution by id, or the oldest claimable
// one (optionally of payload task p.Task), then claims it with an UPDATE
// that re-checks it is pending. A first claim with CountUsage adds one
// execution to the tenant's month of p.Now. ErrNotFound when nothing
// matched or the id is not a UUID.
func (s *Store) ExecutionClaimWorker(ctx context.Context, p *core.ExecutionClaimWorkerParams) (*core.Execution, error) {
	const op = "execution claim worker"
	tenant, ok := sqlkit.UUID(string(p.TenantID))
	if !ok {
		return nil, dbErr.Op(op, core.ErrNotFound)
	}
	var id string
	if p.ID != nil {
		if id, ok = sqlkit.UUID(string(*p.ID)); !ok {
			return nil, dbErr.Op(op, core.ErrNotFound)
		}
	}
	now := timeArg(p.Now)
	var out *core.Execution
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
		var deadline *int64
		if p.ID != nil {
			row, err := s.q.ExecutionClaimWorkerPickByID(ctx, tx, &dbsqlc.ExecutionClaimWorkerPickByIDParams{ID: id, UserID: tenant, Now: now})
			if err != nil {
				return dbErr.Interpret(op, err)
			}
			deadline = row.OutcomeDeadlineSeconds
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
	})
	if err != nil {
		return nil, err
	}
	return out, nil
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
	tenant, ok := sqlkit.UUID(string(p.TenantID))
	if !ok {
		return nil, dbErr.Op(op, core.ErrNotFound)
	}
	id, ok := sqlkit.UUID(string(p.ID))
	if !ok {
		return nil, dbErr.Op(op, core.ErrNotFound)
	}
	var out *core.Execution
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
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
	})
	if err != nil {
		return nil, err
	}
	return out, nil
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
		UpdatedAt:               timeArg(e.UpdatedAt),
	}
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
	if e.OutcomeState != nil {
		a.OutcomeState = new(string(*e.OutcomeState))
	}
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
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
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
	})
	if err != nil {
		return nil, err
	}
	return out, nil
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
	execs := make([]*core.Execution, len(rows))
	for i, r := range rows {
		e, err := executionFromRow(r)
		if err != nil {
			return nil, err
		}
		execs[i] = e
	}
	return sqlkit.Deliveries(execs, func(ids []string) ([]sqlkit.CueSecret, error) {
		cueRows, err := s.q.CueListForDelivery(ctx, tx, ids)
		if err != nil {
			return nil, err
		}
		cues := make([]sqlkit.CueSecret, len(cueRows))
		for i, cr := range cueRows {
			c, err := cueFromRow(&cr.Cue)
			if err != nil {
				return nil, err
			}
			cues[i] = sqlkit.CueSecret{Cue: c, SecretSealed: cr.WebhookSecretSealed}
		}
		return cues, nil
	})
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
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
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
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ExecutionRecentFinished returns the tenant's cue's latest executions
// whose status is success, failed, missed or outcome_timeout, newest
// created_at first (ties by id descending), at most p.Limit (0 or less: no
// limit); empty for a tenant that is not a UUID.
func (s *Store) ExecutionRecentFinished(ctx context.Context, p *core.ExecutionRecentFinishedParams) ([]*core.Execution, error) {
	const op = "execution recent finished"
	execs := []*core.Execution{}
	tenant, ok := sqlkit.UUID(string(p.TenantID))
	if !ok {
		return execs, nil
	}
	maxRows, _ := sqlkit.Page[int64](p.Limit, 0)
	rows, err := s.q.ExecutionRecentFinished(ctx, s.rdb, &dbsqlc.ExecutionRecentFinishedParams{
		CueID: string(p.CueID), UserID: tenant, MaxRows: maxRows,
	})
	if err != nil {
		return nil, dbErr.Interpret(op, err)
	}
	for _, r := range rows {
		e, err := executionFromRow(r)
		if err != nil {
			return nil, dbErr.Op(op, err)
		}
		execs = append(execs, e)
	}
	return execs, nil
}
