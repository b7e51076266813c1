package postgres

import (
	"context"

	"github.com/cueapi/cueapi/adapters/postgres/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
)

// ExecutionInsertForTest stores e with the given transport so tests can read
// executions back before the port has a method that creates them.
func (s *Store) ExecutionInsertForTest(ctx context.Context, e *core.Execution, transport core.Transport) error {
	const op = "execution insert"
	artifacts, err := jsonArg(e.Evidence.Artifacts, nil)
	if err != nil {
		return opError(op, err)
	}
	evidenceMeta, err := jsonArg(e.Evidence.Metadata, nil)
	if err != nil {
		return opError(op, err)
	}
	p := &dbsqlc.ExecutionInsertParams{
		ID:                      string(e.ID),
		CueID:                   string(e.CueID),
		UserID:                  string(e.TenantID),
		Transport:               string(transport),
		ScheduledFor:            e.ScheduledFor,
		Status:                  string(e.Status),
		HTTPStatus:              int32Ptr(e.HTTPStatus),
		ResponseBody:            e.ResponseBody,
		Attempts:                int32(e.Attempts),
		NextRetry:               e.NextRetry,
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
			return opError(op, err)
		}
		p.OutcomeSuccess = &e.Outcome.Success
		p.OutcomeResult = e.Outcome.Result
		p.OutcomeError = e.Outcome.Error
		p.OutcomeMetadata = meta
		p.OutcomeRecordedAt = &e.Outcome.RecordedAt
	}
	if e.OutcomeState != nil {
		p.OutcomeState = new(string(*e.OutcomeState))
	}
	if e.ReplayedFrom != nil {
		p.ReplayedFrom = new(string(*e.ReplayedFrom))
	}
	return interpretError(op, s.q.ExecutionInsert(ctx, s.pool, p))
}
