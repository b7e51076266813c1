package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

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
	tenant, ok := uuidArg(string(p.TenantID))
	if !ok {
		return execs, 0, nil
	}
	var cueID *string
	if p.CueID != nil {
		id := string(*p.CueID)
		cueID = &id
	}
	maxRows, skipRows := pageArgs(p.Limit, p.Offset)
	var total int64
	err := s.inReadTx(ctx, op, func(tx *sql.Tx) error {
		rows, err := s.q.ExecutionList(ctx, tx, &dbsqlc.ExecutionListParams{
			UserID: tenant, CueID: cueID, Status: p.Status, OutcomeState: p.OutcomeState,
			MaxRows: maxRows, SkipRows: skipRows,
		})
		if err != nil {
			return interpretError(op, err)
		}
		for _, row := range rows {
			e, err := executionFromRow(row)
			if err != nil {
				return opError(op, err)
			}
			execs = append(execs, e)
		}
		total, err = s.q.ExecutionCount(ctx, tx, &dbsqlc.ExecutionCountParams{
			UserID: tenant, CueID: cueID, Status: p.Status, OutcomeState: p.OutcomeState,
		})
		return interpretError(op, err)
	})
	if err != nil {
		return nil, 0, err
	}
	return execs, int(total), nil
}

// ExecutionCreate inserts p.Execution as given (every field) for a cue of
// its tenant, with the cue's transport and due_at derived from the status
// (see dueAtOf). It returns the stored row. ErrNotFound when the cue is
// absent or foreign; ErrConflict when (cue, scheduled_for) or the id exists.
func (s *Store) ExecutionCreate(ctx context.Context, p *core.ExecutionCreateParams) (*core.Execution, error) {
	const op = "execution create"
	e := p.Execution
	tenant, ok := uuidArg(string(e.TenantID))
	if !ok {
		return nil, opError(op, core.ErrNotFound)
	}
	id, ok := uuidArg(string(e.ID))
	if !ok {
		return nil, opError(op, fmt.Errorf("execution id %q is not a UUID", e.ID))
	}
	artifacts, err := jsonPtrArg(e.Evidence.Artifacts)
	if err != nil {
		return nil, opError(op, fmt.Errorf("evidence artifacts: %w", err))
	}
	evidenceMeta, err := jsonPtrArg(e.Evidence.Metadata)
	if err != nil {
		return nil, opError(op, fmt.Errorf("evidence metadata: %w", err))
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
		DueAt:                   timePtrArg(dueAtOf(e)),
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
			return nil, opError(op, fmt.Errorf("outcome metadata: %w", err))
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
	if e.ReplayedFrom != nil {
		from, ok := uuidArg(string(*e.ReplayedFrom))
		if !ok {
			return nil, opError(op, fmt.Errorf("replayed_from %q is not a UUID", *e.ReplayedFrom))
		}
		args.ReplayedFrom = &from
	}
	row, err := s.q.ExecutionCreate(ctx, s.wdb, args)
	if err != nil {
		return nil, interpretError(op, err)
	}
	out, err := executionFromRow(row)
	return out, opError(op, err)
}

// dueAtOf is when the dispatcher may next act on a new execution: its
// scheduled time while pending, its next retry while retrying, its lease
// expiry while delivering; never once terminal.
func dueAtOf(e *core.Execution) *time.Time {
	switch e.Status {
	case core.ExecPending:
		return &e.ScheduledFor
	case core.ExecRetrying, core.ExecRetryReady:
		return e.NextRetry
	case core.ExecDelivering:
		return e.LeaseExpiresAt
	}
	return nil
}

// ExecutionGet returns one of the tenant's executions. ErrNotFound when
// absent, foreign, or when the id or tenant is not a UUID.
func (s *Store) ExecutionGet(ctx context.Context, p *core.ExecutionGetParams) (*core.Execution, error) {
	const op = "execution get"
	tenant, ok := uuidArg(string(p.TenantID))
	if !ok {
		return nil, opError(op, core.ErrNotFound)
	}
	id, ok := uuidArg(string(p.ID))
	if !ok {
		return nil, opError(op, core.ErrNotFound)
	}
	row, err := s.q.ExecutionGet(ctx, s.rdb, &dbsqlc.ExecutionGetParams{ID: id, UserID: tenant})
	if err != nil {
		return nil, interpretError(op, err)
	}
	out, err := executionFromRow(row)
	return out, opError(op, err)
}

// ExecutionCancelUpcoming deletes the tenant's cue's pending,
// scheduler-created executions scheduled after p.Now and takes them off
// fired_count (never below zero), in one write transaction. It returns how
// many it deleted: 0 when the cue is absent or foreign.
func (s *Store) ExecutionCancelUpcoming(ctx context.Context, p *core.ExecutionCancelUpcomingParams) (int, error) {
	const op = "execution cancel upcoming"
	tenant, ok := uuidArg(string(p.TenantID))
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
			return interpretError(op, err)
		}
		n, err = s.cancelUpcoming(ctx, tx, string(p.CueID), tenant, timeArg(p.Now))
		return interpretError(op, err)
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
	if d.err != nil {
		return nil, d.err
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
