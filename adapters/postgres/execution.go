package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cueapi/cueapi/adapters/postgres/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
)

// executionFilter is the query form of p's filters for tenant (statuses
// empty when any).
func executionFilter(tenant string, p *core.ExecutionListParams) *dbsqlc.ExecutionCountParams {
	statuses := p.Statuses
	if statuses == nil {
		statuses = []string{}
	}
	return &dbsqlc.ExecutionCountParams{
		UserID: tenant, CueID: sqlkit.Text(p.CueID), Statuses: statuses, OutcomeState: p.OutcomeState,
		NoOutcomeState: p.NoOutcomeState, TriggeredBy: p.TriggeredBy, ScheduledOnly: p.ScheduledOnly,
		ResultType: p.ResultType, HasEvidence: p.HasEvidence, WorkerID: p.WorkerID,
	}
}

// ExecutionList returns a page of the tenant's executions, newest
// (created_at) first, ties by id descending, filtered as p says, and the
// total matching count. A Limit of 0 or less means no limit.
func (s *Store) ExecutionList(ctx context.Context, p *core.ExecutionListParams) ([]*core.Execution, int, error) {
	const op = "execution list"
	maxRows, skipRows := sqlkit.Page[int32](p.Limit, p.Offset)
	page := sqlkit.NewListing[*core.Execution]().Window(p.Limit, p.Offset)
	return page.Of(s.tenantRead(p.TenantID, func(tx dbsqlc.DBTX, tenant string) error {
		f := executionFilter(tenant, p)
		return sqlkit.ReadPage(page, dbErr, op, func() ([]*dbsqlc.Execution, error) {
			return s.q.ExecutionList(ctx, tx, &dbsqlc.ExecutionListParams{
				UserID: f.UserID, CueID: f.CueID, Statuses: f.Statuses, OutcomeState: f.OutcomeState,
				NoOutcomeState: f.NoOutcomeState, TriggeredBy: f.TriggeredBy, ScheduledOnly: f.ScheduledOnly,
				ResultType: f.ResultType, HasEvidence: f.HasEvidence, WorkerID: f.WorkerID,
				MaxRows: maxRows, SkipRows: skipRows,
			})
		}, sqlkit.Infallible(executionFromRow), func() (int64, error) {
			return s.q.ExecutionCount(ctx, tx, f)
		})
	}))
}

// ExecutionOldestClaimedAt returns the earliest claimed_at among the
// executions p filters (nil when none was claimed).
func (s *Store) ExecutionOldestClaimedAt(ctx context.Context, p *core.ExecutionListParams) (*time.Time, error) {
	const op = "execution oldest claimed_at"
	var oldest *time.Time
	err := s.tenantRead(p.TenantID, func(tx dbsqlc.DBTX, tenant string) error {
		v, err := s.q.ExecutionOldestClaimedAt(ctx, tx, (*dbsqlc.ExecutionOldestClaimedAtParams)(executionFilter(tenant, p)))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		oldest = utcPtr(v)
		return dbErr.Interpret(op, err)
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
		return sqlkit.Value(&out, s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
			row, err := s.q.ExecutionCreate(ctx, tx, args)
			if out, err = sqlkit.Row(dbErr, op, row, err, sqlkit.Infallible(executionFromRow)); err != nil {
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
	artifacts, err := sqlkit.CompactJSON(e.Evidence.Artifacts, nil)
	if err != nil {
		return nil, fmt.Errorf("evidence artifacts: %w", err)
	}
	evidenceMeta, err := sqlkit.CompactJSON(e.Evidence.Metadata, nil)
	if err != nil {
		return nil, fmt.Errorf("evidence metadata: %w", err)
	}
	args := &dbsqlc.ExecutionCreateParams{
		ID:                      id,
		CueID:                   string(e.CueID),
		UserID:                  tenant,
		ScheduledFor:            e.ScheduledFor,
		Status:                  string(e.Status),
		HTTPStatus:              int32Ptr(e.HTTPStatus),
		ResponseBody:            e.ResponseBody,
		Attempts:                int32(e.Attempts),
		NextRetry:               e.NextRetry,
		DueAt:                   e.InitialDueAt(),
		ErrorMessage:            e.ErrorMessage,
		StartedAt:               e.StartedAt,
		DeliveredAt:             e.DeliveredAt,
		LastAttemptAt:           e.LastAttemptAt,
		LeaseExpiresAt:          e.LeaseExpiresAt,
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
		TriggeredBy:             e.TriggeredBy,
		LiveClaimSessionToken:   e.LiveClaimSessionToken,
		LiveClaimedAt:           e.LiveClaimedAt,
		Destination:             e.Destination,
		CreatedAt:               e.CreatedAt,
		UpdatedAt:               e.UpdatedAt,
	}
	if args.Payload, err = sqlkit.CompactJSON(e.Payload, nil); err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	if args.Options, err = sqlkit.ExecutionOptions(e); err != nil {
		return nil, err
	}
	if e.Outcome != nil {
		meta, err := sqlkit.CompactJSON(e.Outcome.Metadata, nil)
		if err != nil {
			return nil, fmt.Errorf("outcome metadata: %w", err)
		}
		args.OutcomeSuccess = &e.Outcome.Success
		args.OutcomeResult = e.Outcome.Result
		args.OutcomeError = e.Outcome.Error
		args.OutcomeMetadata = meta
		args.OutcomeRecordedAt = &e.Outcome.RecordedAt
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
		row, err := s.q.ExecutionGet(ctx, s.rd, &dbsqlc.ExecutionGetParams{ID: id, UserID: tenant})
		return sqlkit.Row(dbErr, op, row, err, sqlkit.Infallible(executionFromRow))
	})
}

// ExecutionCancelUpcoming deletes the tenant's cue's pending,
// scheduler-created executions scheduled after p.Now and takes them off
// fired_count (never below zero), in one transaction that locks the cue
// first (the order CueFireDue locks in). It returns how many it deleted: 0
// when the cue is absent or foreign.
func (s *Store) ExecutionCancelUpcoming(ctx context.Context, p *core.ExecutionCancelUpcomingParams) (int, error) {
	const op = "execution cancel upcoming"
	return sqlkit.Scan(string(p.TenantID), 0, func(tenant string) (n int, err error) {
		err = s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
			_, err := s.q.CueGetForUpdate(ctx, tx, &dbsqlc.CueGetForUpdateParams{ID: string(p.CueID), UserID: tenant})
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			if err != nil {
				return dbErr.Interpret(op, err)
			}
			deleted, err := s.cancelUpcoming(ctx, tx, string(p.CueID), tenant, p.Now)
			n = int(deleted)
			return dbErr.Interpret(op, err)
		})
		return n, err
	})
}

func executionFromRow(r *dbsqlc.Execution) *core.Execution {
	e := &core.Execution{
		ID:                core.ExecutionID(r.ID),
		CueID:             core.CueID(r.CueID),
		TenantID:          core.TenantID(r.UserID),
		ScheduledFor:      utc(r.ScheduledFor),
		Status:            core.ExecutionStatus(r.Status),
		HTTPStatus:        intPtr(r.HTTPStatus),
		ResponseBody:      r.ResponseBody,
		Attempts:          int(r.Attempts),
		NextRetry:         utcPtr(r.NextRetry),
		ErrorMessage:      r.ErrorMessage,
		StartedAt:         utcPtr(r.StartedAt),
		DeliveredAt:       utcPtr(r.DeliveredAt),
		LastAttemptAt:     utcPtr(r.LastAttemptAt),
		LeaseExpiresAt:    utcPtr(r.LeaseExpiresAt),
		ClaimedByWorker:   r.ClaimedByWorker,
		ClaimedAt:         utcPtr(r.ClaimedAt),
		LastHeartbeatAt:   utcPtr(r.LastHeartbeatAt),
		OutcomeDeadlineAt: utcPtr(r.OutcomeDeadlineAt),
		Evidence: core.Evidence{
			ExternalID:      r.EvidenceExternalID,
			ResultURL:       r.EvidenceResultURL,
			ResultRef:       r.EvidenceResultRef,
			ResultType:      r.EvidenceResultType,
			Summary:         r.EvidenceSummary,
			Artifacts:       jsonValue(r.EvidenceArtifacts),
			Metadata:        jsonValue(r.EvidenceMetadata),
			ValidationState: r.EvidenceValidationState,
			ProducedAt:      utcPtr(r.EvidenceProducedAt),
		},
		TriggeredBy:           r.TriggeredBy,
		CreatedAt:             utc(r.CreatedAt),
		UpdatedAt:             utc(r.UpdatedAt),
		LiveClaimSessionToken: r.LiveClaimSessionToken,
		LiveClaimedAt:         utcPtr(r.LiveClaimedAt),
		Destination:           r.Destination,
	}
	// Both columns are jsonb written by ExecutionOptions: they always decode.
	var d sqlkit.Decoder
	d.ExecutionOptionsOf(e, r.Options, r.Payload)
	if r.OutcomeRecordedAt != nil {
		e.Outcome = &core.Outcome{
			Success:    r.OutcomeSuccess != nil && *r.OutcomeSuccess,
			Result:     r.OutcomeResult,
			Error:      r.OutcomeError,
			Metadata:   jsonValue(r.OutcomeMetadata),
			RecordedAt: utc(*r.OutcomeRecordedAt),
		}
	}
	e.OutcomeState = sqlkit.Named[core.OutcomeState](r.OutcomeState)
	e.ReplayedFrom = sqlkit.Named[core.ExecutionID](r.ReplayedFrom)
	return e
}

// cancelUpcoming deletes the cue's scheduler-created executions still
// pending after now and takes them off fired_count, inside tx (the caller
// holds the cue's row lock). It returns how many went.
func (s *Store) cancelUpcoming(ctx context.Context, tx pgx.Tx, cueID, userID string, now time.Time) (int64, error) {
	n, err := s.q.ExecutionDeleteUpcoming(ctx, tx, &dbsqlc.ExecutionDeleteUpcomingParams{CueID: cueID, UserID: userID, Now: now})
	if err != nil || n == 0 {
		return n, err
	}
	return n, s.q.CueSubtractFired(ctx, tx, &dbsqlc.CueSubtractFiredParams{N: int32(n), Now: now, ID: cueID, UserID: userID})
}

// ExecutionClaimDeliveries claims up to p.Limit due webhook executions in
// one transaction of two statements: one UPDATE claims them (its selection
// locks FOR NO KEY UPDATE SKIP LOCKED, so concurrent claimers take disjoint
// sets, and re-checks each row, so a row claimed meanwhile is passed over),
// one SELECT reads their cues and the owners' sealed webhook secrets. The
// deliveries are ordered by scheduled time, then id. Executions due by
// p.DueBy are claimed ahead (see the query).
func (s *Store) ExecutionClaimDeliveries(ctx context.Context, p *core.ExecutionClaimDeliveriesParams) ([]*core.Delivery, error) {
	const op = "execution claim deliveries"
	out := []*core.Delivery{}
	if p.Limit <= 0 {
		return out, nil
	}
	room := sqlkit.RoomOf(p)
	// Pipelined (pipeTx): BEGIN, the commit mode and the claim travel
	// together, then the cues' read with COMMIT.
	return sqlkit.Value(&out, s.inPipeTx(ctx, op, func(tx *pipeTx) error {
		// A claim lost in a crash only means the execution is claimed again
		// (at-least-once either way), so its commit need not wait for the WAL
		// flush; attempt results are recorded with synchronous commits, and
		// their flush covers every earlier claim.
		if err := s.q.TxAsyncCommit(ctx, tx.Hold()); err != nil {
			return dbErr.Interpret(op, err)
		}
		rows, err := s.q.ExecutionClaimDeliveries(ctx, tx, &dbsqlc.ExecutionClaimDeliveriesParams{
			Now: p.Now, DueBy: p.DueLimit(), LeaseUntil: p.LeaseUntil(), MaxRows: sqlkit.Clamp[int32](p.Limit),
			PerDestination: sqlkit.Clamp[int32](room.PerDestination), RoomDestinations: room.Destinations, RoomSizes: room.Sizes,
			SkipDestinations: room.Skip, ScanRows: sqlkit.Clamp[int32](room.ScanRows),
		})
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		if len(rows) == 0 {
			return nil
		}
		tx.CommitWithNext()
		out, err = s.deliveriesOf(ctx, tx, rows)
		return dbErr.Interpret(op, err)
	}))
}

// ExecutionRecordDeliveries stores p.Results in one transaction of at most
// four statements, whatever their number: it locks the results' cues in id
// order (so concurrent batches, schedulers and cancellations, which all lock
// a cue before its executions, never deadlock), updates the executions that
// are still delivering with attempts == Attempt from one unnest(…), then
// applies the applied results' cue effects aggregated per cue (run counts
// summed, last status wins) and their usage aggregated per tenant. A nil
// result, or one whose id is not a UUID, is not applied.
func (s *Store) ExecutionRecordDeliveries(ctx context.Context, p *core.ExecutionRecordDeliveriesParams) ([]bool, error) {
	const op = "execution record deliveries"
	applied := make([]bool, len(p.Results))
	args := recordArgs(p)
	if len(args.Ids) == 0 {
		return applied, nil
	}
	cueIDs := make([]string, 0, len(p.Results))
	for _, r := range p.Results {
		if r != nil {
			cueIDs = append(cueIDs, string(r.CueID))
		}
	}
	slices.Sort(cueIDs)
	cueIDs = slices.Compact(cueIDs)
	// Pipelined (pipeTx): BEGIN, the lock and the update travel together,
	// then the effects with COMMIT.
	return sqlkit.Value(&applied, s.inPipeTx(ctx, op, func(tx *pipeTx) error {
		clear(applied)
		if err := s.q.CueLockMany(ctx, tx.Hold(), cueIDs); err != nil {
			return dbErr.Interpret(op+": lock cues", err)
		}
		rows, err := s.q.ExecutionRecordDeliveries(ctx, tx, args)
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		if len(rows) == 0 {
			return nil
		}
		owners := make([]*dbsqlc.ExecutionRecordDeliveriesRow, len(p.Results))
		for _, row := range rows {
			applied[row.Idx] = true
			owners[row.Idx] = row
		}
		fx := core.NewRunEffects(p.Now)
		for i, r := range p.Results {
			if applied[i] {
				fx.AddResult(core.CueID(owners[i].CueID), core.TenantID(owners[i].UserID), r)
			}
		}
		return s.applyRunEffects(ctx, tx.Hold(), op, fx)
	}))
}

// recordArgs lays the results out as the arrays of the batch update, in
// execution id order (so rows are locked in one order); Idxs maps each back
// to its position in p.Results.
func recordArgs(p *core.ExecutionRecordDeliveriesParams) *dbsqlc.ExecutionRecordDeliveriesParams {
	type item struct {
		idx int
		id  string
	}
	items := make([]item, 0, len(p.Results))
	for i, r := range p.Results {
		if r == nil {
			continue
		}
		if id, ok := sqlkit.UUID(string(r.ExecutionID)); ok {
			items = append(items, item{i, id})
		}
	}
	slices.SortFunc(items, func(a, b item) int { return cmp.Or(strings.Compare(a.id, b.id), cmp.Compare(a.idx, b.idx)) })
	n := len(items)
	a := &dbsqlc.ExecutionRecordDeliveriesParams{
		Now:                   p.Now,
		Idxs:                  make([]int32, n),
		Ids:                   make([]string, n),
		Attempt:               make([]int32, n),
		Attempts:              make([]int32, n),
		Statuses:              make([]string, n),
		ResponseCodes:         make([]int32, n),
		HasResponseCodes:      make([]bool, n),
		ResponseBodies:        make([]string, n),
		HasResponseBodies:     make([]bool, n),
		ErrorMessages:         make([]string, n),
		HasErrorMessages:      make([]bool, n),
		NextRetries:           make([]time.Time, n),
		HasNextRetries:        make([]bool, n),
		DueAts:                make([]time.Time, n),
		HasDueAts:             make([]bool, n),
		OutcomeDeadlineAts:    make([]time.Time, n),
		HasOutcomeDeadlineAts: make([]bool, n),
	}
	for j, it := range items {
		r := p.Results[it.idx]
		a.Idxs[j] = int32(it.idx)
		a.Ids[j] = it.id
		a.Attempt[j] = sqlkit.Clamp[int32](r.Attempt)
		a.Attempts[j] = sqlkit.Clamp[int32](r.Attempts)
		a.Statuses[j] = string(r.Status)
		if r.HTTPStatus != nil {
			a.ResponseCodes[j], a.HasResponseCodes[j] = sqlkit.Clamp[int32](*r.HTTPStatus), true
		}
		if r.ResponseBody != nil {
			a.ResponseBodies[j], a.HasResponseBodies[j] = *r.ResponseBody, true
		}
		if r.ErrorMessage != nil {
			a.ErrorMessages[j], a.HasErrorMessages[j] = *r.ErrorMessage, true
		}
		if next, due := r.RetryTimes(p.Now); due != nil {
			if next != nil {
				a.NextRetries[j], a.HasNextRetries[j] = *next, true
			}
			a.DueAts[j], a.HasDueAts[j] = *due, true
		}
		if r.OutcomeDeadlineAt != nil {
			a.OutcomeDeadlineAts[j], a.HasOutcomeDeadlineAts[j] = *r.OutcomeDeadlineAt, true
		}
	}
	return a
}

// ExecutionQueueStats counts the delivery queue as of p.Now in one
// statement whose counts each scan a partial index: webhook executions
// pending and due, delivering with an expired lease, and retrying or
// retry_ready; worker executions pending.
func (s *Store) ExecutionQueueStats(ctx context.Context, p *core.ExecutionQueueStatsParams) (*core.QueueStats, error) {
	row, err := s.q.ExecutionQueueStats(ctx, s.rd, p.Now)
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
	maxRows, _ := sqlkit.Page[int32](p.Limit, 0)
	return sqlkit.Rows(dbErr, "execution claimable", string(p.TenantID), func(tenant string) ([]*dbsqlc.ExecutionClaimableRow, error) {
		return s.q.ExecutionClaimable(ctx, s.rd, &dbsqlc.ExecutionClaimableParams{
			UserID: tenant, Now: p.Now, Task: p.Task, Agent: p.Agent, MaxRows: maxRows,
		})
	}, func(r *dbsqlc.ExecutionClaimableRow) (*core.Claimable, error) {
		c, err := cueFromRow(&r.Cue)
		return &core.Claimable{Execution: executionFromRow(&r.Execution), Cue: c}, err
	})
}

// ExecutionClaimWorker claims one worker execution for p.WorkerID in one
// transaction: it locks the execution by id (waiting for a concurrent
// claimer, then re-checking), or the oldest claimable one, optionally of
// payload task p.Task (skipping rows other claimers hold, so concurrent
// claimers take different executions), then claims it with an UPDATE that
// re-checks it is pending, its outcome deadline from core.OutcomeDeadline. A first claim with CountUsage adds one execution
// to the tenant's month of p.Now in the same transaction. ErrNotFound when
// nothing matched or the id is not a UUID.
func (s *Store) ExecutionClaimWorker(ctx context.Context, p *core.ExecutionClaimWorkerParams) (*core.Execution, error) {
	const op = "execution claim worker"
	var out *core.Execution
	return sqlkit.Value(&out, s.tenantTx(ctx, op, pgx.TxOptions{}, p.TenantID, func(tx pgx.Tx, tenant string) error {
		var id string
		var deadline *int32
		if p.ID != nil {
			picked, err := sqlkit.Find(dbErr, op, string(*p.ID), func(id string) (*dbsqlc.ExecutionClaimWorkerPickByIDRow, error) {
				picked, err := s.q.ExecutionClaimWorkerPickByID(ctx, tx, &dbsqlc.ExecutionClaimWorkerPickByIDParams{ID: id, UserID: tenant, Now: p.Now})
				return picked, dbErr.Interpret(op, err)
			})
			if err != nil {
				return err
			}
			id, deadline = picked.ID, picked.OutcomeDeadlineSeconds
		} else {
			picked, err := s.q.ExecutionClaimWorkerPickNext(ctx, tx, &dbsqlc.ExecutionClaimWorkerPickNextParams{UserID: tenant, Now: p.Now, Task: p.Task})
			if err != nil {
				return dbErr.Interpret(op, err)
			}
			id, deadline = picked.ID, picked.OutcomeDeadlineSeconds
		}
		row, err := s.q.ExecutionClaimWorker(ctx, tx, &dbsqlc.ExecutionClaimWorkerParams{
			WorkerID: p.WorkerID, Now: p.Now, LeaseUntil: p.LeaseUntil(), OutcomeDeadlineAt: core.OutcomeDeadline(p.Now, intPtr(deadline)), ID: id,
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
		out = executionFromRow(row)
		return nil
	}))
}

// saveArgs lays out the fields a read-modify-write saves; current is the
// row's due_at.
func saveArgs(id string, e *core.Execution, dueAt *time.Time) (*dbsqlc.ExecutionSaveParams, error) {
	artifacts, err := sqlkit.CompactJSON(e.Evidence.Artifacts, nil)
	if err != nil {
		return nil, fmt.Errorf("evidence artifacts: %w", err)
	}
	evidenceMeta, err := sqlkit.CompactJSON(e.Evidence.Metadata, nil)
	if err != nil {
		return nil, fmt.Errorf("evidence metadata: %w", err)
	}
	a := &dbsqlc.ExecutionSaveParams{
		ID:                      id,
		Status:                  string(e.Status),
		ErrorMessage:            e.ErrorMessage,
		DeliveredAt:             e.DeliveredAt,
		LeaseExpiresAt:          e.LeaseExpiresAt,
		DueAt:                   dueAt,
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
		LiveClaimSessionToken:   e.LiveClaimSessionToken,
		LiveClaimedAt:           e.LiveClaimedAt,
		UpdatedAt:               e.UpdatedAt,
	}
	if a.Options, err = sqlkit.ExecutionOptions(e); err != nil {
		return nil, fmt.Errorf("options: %w", err)
	}
	if e.Outcome != nil {
		meta, err := sqlkit.CompactJSON(e.Outcome.Metadata, nil)
		if err != nil {
			return nil, fmt.Errorf("outcome metadata: %w", err)
		}
		a.OutcomeSuccess = &e.Outcome.Success
		a.OutcomeResult = e.Outcome.Result
		a.OutcomeError = e.Outcome.Error
		a.OutcomeMetadata = meta
		a.OutcomeRecordedAt = &e.Outcome.RecordedAt
	}
	a.OutcomeState = sqlkit.Text(e.OutcomeState)
	return a, nil
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
// while the locked cue's retry policy leaves attempts
// (core.RetryPolicy.AttemptsLeft), else fails it (ExhaustedMessage).
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
	maxRows := sqlkit.Clamp[int32](p.Limit)
	cutoff := p.UnclaimedCutoff()
	return sqlkit.Value(&out, s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		out = out[:0]
		failed, err := s.sweepStep(ctx, tx, op, p.Now,
			func() ([]sweepCandidate, error) {
				rows, err := s.q.ExecutionListExpiredLeases(ctx, tx, &dbsqlc.ExecutionListExpiredLeasesParams{Now: p.Now, MaxRows: maxRows})
				cands := make([]sweepCandidate, len(rows))
				for i, r := range rows {
					cands[i] = sweepCandidate{id: r.ID, cueID: r.CueID, attempts: r.Attempts}
				}
				return cands, err
			},
			func(cands []sweepCandidate, cues map[string]*dbsqlc.CueLockManySkipLockedRow, cueIDs []string) ([]*dbsqlc.Execution, error) {
				a := &dbsqlc.ExecutionExpireLeasesParams{
					ResetMessage: p.ResetMessage, ExhaustedMessage: p.ExhaustedMessage, Now: p.Now, CueIds: cueIDs, ResetIds: []string{},
				}
				for _, c := range cands {
					a.Ids = append(a.Ids, c.id)
					a.Attempts = append(a.Attempts, c.attempts)
					if cue, ok := cues[c.cueID]; ok && (core.RetryPolicy{MaxAttempts: int(cue.RetryMaxAttempts)}).AttemptsLeft(int(c.attempts)) {
						a.ResetIds = append(a.ResetIds, c.id)
					}
				}
				return s.q.ExecutionExpireLeases(ctx, tx, a)
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
			func(cands []sweepCandidate, _ map[string]*dbsqlc.CueLockManySkipLockedRow, cueIDs []string) ([]*dbsqlc.Execution, error) {
				ids := make([]string, len(cands))
				for i, c := range cands {
					ids[i] = c.id
				}
				return s.q.ExecutionMarkUnclaimedMissed(ctx, tx, &dbsqlc.ExecutionMarkUnclaimedMissedParams{
					MissedMessage: p.MissedMessage, Now: p.Now, Ids: ids, CueIds: cueIDs, Cutoff: cutoff,
				})
			})
		if err != nil {
			return err
		}
		out = append(append(out, failed...), missed...)
		return nil
	}))
}

// sweepCandidate is an execution a sweep may change, read without a lock.
type sweepCandidate struct {
	id, cueID string
	attempts  int32 // as listed (expired leases only)
}

// sweepStep runs one worker sweep step in tx: list reads the candidates,
// their cues are locked (id order, skipping locked ones), update decides
// (through core) and changes the candidates of the locked cues (skipping locked rows, re-checking
// each) and returns them; the ones that ended (failed or missed) get their
// cue effects and are returned as deliveries, ordered by scheduled time,
// then id.
func (s *Store) sweepStep(ctx context.Context, tx pgx.Tx, op string, now time.Time,
	list func() ([]sweepCandidate, error),
	update func(cands []sweepCandidate, cues map[string]*dbsqlc.CueLockManySkipLockedRow, lockedIDs []string) ([]*dbsqlc.Execution, error),
) ([]*core.Delivery, error) {
	cands, err := list()
	if err != nil {
		return nil, dbErr.Interpret(op, err)
	}
	if len(cands) == 0 {
		return nil, nil
	}
	cueIDs := make([]string, 0, len(cands))
	for _, c := range cands {
		cueIDs = append(cueIDs, c.cueID)
	}
	slices.Sort(cueIDs)
	locked, err := s.q.CueLockManySkipLocked(ctx, tx, slices.Compact(cueIDs))
	if err != nil {
		return nil, dbErr.Interpret(op+": lock cues", err)
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
	rows, err := update(cands, cues, lockedIDs)
	if err != nil {
		return nil, dbErr.Interpret(op, err)
	}
	fx := core.NewRunEffects(now)
	var ended []*dbsqlc.Execution
	for _, r := range rows {
		if r.Status == string(core.ExecPending) {
			continue // reset: claimable again
		}
		ended = append(ended, r)
		c := cues[r.CueID]
		fx.AddSwept(core.CueID(r.CueID), core.ScheduleType(c.ScheduleType), c.OnFailurePause, r.TriggeredBy)
	}
	if len(ended) == 0 {
		return nil, nil
	}
	if err := s.applyRunEffects(ctx, tx, op, fx); err != nil {
		return nil, err
	}
	out, err := s.deliveriesOf(ctx, tx, ended)
	if err != nil {
		return nil, dbErr.Interpret(op, err)
	}
	return out, nil
}

// deliveriesOf pairs executions with their cues and the owners' sealed
// webhook secrets, read in tx (see sqlkit.Deliveries).
func (s *Store) deliveriesOf(ctx context.Context, tx dbsqlc.DBTX, rows []*dbsqlc.Execution) ([]*core.Delivery, error) {
	execs, _ := sqlkit.Convert(rows, sqlkit.Infallible(executionFromRow))
	return sqlkit.Deliveries(execs, func(ids []string) ([]*dbsqlc.CueListForDeliveryRow, error) {
		return s.q.CueListForDelivery(ctx, tx, ids)
	}, cueSecretFromRow)
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
	return sqlkit.Value(&out, s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		rows, err := s.q.ExecutionExpireOutcomeDeadlines(ctx, tx, &dbsqlc.ExecutionExpireOutcomeDeadlinesParams{
			Now: p.Now, MaxRows: sqlkit.Clamp[int32](p.Limit),
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
	maxRows, _ := sqlkit.Page[int32](p.Limit, 0)
	return sqlkit.Rows(dbErr, "execution recent finished", string(p.TenantID), func(tenant string) ([]*dbsqlc.Execution, error) {
		return s.q.ExecutionRecentFinished(ctx, s.rd, &dbsqlc.ExecutionRecentFinishedParams{
			CueID: string(p.CueID), UserID: tenant, MaxRows: maxRows,
		})
	}, sqlkit.Infallible(executionFromRow))
}

// applyRunEffects stores fx in tx in at most two statements: the cue
// effects, then the usage, each in id order.
func (s *Store) applyRunEffects(ctx context.Context, tx dbsqlc.DBTX, op string, fx *core.RunEffects) error {
	if cues := fx.Cues(); len(cues) > 0 {
		cu := &dbsqlc.CueRecordDeliveriesParams{Now: fx.Now}
		for _, e := range cues {
			cu.Ids = append(cu.Ids, string(e.CueID))
			cu.Runs = append(cu.Runs, sqlkit.Clamp[int32](e.Runs))
			cu.SetLastRuns = append(cu.SetLastRuns, e.SetLastRun)
			cu.Statuses = append(cu.Statuses, sqlkit.Status(e.Status))
		}
		if err := s.q.CueRecordDeliveries(ctx, tx, cu); err != nil {
			return dbErr.Interpret(op+": update cues", err)
		}
	}
	if usage := fx.Usage(); len(usage) > 0 {
		ua := &dbsqlc.UsageMonthlyAddParams{MonthStart: fx.Month}
		for _, u := range usage {
			ua.UserIds = append(ua.UserIds, string(u.TenantID))
			ua.Counts = append(ua.Counts, sqlkit.Clamp[int32](u.Executions))
		}
		if err := s.q.UsageMonthlyAdd(ctx, tx, ua); err != nil {
			return dbErr.Interpret(op+": count usage", err)
		}
	}
	return nil
}
