package api

import (
	"context"

	"github.com/cueapi/cueapi/api/apigen"
	"github.com/cueapi/cueapi/core"
)

// FireCue creates a manual execution now.
func (s *Server) FireCue(ctx context.Context, req apigen.FireCueRequestObject) (apigen.FireCueResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	e, err := s.deps.Executions.Fire(ctx, u, core.CueID(req.CueID))
	if err != nil {
		return nil, err
	}
	return apigen.FireCue200JSONResponse{
		ID: string(e.ID), CueID: string(e.CueID), ScheduledFor: pyTime(e.ScheduledFor),
		Status: apigen.ExecutionStatus(e.Status), TriggeredBy: core.TriggerManualFire,
	}, nil
}

// ListExecutions lists the caller's executions, newest first.
func (s *Server) ListExecutions(ctx context.Context, req apigen.ListExecutionsRequestObject) (apigen.ListExecutionsResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	limit, offset := intOr(req.Params.Limit, 20), intOr(req.Params.Offset, 0)
	list, total, err := s.deps.Executions.List(ctx, u, core.ExecutionFilter{
		CueID: req.Params.CueID, Status: req.Params.Status, OutcomeState: req.Params.OutcomeState,
	}, limit, offset)
	if err != nil {
		return nil, err
	}
	out := apigen.ExecutionList{Executions: make([]apigen.Execution, 0, len(list)), Total: total, Limit: limit, Offset: offset, HasMore: offset+limit < total}
	for _, e := range list {
		out.Executions = append(out.Executions, executionOut(e))
	}
	return apigen.ListExecutions200JSONResponse(out), nil
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
	return apigen.GetExecution200JSONResponse(executionOut(e)), nil
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
		ID: string(e.ID), CueID: string(e.CueID), ScheduledFor: pyTime(e.ScheduledFor),
		Status: apigen.ExecutionStatus(e.Status), TriggeredBy: core.TriggerReplay, ReplayedFrom: string(req.ExecutionID),
	}, nil
}
