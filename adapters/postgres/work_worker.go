package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cueapi/cueapi/adapters/postgres/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
)

// core.WorkerStore: pull workers, claims, execution read-modify-writes and
// the worker sweeps. Lock order, as in the engine methods: a cue before its
// executions, usage rows last. Claims lock only the execution (then the
// usage row); the sweeps lock their cues before their executions and skip
// whatever another transaction holds, so they never wait.

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
	var handlers []byte
	if p.Handlers != nil {
		b, err := json.Marshal(p.Handlers)
		if err != nil {
			return opError(op, err)
		}
		handlers = b
	}
	return interpretError(op, s.q.WorkerHeartbeat(ctx, s.pool, &dbsqlc.WorkerHeartbeatParams{
		UserID: tenant, WorkerID: p.WorkerID, Handlers: handlers, Now: p.Now,
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
	rows, err := s.q.WorkerList(ctx, s.pool, tenant)
	if err != nil {
		return nil, interpretError(op, err)
	}
	for _, r := range rows {
		w := &core.Worker{
			TenantID:      core.TenantID(r.UserID),
			WorkerID:      r.WorkerID,
			LastHeartbeat: utc(r.LastHeartbeat),
			CreatedAt:     utc(r.CreatedAt),
		}
		if r.Handlers != nil {
			if err := json.Unmarshal(r.Handlers, &w.Handlers); err != nil {
				return nil, opError(op, fmt.Errorf("decode handlers: %w", err))
			}
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
	n, err := s.q.WorkerDelete(ctx, s.pool, &dbsqlc.WorkerDeleteParams{UserID: tenant, WorkerID: p.WorkerID})
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
	rows, err := s.q.ExecutionClaimable(ctx, s.pool, &dbsqlc.ExecutionClaimableParams{
		UserID: tenant, Now: p.Now, Task: p.Task, MaxRows: maxRows,
	})
	if err != nil {
		return nil, interpretError(op, err)
	}
	for _, r := range rows {
		c, err := cueFromRow(&r.Cue)
		if err != nil {
			return nil, opError(op, err)
		}
		out = append(out, &core.Claimable{Execution: executionFromRow(&r.Execution), Cue: c})
	}
	return out, nil
}

// ExecutionClaimWorker claims one worker execution for p.WorkerID in one
// conditional UPDATE: by id (waiting for a concurrent claimer, then
// re-checking), or the oldest claimable one, optionally of payload task
// p.Task (skipping rows other claimers hold, so concurrent claimers take
// different executions). A first claim with CountUsage adds one execution
// to the tenant's month of p.Now in the same transaction. ErrNotFound when
// nothing matched or the id is not a UUID.
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
	leaseUntil := p.Now.Add(p.Lease)
	var out *core.Execution
	err := s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var (
			row *dbsqlc.Execution
			err error
		)
		if p.ID != nil {
			row, err = s.q.ExecutionClaimWorkerByID(ctx, tx, &dbsqlc.ExecutionClaimWorkerByIDParams{
				WorkerID: p.WorkerID, Now: p.Now, LeaseUntil: leaseUntil, ID: id, UserID: tenant,
			})
		} else {
			row, err = s.q.ExecutionClaimWorkerNext(ctx, tx, &dbsqlc.ExecutionClaimWorkerNextParams{
				WorkerID: p.WorkerID, Now: p.Now, LeaseUntil: leaseUntil, UserID: tenant, Task: p.Task,
			})
		}
		if err != nil {
			return interpretError(op, err)
		}
		if p.CountUsage && row.Attempts == 1 {
			err := s.q.UsageMonthlyAdd(ctx, tx, &dbsqlc.UsageMonthlyAddParams{
				MonthStart: monthStart(p.Now), UserIds: []string{tenant}, Counts: []int32{1},
			})
			if err != nil {
				return interpretError(op+": count usage", err)
			}
		}
		out = executionFromRow(row)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ExecutionUpdate runs p.Fn on the tenant's execution and a copy of its cue,
// both locked FOR NO KEY UPDATE (the cue first: the order CueFireDue and
// ExecutionRecordDeliveries lock in), so concurrent calls on one execution
// run one after the other. It saves the fields the port lists (due_at
// derived, see savedDueAt) and applies the returned CueEffect and usage in
// the same transaction. Fn's error aborts and is returned as is.
// ErrNotFound when the execution is absent or foreign, or an id is not a
// UUID.
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
	err := s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		cueID, err := s.q.ExecutionCueID(ctx, tx, &dbsqlc.ExecutionCueIDParams{ID: id, UserID: tenant})
		if err != nil {
			return interpretError(op, err)
		}
		cueRow, err := s.q.CueGetForUpdate(ctx, tx, &dbsqlc.CueGetForUpdateParams{ID: cueID, UserID: tenant})
		if err != nil {
			return interpretError(op+": lock cue", err)
		}
		row, err := s.q.ExecutionGetForUpdate(ctx, tx, &dbsqlc.ExecutionGetForUpdateParams{ID: id, UserID: tenant})
		if err != nil {
			return interpretError(op, err)
		}
		c, err := cueFromRow(cueRow)
		if err != nil {
			return opError(op, err)
		}
		e := executionFromRow(row)
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
		out = executionFromRow(saved)
		if eff == nil {
			return nil
		}
		if eff.CountRun || eff.SetLastRun || eff.Status != nil {
			var runs int32
			if eff.CountRun {
				runs = 1
			}
			var status string
			if eff.Status != nil {
				status = string(*eff.Status)
			}
			err := s.q.CueRecordDeliveries(ctx, tx, &dbsqlc.CueRecordDeliveriesParams{
				Now: eff.Now, Ids: []string{cueID}, Runs: []int32{runs}, SetLastRuns: []bool{eff.SetLastRun}, Statuses: []string{status},
			})
			if err != nil {
				return interpretError(op+": update cue", err)
			}
		}
		if eff.CountUsage {
			err := s.q.UsageMonthlyAdd(ctx, tx, &dbsqlc.UsageMonthlyAddParams{
				MonthStart: monthStart(eff.Now), UserIds: []string{tenant}, Counts: []int32{1},
			})
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
func saveArgs(id string, e *core.Execution, current *time.Time) (*dbsqlc.ExecutionSaveParams, error) {
	artifacts, err := jsonArg(e.Evidence.Artifacts, nil)
	if err != nil {
		return nil, fmt.Errorf("evidence artifacts: %w", err)
	}
	evidenceMeta, err := jsonArg(e.Evidence.Metadata, nil)
	if err != nil {
		return nil, fmt.Errorf("evidence metadata: %w", err)
	}
	a := &dbsqlc.ExecutionSaveParams{
		ID:                      id,
		Status:                  string(e.Status),
		ErrorMessage:            e.ErrorMessage,
		DeliveredAt:             e.DeliveredAt,
		LeaseExpiresAt:          e.LeaseExpiresAt,
		DueAt:                   savedDueAt(e, current),
		ClaimedByWorker:         e.ClaimedByWorker,
		ClaimedAt:               e.ClaimedAt,
		LastHeartbeatAt:         e.LastHeartbeatAt,
		OutcomeDeadlineAt:       e.OutcomeDeadlineAt,
		EvidenceExternalID:      e.Evidence.ExternalID,
		EvidenceResultURL:       e.Evidence.ResultURL,
		EvidenceResultRef:       e.Evidence.ResultRef,
		EvidenceResultType:      e.Evidence.ResultType,
		EvidenceSummary:         e.Evidence.Summary,
		EvidenceArtifacts:       artifacts,
		EvidenceMetadata:        evidenceMeta,
		EvidenceValidationState: e.Evidence.ValidationState,
		EvidenceProducedAt:      e.Evidence.ProducedAt,
		UpdatedAt:               e.UpdatedAt,
	}
	if e.Outcome != nil {
		meta, err := jsonArg(e.Outcome.Metadata, nil)
		if err != nil {
			return nil, fmt.Errorf("outcome metadata: %w", err)
		}
		a.OutcomeSuccess = &e.Outcome.Success
		a.OutcomeResult = e.Outcome.Result
		a.OutcomeError = e.Outcome.Error
		a.OutcomeMetadata = meta
		a.OutcomeRecordedAt = &e.Outcome.RecordedAt
	}
	if e.OutcomeState != nil {
		a.OutcomeState = new(string(*e.OutcomeState))
	}
	return a, nil
}

// savedDueAt is the due_at a read-modify-write stores: the lease expiry
// while delivering, the current value while pending, retrying or
// retry_ready, NULL otherwise.
func savedDueAt(e *core.Execution, current *time.Time) *time.Time {
	switch e.Status {
	case core.ExecDelivering:
		return e.LeaseExpiresAt
	case core.ExecPending, core.ExecRetrying, core.ExecRetryReady:
		return current
	}
	return nil
}

// ExecutionSweepWorkerLeases runs the two worker sweep steps in one
// transaction (so a failure leaves nothing changed and unescalated) and
// returns the executions that became failed, then those that became missed
// (each ordered by scheduled time, then id), with their cues as updated
// and the owners' sealed webhook secrets.
//
// Expired claims: it lists up to p.Limit worker executions delivering with
// lease_expires_at <= p.Now (oldest lease first), locks their cues (id
// order, skipping locked ones), then those executions (skipping locked
// ones) and, re-checking each, returns it to pending (claim fields,
// heartbeat and outcome deadline cleared, due_at = p.Now, ResetMessage)
// while attempts < the cue's max attempts, else fails it (ExhaustedMessage).
// Unclaimed: the same for up to p.Limit pending worker executions with
// due_at <= p.Now - p.UnclaimedTimeout, which become missed
// (MissedMessage). For each failed or missed execution the cue gets
// last_run = p.Now and, when active, status failed (a one-time cue's
// scheduled run) or paused with next_run cleared (a recurring cue with
// on_failure.pause). Rows another transaction holds are left to a later
// sweep, so concurrent sweepers never wait for each other (nor deadlock
// with the cue-then-execution lockers).
func (s *Store) ExecutionSweepWorkerLeases(ctx context.Context, p *core.ExecutionSweepWorkerLeasesParams) ([]*core.Delivery, error) {
	const op = "execution sweep worker leases"
	out := []*core.Delivery{}
	if p.Limit <= 0 {
		return out, nil
	}
	maxRows := int32(min(p.Limit, math.MaxInt32))
	cutoff := p.Now.Add(-p.UnclaimedTimeout)
	err := s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		out = out[:0]
		failed, err := s.sweepStep(ctx, tx, op, p.Now,
			func() ([]sweepCandidate, error) {
				rows, err := s.q.ExecutionListExpiredLeases(ctx, tx, &dbsqlc.ExecutionListExpiredLeasesParams{Now: p.Now, MaxRows: maxRows})
				cands := make([]sweepCandidate, len(rows))
				for i, r := range rows {
					cands[i] = sweepCandidate{id: r.ID, cueID: r.CueID}
				}
				return cands, err
			},
			func(ids, cueIDs []string) ([]*dbsqlc.Execution, error) {
				return s.q.ExecutionExpireLeases(ctx, tx, &dbsqlc.ExecutionExpireLeasesParams{
					ResetMessage: p.ResetMessage, ExhaustedMessage: p.ExhaustedMessage, Now: p.Now, Ids: ids, CueIds: cueIDs,
				})
			})
		if err != nil {
			return err
		}
		missed, err := s.sweepStep(ctx, tx, op+": unclaimed", p.Now,
			func() ([]sweepCandidate, error) {
				rows, err := s.q.ExecutionListUnclaimed(ctx, tx, &dbsqlc.ExecutionListUnclaimedParams{Cutoff: cutoff, MaxRows: maxRows})
				cands := make([]sweepCandidate, len(rows))
				for i, r := range rows {
					cands[i] = sweepCandidate{id: r.ID, cueID: r.CueID}
				}
				return cands, err
			},
			func(ids, cueIDs []string) ([]*dbsqlc.Execution, error) {
				return s.q.ExecutionMarkUnclaimedMissed(ctx, tx, &dbsqlc.ExecutionMarkUnclaimedMissedParams{
					MissedMessage: p.MissedMessage, Now: p.Now, Ids: ids, CueIds: cueIDs, Cutoff: cutoff,
				})
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

// sweepCandidate is an execution a sweep may change, read without a lock.
type sweepCandidate struct{ id, cueID string }

// sweepStep runs one worker sweep step in tx: list reads the candidates,
// their cues are locked (id order, skipping locked ones), update changes
// the candidates of the locked cues (skipping locked rows, re-checking
// each) and returns them; the ones that ended (failed or missed) get their
// cue effects and are returned as deliveries, ordered by scheduled time,
// then id.
func (s *Store) sweepStep(ctx context.Context, tx pgx.Tx, op string, now time.Time,
	list func() ([]sweepCandidate, error),
	update func(ids, cueIDs []string) ([]*dbsqlc.Execution, error),
) ([]*core.Delivery, error) {
	cands, err := list()
	if err != nil {
		return nil, interpretError(op, err)
	}
	if len(cands) == 0 {
		return nil, nil
	}
	ids := make([]string, 0, len(cands))
	cueIDs := make([]string, 0, len(cands))
	for _, c := range cands {
		ids = append(ids, c.id)
		cueIDs = append(cueIDs, c.cueID)
	}
	slices.Sort(cueIDs)
	locked, err := s.q.CueLockManySkipLocked(ctx, tx, slices.Compact(cueIDs))
	if err != nil {
		return nil, interpretError(op+": lock cues", err)
	}
	if len(locked) == 0 {
		return nil, nil
	}
	cues := make(map[string]*dbsqlc.CueLockManySkipLockedRow, len(locked))
	lockedIDs := make([]string, 0, len(locked))
	for _, c := range locked {
		cues[c.ID] = c
		lockedIDs = append(lockedIDs, c.ID)
	}
	rows, err := update(ids, lockedIDs)
	if err != nil {
		return nil, interpretError(op, err)
	}
	effects := map[string]string{} // cue id → status effect ("" none)
	var ended []*dbsqlc.Execution
	for _, r := range rows {
		if r.Status == string(core.ExecPending) {
			continue // reset: claimable again
		}
		ended = append(ended, r)
		c := cues[r.CueID]
		if prev, ok := effects[r.CueID]; !ok || prev == "" {
			effects[r.CueID] = sweptCueStatus(c.ScheduleType, c.OnFailurePause, r.TriggeredBy)
		}
	}
	if len(ended) == 0 {
		return nil, nil
	}
	cu := &dbsqlc.CueRecordDeliveriesParams{Now: now}
	for _, id := range lockedIDs { // id order
		st, ok := effects[id]
		if !ok {
			continue
		}
		cu.Ids = append(cu.Ids, id)
		cu.Runs = append(cu.Runs, 0)
		cu.SetLastRuns = append(cu.SetLastRuns, true)
		cu.Statuses = append(cu.Statuses, st)
	}
	if err := s.q.CueRecordDeliveries(ctx, tx, cu); err != nil {
		return nil, interpretError(op+": update cues", err)
	}
	out, err := s.deliveriesOf(ctx, tx, ended)
	if err != nil {
		return nil, interpretError(op, err)
	}
	return out, nil
}

// deliveriesOf pairs executions with their cues and the owners' sealed
// webhook secrets, read in tx, ordered by scheduled time, then id.
func (s *Store) deliveriesOf(ctx context.Context, tx pgx.Tx, rows []*dbsqlc.Execution) ([]*core.Delivery, error) {
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
		if !ok { // the foreign key and the row lock rule it out
			return nil, fmt.Errorf("cue %s of execution %s is missing", r.CueID, r.ID)
		}
		c, err := cueFromRow(&cr.Cue)
		if err != nil {
			return nil, err
		}
		out = append(out, &core.Delivery{Execution: executionFromRow(r), Cue: c, WebhookSecretSealed: cr.WebhookSecretSealed})
	}
	sortDeliveries(out)
	return out, nil
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
// first, skipping rows another transaction holds, re-checking each):
// status outcome_timeout, outcome deadline, lease and due_at cleared. It
// returns them (ordered by scheduled time, then id) with their cues and the
// owners' sealed webhook secrets.
func (s *Store) ExecutionSweepOutcomeDeadlines(ctx context.Context, p *core.ExecutionSweepOutcomeDeadlinesParams) ([]*core.Delivery, error) {
	const op = "execution sweep outcome deadlines"
	out := []*core.Delivery{}
	if p.Limit <= 0 {
		return out, nil
	}
	err := s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		rows, err := s.q.ExecutionExpireOutcomeDeadlines(ctx, tx, &dbsqlc.ExecutionExpireOutcomeDeadlinesParams{
			Now: p.Now, MaxRows: int32(min(p.Limit, math.MaxInt32)),
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
	rows, err := s.q.ExecutionRecentFinished(ctx, s.pool, &dbsqlc.ExecutionRecentFinishedParams{
		CueID: string(p.CueID), UserID: tenant, MaxRows: maxRows,
	})
	if err != nil {
		return nil, interpretError(op, err)
	}
	for _, r := range rows {
		execs = append(execs, executionFromRow(r))
	}
	return execs, nil
}
