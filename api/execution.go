package api

import (
	"context"
	"encoding/json"
	"time"

	"github.com/cueapi/cueapi/api/apigen"
	"github.com/cueapi/cueapi/core"
)

func executionOut(e *core.Execution) apigen.Execution {
	out := apigen.Execution{
		ID: string(e.ID), CueID: string(e.CueID), ScheduledFor: e.ScheduledFor.UTC(), Status: apigen.ExecutionStatus(e.Status),
		HTTPStatus: e.HTTPStatus, Attempts: e.Attempts, ErrorMessage: e.ErrorMessage, StartedAt: utcPtr(e.StartedAt),
		DeliveredAt: utcPtr(e.DeliveredAt), LastAttemptAt: utcPtr(e.LastAttemptAt), CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC(),
		TriggeredBy: e.Trigger(), ClaimedByWorker: e.ClaimedByWorker, ClaimedAt: utcPtr(e.ClaimedAt),
		LastHeartbeatAt: utcPtr(e.LastHeartbeatAt), LeaseExpiresAt: utcPtr(e.LeaseExpiresAt), NextRetry: utcPtr(e.NextRetry),
		ResponseBody: e.ResponseBody, ChainDepth: e.ChainDepth, Payload: e.Payload,
	}
	if e.ChainParentID != nil {
		p := string(*e.ChainParentID)
		out.ChainParentID = &p
	}
	if e.OutcomeState != nil {
		s := string(*e.OutcomeState)
		out.OutcomeState = &s
	}
	if e.ReplayedFrom != nil {
		s := string(*e.ReplayedFrom)
		out.ReplayedFrom = &s
	}
	if o := e.Outcome; o != nil {
		ev := e.Evidence
		// The evidence is repeated inside outcome, where the SDK's
		// Execution model reads it (clients.md C1).
		out.Outcome = &apigen.Outcome{
			Success: o.Success, Result: o.Result, Error: o.Error, Metadata: rawPtr(o.Metadata), RecordedAt: o.RecordedAt.UTC(),
			ExternalID: ev.ExternalID, ResultURL: ev.ResultURL, ResultRef: ev.ResultRef, ResultType: ev.ResultType,
			Summary: ev.Summary, Artifacts: rawPtr(ev.Artifacts), ValidationState: ev.ValidationState,
		}
		out.Evidence = &apigen.Evidence{
			ExternalID: ev.ExternalID, ResultURL: ev.ResultURL, ResultRef: ev.ResultRef, ResultType: ev.ResultType,
			Summary: ev.Summary, Artifacts: rawPtr(ev.Artifacts), Metadata: rawPtr(ev.Metadata),
			ValidationState: ev.ValidationState, ProducedAt: utcPtr(ev.ProducedAt),
		}
	}
	return out
}

// FireCue creates a manual execution now or at send_at.
func (s *Server) FireCue(ctx context.Context, req apigen.FireCueRequestObject) (apigen.FireCueResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	in := &core.FireInput{IdempotencyKey: (*string)(req.Params.IdempotencyKey)}
	if b := req.Body; b != nil {
		in.SendAt, in.ExitCriteria = b.SendAt, b.ExitCriteria
		if b.PayloadOverride != nil {
			in.PayloadOverride = *b.PayloadOverride
		}
		if b.MergeStrategy != nil {
			m := string(*b.MergeStrategy)
			in.MergeStrategy = &m
		}
		if b.IdempotencyKey != nil { // the body wins over the header
			in.IdempotencyKey = b.IdempotencyKey
		}
	}
	res, err := s.deps.Executions.Fire(ctx, u, core.CueID(req.CueID), in)
	if err != nil {
		return nil, err
	}
	e := res.Execution
	trig := core.TriggerManualFire
	if e.TriggeredBy != nil {
		trig = *e.TriggeredBy
	}
	return apigen.FireCue200JSONResponse{
		ID: string(e.ID), ExecutionID: string(e.ID), CueID: string(e.CueID), ScheduledFor: pyTime(e.ScheduledFor),
		Status: apigen.ExecutionStatus(e.Status), TriggeredBy: trig, Payload: res.Payload,
	}, nil
}

// ListExecutions lists the caller's executions, newest first.
func (s *Server) ListExecutions(ctx context.Context, req apigen.ListExecutionsRequestObject) (apigen.ListExecutionsResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	limit, offset := intOr(req.Params.Limit, 20), intOr(req.Params.Offset, 0)
	q := req.Params
	var trig *string
	if q.TriggeredBy != nil {
		trig = new(string(*q.TriggeredBy))
	}
	page, err := s.deps.Executions.Page(ctx, u, core.ExecutionFilter{
		CueID: q.CueID, Status: q.Status, StatusIn: q.StatusIn, OutcomeState: q.OutcomeState, TriggeredBy: trig,
		ResultType: q.ResultType, HasEvidence: q.HasEvidence, WorkerID: q.WorkerID,
	}, limit, offset)
	if err != nil {
		return nil, err
	}
	out := apigen.ExecutionList{
		Executions: make([]apigen.Execution, 0, len(page.Executions)), Total: page.Total, Limit: limit, Offset: offset,
		HasMore: offset+limit < page.Total,
	}
	if page.OldestClaimedAt != nil {
		out.OldestClaimedAt = new(pyTime(*page.OldestClaimedAt))
	}
	for _, e := range page.Executions {
		out.Executions = append(out.Executions, executionOut(e))
	}
	r := executionListResponse(out)
	return &r, nil
}

// GetExecution returns one execution.
func (s *Server) GetExecution(ctx context.Context, req apigen.GetExecutionRequestObject) (apigen.GetExecutionResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	e, err := s.deps.Executions.Get(ctx, u, core.ExecutionID(req.ExecutionID))
	if err != nil {
		return nil, err
	}
	out := executionResponse(executionOut(e))
	return &out, nil
}

// ReplayExecution re-runs a finished execution.
func (s *Server) ReplayExecution(ctx context.Context, req apigen.ReplayExecutionRequestObject) (apigen.ReplayExecutionResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	e, err := s.deps.Executions.Replay(ctx, u, core.ExecutionID(req.ExecutionID))
	if err != nil {
		return nil, err
	}
	return apigen.ReplayExecution200JSONResponse{
		ID: string(e.ID), ExecutionID: string(e.ID), CueID: string(e.CueID), ScheduledFor: pyTime(e.ScheduledFor),
		Status: apigen.ExecutionStatus(e.Status), TriggeredBy: core.TriggerReplay, ReplayedFrom: string(req.ExecutionID),
	}, nil
}

// LiveClaimExecution records a live session's attestation of an
// execution (clients.md C10); the session token is never echoed.
func (s *Server) LiveClaimExecution(ctx context.Context, req apigen.LiveClaimExecutionRequestObject) (apigen.LiveClaimExecutionResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	if req.Body == nil { // the request validator requires the body first
		return nil, core.Body("session_token").Required().Err()
	}
	a, err := s.deps.Executions.LiveClaim(ctx, u, core.ExecutionID(req.ExecutionID), req.Body.SessionToken)
	if err != nil {
		return nil, err
	}
	return apigen.LiveClaimExecution200JSONResponse{
		Attested: true, ExecutionID: string(a.ExecutionID), LiveClaimedAt: a.LiveClaimedAt.UTC(),
	}, nil
}

// ListClaimableExecutions lists worker executions ready to claim.
func (s *Server) ListClaimableExecutions(ctx context.Context, req apigen.ListClaimableExecutionsRequestObject) (apigen.ListClaimableExecutionsResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	list, err := s.deps.Workers.Claimable(ctx, u, req.Params.Task, req.Params.Agent)
	if err != nil {
		return nil, err
	}
	out := apigen.ClaimableList{Executions: make([]apigen.ClaimableExecution, 0, len(list))}
	for _, c := range list {
		payload := c.Execution.EffectivePayload(c.Cue)
		out.Executions = append(out.Executions, apigen.ClaimableExecution{
			ExecutionID: string(c.Execution.ID), CueID: string(c.Cue.ID), CueName: c.Cue.Name, Task: payloadTask(payload),
			ScheduledFor: c.Execution.ScheduledFor.UTC(), Payload: payload, Attempt: c.Execution.Attempts,
		})
	}
	return apigen.ListClaimableExecutions200JSONResponse(out), nil
}

// payloadTask is the payload's "task" key when it is a string.
func payloadTask(p json.RawMessage) *string {
	var m map[string]json.RawMessage
	if json.Unmarshal(p, &m) != nil {
		return nil
	}
	var t string
	if raw, ok := m["task"]; ok && json.Unmarshal(raw, &t) == nil {
		return &t
	}
	return nil
}

func (s *Server) leaseSeconds() int { return int(s.deps.Workers.ClaimLease() / time.Second) }

// ClaimNextExecution claims the caller's oldest claimable execution.
func (s *Server) ClaimNextExecution(ctx context.Context, req apigen.ClaimNextExecutionRequestObject) (apigen.ClaimNextExecutionResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	e, err := s.deps.Workers.ClaimNext(ctx, u, req.Body.WorkerID)
	if err != nil {
		return nil, err
	}
	return apigen.ClaimNextExecution200JSONResponse{Claimed: true, ExecutionID: string(e.ID), LeaseSeconds: s.leaseSeconds()}, nil
}

// ClaimExecution claims one execution by id.
func (s *Server) ClaimExecution(ctx context.Context, req apigen.ClaimExecutionRequestObject) (apigen.ClaimExecutionResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	e, err := s.deps.Workers.Claim(ctx, u, core.ExecutionID(req.ExecutionID), req.Body.WorkerID)
	if err != nil {
		return nil, err
	}
	return apigen.ClaimExecution200JSONResponse{Claimed: true, ExecutionID: string(e.ID), LeaseSeconds: s.leaseSeconds()}, nil
}

// HeartbeatExecution renews a claim's lease.
func (s *Server) HeartbeatExecution(ctx context.Context, req apigen.HeartbeatExecutionRequestObject) (apigen.HeartbeatExecutionResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	until, err := s.deps.Workers.HeartbeatExecution(ctx, u, core.ExecutionID(req.ExecutionID), (*string)(req.Params.XWorkerID))
	if err != nil {
		return nil, err
	}
	return apigen.HeartbeatExecution200JSONResponse{ExecutionID: string(req.ExecutionID), LeaseExtendedUntil: pyTime(until), Acknowledged: true}, nil
}

// ---- outcomes ----

func rawOf(p *json.RawMessage) json.RawMessage {
	if p == nil {
		return nil
	}
	return *p
}

// ReportOutcome records an execution's outcome once.
func (s *Server) ReportOutcome(ctx context.Context, req apigen.ReportOutcomeRequestObject) (apigen.ReportOutcomeResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	b := req.Body
	e, err := s.deps.Outcomes.Report(ctx, u, core.ExecutionID(req.ExecutionID), &core.OutcomeInput{
		Success: b.Success, Result: b.Result, Error: b.Error, Metadata: rawOf(b.Metadata), ExternalID: b.ExternalID,
		ResultURL: b.ResultURL, ResultRef: b.ResultRef, ResultType: b.ResultType, Summary: b.Summary, Artifacts: rawOf(b.Artifacts),
		Assertions: b.Assertions,
	})
	if err != nil {
		return nil, err
	}
	return apigen.ReportOutcome200JSONResponse{ExecutionID: string(req.ExecutionID), OutcomeRecorded: true, OutcomeState: apigen.OutcomeState(*e.OutcomeState)}, nil
}

// VerifyExecution settles an outcome by hand.
func (s *Server) VerifyExecution(ctx context.Context, req apigen.VerifyExecutionRequestObject) (apigen.VerifyExecutionResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	valid, reason := true, (*string)(nil)
	if req.Body != nil {
		if req.Body.Valid != nil {
			valid = *req.Body.Valid
		}
		reason = req.Body.Reason
	}
	r, err := s.deps.Outcomes.Verify(ctx, u, core.ExecutionID(req.ExecutionID), valid, reason)
	if err != nil {
		return nil, err
	}
	return apigen.VerifyExecution200JSONResponse{ExecutionID: string(req.ExecutionID), OutcomeState: apigen.OutcomeState(r.State), Valid: r.Valid, Reason: r.Reason}, nil
}

// MarkVerificationPending reopens verification.
func (s *Server) MarkVerificationPending(ctx context.Context, req apigen.MarkVerificationPendingRequestObject) (apigen.MarkVerificationPendingResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.deps.Outcomes.MarkVerificationPending(ctx, u, core.ExecutionID(req.ExecutionID)); err != nil {
		return nil, err
	}
	return apigen.MarkVerificationPending200JSONResponse{ExecutionID: string(req.ExecutionID), OutcomeState: apigen.OutcomeState(core.OutcomeVerificationPending)}, nil
}

// UpdateEvidence appends evidence to a recorded outcome.
func (s *Server) UpdateEvidence(ctx context.Context, req apigen.UpdateEvidenceRequestObject) (apigen.UpdateEvidenceResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	b := req.Body
	e, err := s.deps.Outcomes.AppendEvidence(ctx, u, core.ExecutionID(req.ExecutionID), &core.EvidenceInput{
		ExternalID: b.ExternalID, ResultURL: b.ResultURL, ResultRef: b.ResultRef, ResultType: b.ResultType, Summary: b.Summary,
		Artifacts: rawOf(b.Artifacts), Metadata: rawOf(b.Metadata),
	})
	if err != nil {
		return nil, err
	}
	var st *string
	if e.OutcomeState != nil {
		v := string(*e.OutcomeState)
		st = &v
	}
	return apigen.UpdateEvidence200JSONResponse{ExecutionID: string(req.ExecutionID), OutcomeState: st, EvidenceUpdated: true}, nil
}

// ---- usage and alerts ----
