package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cueapi/cueapi/adapters/postgres/internal/dbsqlc"
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
	err := s.inTx(ctx, op, readTx, func(tx pgx.Tx) error {
		rows, err := s.q.ExecutionList(ctx, tx, &dbsqlc.ExecutionListParams{
			UserID: tenant, CueID: cueID, Status: p.Status, OutcomeState: p.OutcomeState,
			MaxRows: maxRows, SkipRows: skipRows,
		})
		if err != nil {
			return interpretError(op, err)
		}
		for _, row := range rows {
			execs = append(execs, executionFromRow(row))
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
	artifacts, err := jsonArg(e.Evidence.Artifacts, nil)
	if err != nil {
		return nil, opError(op, fmt.Errorf("evidence artifacts: %w", err))
	}
	evidenceMeta, err := jsonArg(e.Evidence.Metadata, nil)
	if err != nil {
		return nil, opError(op, fmt.Errorf("evidence metadata: %w", err))
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
		DueAt:                   dueAtOf(e),
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
		CreatedAt:               e.CreatedAt,
		UpdatedAt:               e.UpdatedAt,
	}
	if e.Outcome != nil {
		meta, err := jsonArg(e.Outcome.Metadata, nil)
		if err != nil {
			return nil, opError(op, fmt.Errorf("outcome metadata: %w", err))
		}
		args.OutcomeSuccess = &e.Outcome.Success
		args.OutcomeResult = e.Outcome.Result
		args.OutcomeError = e.Outcome.Error
		args.OutcomeMetadata = meta
		args.OutcomeRecordedAt = &e.Outcome.RecordedAt
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
	row, err := s.q.ExecutionCreate(ctx, s.pool, args)
	if err != nil {
		return nil, interpretError(op, err)
	}
	return executionFromRow(row), nil
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
	row, err := s.q.ExecutionGet(ctx, s.pool, &dbsqlc.ExecutionGetParams{ID: id, UserID: tenant})
	if err != nil {
		return nil, interpretError(op, err)
	}
	return executionFromRow(row), nil
}

// ExecutionCancelUpcoming deletes the tenant's cue's pending,
// scheduler-created executions scheduled after p.Now and takes them off
// fired_count (never below zero), in one transaction that locks the cue
// first (the order CueFireDue locks in). It returns how many it deleted: 0
// when the cue is absent or foreign.
func (s *Store) ExecutionCancelUpcoming(ctx context.Context, p *core.ExecutionCancelUpcomingParams) (int, error) {
	const op = "execution cancel upcoming"
	tenant, ok := uuidArg(string(p.TenantID))
	if !ok {
		return 0, nil
	}
	var n int64
	err := s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		_, err := s.q.CueGetForUpdate(ctx, tx, &dbsqlc.CueGetForUpdateParams{ID: string(p.CueID), UserID: tenant})
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return interpretError(op, err)
		}
		n, err = s.cancelUpcoming(ctx, tx, string(p.CueID), tenant, p.Now)
		return interpretError(op, err)
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
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
		TriggeredBy: r.TriggeredBy,
		CreatedAt:   utc(r.CreatedAt),
		UpdatedAt:   utc(r.UpdatedAt),
	}
	if r.OutcomeRecordedAt != nil {
		e.Outcome = &core.Outcome{
			Success:    r.OutcomeSuccess != nil && *r.OutcomeSuccess,
			Result:     r.OutcomeResult,
			Error:      r.OutcomeError,
			Metadata:   jsonValue(r.OutcomeMetadata),
			RecordedAt: utc(*r.OutcomeRecordedAt),
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
