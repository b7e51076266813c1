package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cueapi/cueapi/adapters/sqlite/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
)

// core.WorkerStore: pull workers, claims, execution read-modify-writes and
// the worker sweeps. Every write runs in one write transaction (BEGIN
// IMMEDIATE on the single write connection), which makes it exclusive; the
// updates still re-check the state they expect.

var _ core.WorkerStore = (*Store)(nil)

// WorkerHeartbeat upserts the tenant's worker: handlers replaced (nil stores
// NULL), last_heartbeat = p.Now, created_at kept from the first heartbeat.
// ErrNotFound when the tenant is not a UUID.
func (s *Store) WorkerHeartbeat(ctx context.Context, p *core.WorkerHeartbeatParams) error {
	const op = "worker heartbeat"
	tenant, ok := uuidArg(string(p.TenantID))
	if !ok {
		return opError(op, core.ErrNotFound)
	}
	var handlers *string
	if p.Handlers != nil {
		b, err := json.Marshal(p.Handlers)
		if err != nil {
			return opError(op, err)
		}
		handlers = new(string(b))
	}
	return interpretError(op, s.q.WorkerHeartbeat(ctx, s.wdb, &dbsqlc.WorkerHeartbeatParams{
		UserID: tenant, WorkerID: p.WorkerID, Handlers: handlers, Now: timeArg(p.Now),
	}))
}

// WorkerList returns the tenant's workers, most recent heartbeat first (ties
// by worker id); empty for a tenant that is not a UUID.
func (s *Store) WorkerList(ctx context.Context, p *core.WorkerListParams) ([]*core.Worker, error) {
	const op = "worker list"
	workers := []*core.Worker{}
	tenant, ok := uuidArg(string(p.TenantID))
	if !ok {
		return workers, nil
	}
	rows, err := s.q.WorkerList(ctx, s.rdb, tenant)
	if err != nil {
		return nil, interpretError(op, err)
	}
	for _, r := range rows {
		var d decoder
		w := &core.Worker{
			TenantID:      core.TenantID(r.UserID),
			WorkerID:      r.WorkerID,
			LastHeartbeat: d.time(r.LastHeartbeat),
			CreatedAt:     d.time(r.CreatedAt),
		}
		if r.Handlers != nil {
			if err := json.Unmarshal([]byte(*r.Handlers), &w.Handlers); err != nil {
				d.fail(fmt.Errorf("decode handlers: %w", err))
			}
		}
		if d.err != nil {
			return nil, opError(op, d.err)
		}
		workers = append(workers, w)
	}
	return workers, nil
}

// WorkerDelete deletes the tenant's worker. ErrNotFound when absent or
// foreign.
func (s *Store) WorkerDelete(ctx context.Context, p *core.WorkerDeleteParams) error {
	const op = "worker delete"
	tenant, ok := uuidArg(string(p.TenantID))
	if !ok {
		return opError(op, core.ErrNotFound)
	}
	n, err := s.q.WorkerDelete(ctx, s.wdb, &dbsqlc.WorkerDeleteParams{UserID: tenant, WorkerID: p.WorkerID})
	if err != nil {
		return interpretError(op, err)
	}
	if n == 0 {
		return opError(op, core.ErrNotFound)
	}
	return nil
}

// ExecutionClaimable lists the tenant's worker executions that are pending
// and scheduled by p.Now, oldest scheduled_for first (ties by id), with
// their cues, in one statement over executions_claimable_idx. Task keeps
// only executions whose cue payload's "task" is that string, before the
// limit. A Limit of 0 or less means no limit.
func (s *Store) ExecutionClaimable(ctx context.Context, p *core.ExecutionClaimableParams) ([]*core.Claimable, error) {
	const op = "execution claimable"
	out := []*core.Claimable{}
	tenant, ok := uuidArg(string(p.TenantID))
	if !ok {
		return out, nil
	}
	maxRows, _ := pageArgs(p.Limit, 0)
	rows, err := s.q.ExecutionClaimable(ctx, s.rdb, &dbsqlc.ExecutionClaimableParams{
		UserID: tenant, Now: timeArg(p.Now), Task: p.Task, MaxRows: maxRows,
	})
	if err != nil {
		return nil, interpretError(op, err)
	}
	for _, r := range rows {
		c, err := cueFromRow(&r.Cue)
		if err != nil {
			return nil, opError(op, err)
		}
		e, err := executionFromRow(&r.Execution)
		if err != nil {
			return nil, opError(op, err)
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
	tenant, ok := uuidArg(string(p.TenantID))
	if !ok {
		return nil, opError(op, core.ErrNotFound)
	}
	var id string
	if p.ID != nil {
		if id, ok = uuidArg(string(*p.ID)); !ok {
			return nil, opError(op, core.ErrNotFound)
		}
	}
	now := timeArg(p.Now)
	var out *core.Execution
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
		var deadline *int64
		if p.ID != nil {
			row, err := s.q.ExecutionClaimWorkerPickByID(ctx, tx, &dbsqlc.ExecutionClaimWorkerPickByIDParams{ID: id, UserID: tenant, Now: now})
			if err != nil {
				return interpretError(op, err)
			}
			deadline = row.OutcomeDeadlineSeconds
		} else {
			row, err := s.q.ExecutionClaimWorkerPickNext(ctx, tx, &dbsqlc.ExecutionClaimWorkerPickNextParams{UserID: tenant, Now: now, Task: p.Task})
			if err != nil {
				return interpretError(op, err)
			}
			id, deadline = row.ID, row.OutcomeDeadlineSeconds
		}
		var deadlineAt *string
		if deadline != nil {
			deadlineAt = new(timeArg(p.Now.Add(time.Duration(*deadline) * time.Second)))
		}
		row, err := s.q.ExecutionClaimWorker(ctx, tx, &dbsqlc.ExecutionClaimWorkerParams{
			WorkerID: p.WorkerID, Now: now, LeaseUntil: timeArg(p.Now.Add(p.Lease)), OutcomeDeadlineAt: deadlineAt, ID: id,
		})
		if err != nil {
			return interpretError(op, err)
		}
		if p.CountUsage && row.Attempts == 1 {
			err := s.q.UsageMonthlyAdd(ctx, tx, &dbsqlc.UsageMonthlyAddParams{UserID: tenant, MonthStart: monthStart(p.Now), N: 1})
			if err != nil {
				return interpretError(op+": count usage", err)
			}
		}
		out, err = executionFromRow(row)
		return opError(op, err)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ExecutionUpdate runs p.Fn on the tenant's execution and a copy of its cue
// in one write transaction (so concurrent calls on one execution run one
// after the other), saves the fields the port lists (due_at derived, see
// savedDueAt) and applies the returned CueEffect and usage. Fn runs while
// the write connection is held: it must not write through the Store. Fn's
// error aborts and is returned as is. ErrNotFound when the execution is
// absent or foreign, or an id is not a UUID.
func (s *Store) ExecutionUpdate(ctx context.Context, p *core.ExecutionUpdateParams) (*core.Execution, error) {
	const op = "execution update"
	tenant, ok := uuidArg(string(p.TenantID))
	if !ok {
		return nil, opError(op, core.ErrNotFound)
	}
	id, ok := uuidArg(string(p.ID))
	if !ok {
		return nil, opError(op, core.ErrNotFound)
	}
	var out *core.Execution
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
		row, err := s.q.ExecutionGetForUpdate(ctx, tx, &dbsqlc.ExecutionGetForUpdateParams{ID: id, UserID: tenant})
		if err != nil {
			return interpretError(op, err)
		}
		cueRow, err := s.q.CueGetForUpdate(ctx, tx, &dbsqlc.CueGetForUpdateParams{ID: row.CueID, UserID: tenant})
		if err != nil {
			return interpretError(op+": read cue", err)
		}
		c, err := cueFromRow(cueRow)
		if err != nil {
			return opError(op, err)
		}
		e, err := executionFromRow(row)
		if err != nil {
			return opError(op, err)
		}
		eff, err := p.Fn(e, c)
		if err != nil {
			return err
		}
		args, err := saveArgs(row.ID, e, row.DueAt)
		if err != nil {
			return opError(op, err)
		}
		saved, err := s.q.ExecutionSave(ctx, tx, args)
		if err != nil {
			return interpretError(op, err)
		}
		if out, err = executionFromRow(saved); err != nil {
			return opError(op, err)
		}
		if eff == nil {
			return nil
		}
		if eff.CountRun || eff.SetLastRun || eff.Status != nil {
			var runs int64
			if eff.CountRun {
				runs = 1
			}
			var status string
			if eff.Status != nil {
				status = string(*eff.Status)
			}
			err := s.q.CueRecordDeliveries(ctx, tx, &dbsqlc.CueRecordDeliveriesParams{
				ID: row.CueID, Runs: runs, SetLastRun: boolArg(eff.SetLastRun), NewStatus: status, Now: timeArg(eff.Now),
			})
			if err != nil {
				return interpretError(op+": update cue", err)
			}
		}
		if eff.CountUsage {
			err := s.q.UsageMonthlyAdd(ctx, tx, &dbsqlc.UsageMonthlyAddParams{UserID: tenant, MonthStart: monthStart(eff.Now), N: 1})
			if err != nil {
				return interpretError(op+": count usage", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// saveArgs lays out the fields a read-modify-write saves; current is the
// row's due_at.
func saveArgs(id string, e *core.Execution, current *string) (*dbsqlc.ExecutionSaveParams, error) {
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
		DueAt:                   savedDueAt(e, current),
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

// savedDueAt is the due_at a read-modify-write stores: the lease expiry
// while delivering, the current value while pending, retrying or
// retry_ready, NULL otherwise.
func savedDueAt(e *core.Execution, current *string) *string {
	switch e.Status {
	case core.ExecDelivering:
		return timePtrArg(e.LeaseExpiresAt)
	case core.ExecPending, core.ExecRetrying, core.ExecRetryReady:
		return current
	}
	return nil
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
// ResetMessage) while attempts < the cue's max attempts, else fail
// (ExhaustedMessage). Unclaimed: up to p.Limit pending worker executions
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
	cutoff := timeArg(p.Now.Add(-p.UnclaimedTimeout))
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
		out = out[:0]
		db := newStmtCache(tx)
		failed, err := s.sweepStep(ctx, tx, db, op, now, func(fx *sweptEffects) ([]*dbsqlc.Execution, error) {
			rows, err := s.q.ExecutionListExpiredLeases(ctx, db, &dbsqlc.ExecutionListExpiredLeasesParams{Now: now, MaxRows: int64(p.Limit)})
			if err != nil {
				return nil, err
			}
			var ended []*dbsqlc.Execution
			for _, r := range rows {
				if r.Attempts < r.RetryMaxAttempts {
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
				fx.add(e.CueID, sweptCueStatus(r.ScheduleType, r.OnFailurePause != 0, r.TriggeredBy))
				ended = append(ended, e)
			}
			return ended, nil
		})
		if err != nil {
			return err
		}
		missed, err := s.sweepStep(ctx, tx, db, op+": unclaimed", now, func(fx *sweptEffects) ([]*dbsqlc.Execution, error) {
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
				fx.add(e.CueID, sweptCueStatus(r.ScheduleType, r.OnFailurePause != 0, r.TriggeredBy))
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

// sweptEffects aggregates the cue effects of a sweep step: per cue, the
// status to apply ("" none; a status wins over none).
type sweptEffects struct{ cues map[string]string }

func (fx *sweptEffects) add(cueID, status string) {
	if prev, ok := fx.cues[cueID]; !ok || prev == "" {
		fx.cues[cueID] = status
	}
}

// sweepStep runs one worker sweep step in tx: step changes the executions
// through db and returns the ones that ended (failed or missed), recording
// their cue effects; the effects are applied (last_run = now, the status
// only to an active cue) and the ended executions are returned as
// deliveries, ordered by scheduled time, then id.
func (s *Store) sweepStep(ctx context.Context, tx *sql.Tx, db *stmtCache, op, now string, step func(fx *sweptEffects) ([]*dbsqlc.Execution, error)) ([]*core.Delivery, error) {
	fx := &sweptEffects{cues: map[string]string{}}
	ended, err := step(fx)
	if err != nil {
		return nil, interpretError(op, err)
	}
	if len(ended) == 0 {
		return nil, nil
	}
	cueIDs := make([]string, 0, len(fx.cues))
	for id := range fx.cues {
		cueIDs = append(cueIDs, id)
	}
	slices.Sort(cueIDs)
	for _, id := range cueIDs {
		err := s.q.CueRecordDeliveries(ctx, db, &dbsqlc.CueRecordDeliveriesParams{
			ID: id, Runs: 0, SetLastRun: 1, NewStatus: fx.cues[id], Now: now,
		})
		if err != nil {
			return nil, interpretError(op+": update cue", err)
		}
	}
	out, err := s.deliveriesOf(ctx, tx, ended)
	if err != nil {
		return nil, interpretError(op, err)
	}
	return out, nil
}

// deliveriesOf pairs executions with their cues and the owners' sealed
// webhook secrets, read in tx, ordered by scheduled time, then id.
func (s *Store) deliveriesOf(ctx context.Context, tx *sql.Tx, rows []*dbsqlc.Execution) ([]*core.Delivery, error) {
	cueIDs := make([]string, 0, len(rows))
	for _, r := range rows {
		cueIDs = append(cueIDs, r.CueID)
	}
	slices.Sort(cueIDs)
	cueRows, err := s.q.CueListForDelivery(ctx, tx, slices.Compact(cueIDs))
	if err != nil {
		return nil, fmt.Errorf("read cues: %w", err)
	}
	byID := make(map[string]*dbsqlc.CueListForDeliveryRow, len(cueRows))
	for _, cr := range cueRows {
		byID[cr.Cue.ID] = cr
	}
	out := make([]*core.Delivery, 0, len(rows))
	for _, r := range rows {
		cr, ok := byID[r.CueID]
		if !ok { // the foreign key rules it out
			return nil, fmt.Errorf("cue %s of execution %s is missing", r.CueID, r.ID)
		}
		c, err := cueFromRow(&cr.Cue)
		if err != nil {
			return nil, err
		}
		e, err := executionFromRow(r)
		if err != nil {
			return nil, err
		}
		out = append(out, &core.Delivery{Execution: e, Cue: c, WebhookSecretSealed: cr.WebhookSecretSealed})
	}
	sortDeliveries(out)
	return out, nil
}

// sortDeliveries orders deliveries by scheduled time, then id.
func sortDeliveries(ds []*core.Delivery) {
	slices.SortFunc(ds, func(a, b *core.Delivery) int {
		return cmp.Or(a.Execution.ScheduledFor.Compare(b.Execution.ScheduledFor), strings.Compare(string(a.Execution.ID), string(b.Execution.ID)))
	})
}

// sweptCueStatus is the status an execution that failed or was missed
// gives its cue ("" none; applied only to an active cue): failed for a
// one-time cue's scheduled run, paused for a recurring cue with
// on_failure.pause.
func sweptCueStatus(scheduleType string, pause bool, triggeredBy *string) string {
	switch {
	case scheduleType == string(core.ScheduleOnce) && triggeredBy == nil:
		return string(core.CueFailed)
	case scheduleType == string(core.ScheduleRecurring) && pause:
		return string(core.CuePaused)
	}
	return ""
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
			return interpretError(op, err)
		}
		if len(rows) == 0 {
			out = []*core.Delivery{}
			return nil
		}
		out, err = s.deliveriesOf(ctx, tx, rows)
		return interpretError(op, err)
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
	tenant, ok := uuidArg(string(p.TenantID))
	if !ok {
		return execs, nil
	}
	maxRows, _ := pageArgs(p.Limit, 0)
	rows, err := s.q.ExecutionRecentFinished(ctx, s.rdb, &dbsqlc.ExecutionRecentFinishedParams{
		CueID: string(p.CueID), UserID: tenant, MaxRows: maxRows,
	})
	if err != nil {
		return nil, interpretError(op, err)
	}
	for _, r := range rows {
		e, err := executionFromRow(r)
		if err != nil {
			return nil, opError(op, err)
		}
		execs = append(execs, e)
	}
	return execs, nil
}
