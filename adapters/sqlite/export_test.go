package sqlite

import (
	"context"

	"github.com/cueapi/cueapi/adapters/sqlite/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
)

// ExecutionInsertForTest stores e with the given transport so tests can read
// executions back before the port has a method that creates them.
func (s *Store) ExecutionInsertForTest(ctx context.Context, e *core.Execution, transport core.Transport) error {
	const op = "execution insert"
	artifacts, err := jsonPtrArg(e.Evidence.Artifacts)
	if err != nil {
		return opError(op, err)
	}
	evidenceMeta, err := jsonPtrArg(e.Evidence.Metadata)
	if err != nil {
		return opError(op, err)
	}
	p := &dbsqlc.ExecutionInsertParams{
		ID:                      string(e.ID),
		CueID:                   string(e.CueID),
		UserID:                  string(e.TenantID),
		Transport:               string(transport),
		ScheduledFor:            timeArg(e.ScheduledFor),
		Status:                  string(e.Status),
		HTTPStatus:              int64Ptr(e.HTTPStatus),
		ResponseBody:            e.ResponseBody,
		Attempts:                int64(e.Attempts),
		NextRetry:               timePtrArg(e.NextRetry),
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
			return opError(op, err)
		}
		p.OutcomeSuccess = new(boolArg(e.Outcome.Success))
		p.OutcomeResult = e.Outcome.Result
		p.OutcomeError = e.Outcome.Error
		p.OutcomeMetadata = meta
		p.OutcomeRecordedAt = new(timeArg(e.Outcome.RecordedAt))
	}
	if e.OutcomeState != nil {
		p.OutcomeState = new(string(*e.OutcomeState))
	}
	if e.ReplayedFrom != nil {
		p.ReplayedFrom = new(string(*e.ReplayedFrom))
	}
	return interpretError(op, s.q.ExecutionInsert(ctx, s.wdb, p))
}
