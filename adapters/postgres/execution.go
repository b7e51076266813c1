package postgres

import (
	"context"

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
