package api

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/cueapi/cueapi/api/apigen"
	"github.com/cueapi/cueapi/core"
)

// ---- workers ----

// WorkerHeartbeat registers or refreshes a worker.
func (s *Server) WorkerHeartbeat(ctx context.Context, req apigen.WorkerHeartbeatRequestObject) (apigen.WorkerHeartbeatResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	var handlers []string
	if req.Body.Handlers != nil {
		handlers = *req.Body.Handlers
		if handlers == nil {
			handlers = []string{}
		}
	}
	now, err := s.deps.Workers.Heartbeat(ctx, u, req.Body.WorkerID, handlers)
	if err != nil {
		return nil, err
	}
	return apigen.WorkerHeartbeat200JSONResponse{Acknowledged: true, ServerTime: now.UTC()}, nil
}

// ListWorkers lists the caller's workers.
func (s *Server) ListWorkers(ctx context.Context, _ apigen.ListWorkersRequestObject) (apigen.ListWorkersResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	ws, err := s.deps.Workers.List(ctx, u)
	if err != nil {
		return nil, err
	}
	now := s.deps.Clock.Now()
	out := apigen.WorkerList{Workers: make([]apigen.Worker, 0, len(ws))}
	for _, w := range ws {
		age := now.Sub(w.LastHeartbeat)
		if age < 0 {
			age = 0
		}
		item := apigen.Worker{
			WorkerID: w.WorkerID, LastHeartbeat: w.LastHeartbeat.UTC(), SecondsSinceHeartbeat: int(age / time.Second),
			HeartbeatStatus: apigen.HeartbeatStatus(core.HeartbeatStatus(age)), RegisteredSince: w.CreatedAt.UTC(),
		}
		if w.Handlers != nil {
			h := w.Handlers
			item.Handlers = &h
		}
		out.Workers = append(out.Workers, item)
	}
	return apigen.ListWorkers200JSONResponse(out), nil
}

// DeleteWorker removes a worker registration.
func (s *Server) DeleteWorker(ctx context.Context, req apigen.DeleteWorkerRequestObject) (apigen.DeleteWorkerResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.deps.Workers.Delete(ctx, u, string(req.WorkerID)); err != nil {
		return nil, err
	}
	return apigen.DeleteWorker204Response{}, nil
}

// ListClaimableExecutions lists worker executions ready to claim.
func (s *Server) ListClaimableExecutions(ctx context.Context, req apigen.ListClaimableExecutionsRequestObject) (apigen.ListClaimableExecutionsResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	list, err := s.deps.Workers.Claimable(ctx, u, req.Params.Task)
	if err != nil {
		return nil, err
	}
	out := apigen.ClaimableList{Executions: make([]apigen.ClaimableExecution, 0, len(list))}
	for _, c := range list {
		payload := c.Cue.Payload
		if len(payload) == 0 {
			payload = json.RawMessage(`{}`)
		}
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

func percent(used, limit int) int {
	if limit <= 0 {
		return 0
	}
	return int(math.RoundToEven(float64(used) / float64(limit) * 100))
}

func remaining(used, limit int) int {
	if r := limit - used; r > 0 {
		return r
	}
	return 0
}

// GetUsage reports usage and limits.
func (s *Server) GetUsage(ctx context.Context, _ apigen.GetUsageRequestObject) (apigen.GetUsageResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	bucket := ""
	if p := principalFrom(ctx); p != nil && p.KeyHash != "" {
		bucket = "key:" + p.KeyHash
	}
	r, err := s.deps.Usage.Report(ctx, u, bucket)
	if err != nil {
		return nil, err
	}
	pct := json.Number("0")
	if r.ExecLimit > 0 {
		pct = json.Number(strconv.FormatFloat(math.Round(float64(r.ExecUsed)/float64(r.ExecLimit)*1000)/10, 'f', 1, 64))
	}
	start, end := openapi_types.Date{Time: r.PeriodStart}, openapi_types.Date{Time: r.PeriodEnd}
	return apigen.GetUsage200JSONResponse{
		Plan:          r.Plan,
		BillingPeriod: apigen.UsageBillingPeriod{Start: start, End: end, DaysRemaining: r.DaysRemaining},
		Period:        apigen.UsagePeriod{Start: start, End: end},
		Cues:          apigen.UsageCues{Used: r.CuesUsed, Active: r.CuesUsed, Limit: r.CuesLimit, Remaining: remaining(r.CuesUsed, r.CuesLimit), PercentUsed: percent(r.CuesUsed, r.CuesLimit)},
		Executions: apigen.UsageExecutions{
			Used: r.ExecUsed, Limit: r.ExecLimit, Remaining: remaining(r.ExecUsed, r.ExecLimit), PercentUsed: percent(r.ExecUsed, r.ExecLimit),
			Percentage: pct, ProjectedMonthEnd: r.Projected, WillExceedLimit: r.ExecLimit > 0 && r.Projected >= r.ExecLimit,
		},
		Outcomes:   apigen.UsageOutcomes{Reported: r.Outcomes.Reported, Succeeded: r.Outcomes.Succeeded, Failed: r.Outcomes.Failed},
		RateLimit:  apigen.UsageRateLimit{RequestsPerMinute: r.RatePerMinute, CurrentUsage: r.RateCurrent},
		UpgradeURL: "https://dashboard.cueapi.ai/billing",
	}, nil
}

// ListAlerts lists the caller's alerts.
func (s *Server) ListAlerts(ctx context.Context, req apigen.ListAlertsRequestObject) (apigen.ListAlertsResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	limit, offset := intOr(req.Params.Limit, 20), intOr(req.Params.Offset, 0)
	list, total, err := s.deps.Alerts.List(ctx, u, req.Params.AlertType, req.Params.Since, limit, offset)
	if err != nil {
		return nil, err
	}
	out := apigen.AlertList{Alerts: make([]apigen.Alert, 0, len(list)), Total: total, Limit: limit, Offset: offset}
	for _, a := range list {
		item := apigen.Alert{ID: a.ID, AlertType: apigen.AlertType(a.Type), Severity: apigen.AlertSeverity(a.Severity), Message: a.Message,
			Metadata: rawPtr(a.Metadata), Acknowledged: a.Acknowledged, CreatedAt: a.CreatedAt.UTC()}
		if a.CueID != nil {
			v := string(*a.CueID)
			item.CueID = &v
		}
		if a.ExecutionID != nil {
			v := string(*a.ExecutionID)
			item.ExecutionID = &v
		}
		out.Alerts = append(out.Alerts, item)
	}
	return apigen.ListAlerts200JSONResponse(out), nil
}

// ---- echo ----

// EchoStore stores a test payload under a token.
func (s *Server) EchoStore(ctx context.Context, req apigen.EchoStoreRequestObject) (apigen.EchoStoreResponseObject, error) {
	var body []byte
	if req.Body != nil {
		body = *req.Body
	}
	hdrs := map[string]string{}
	if h := requestHeader(ctx); h != nil {
		for k, v := range h {
			if len(v) > 0 {
				hdrs[k] = v[0]
			}
		}
	}
	if err := s.deps.Echo.Put(ctx, string(req.Token), body, hdrs, clientIP(ctx)); err != nil {
		return nil, err
	}
	return apigen.EchoStore200JSONResponse{Stored: true}, nil
}

// EchoRetrieve reads a stored test payload.
func (s *Server) EchoRetrieve(ctx context.Context, req apigen.EchoRetrieveRequestObject) (apigen.EchoRetrieveResponseObject, error) {
	if _, err := s.user(ctx); err != nil {
		return nil, err
	}
	e, err := s.deps.Echo.Get(ctx, string(req.Token))
	if err != nil {
		return nil, err
	}
	if e == nil {
		return apigen.EchoRetrieve200JSONResponse{Status: apigen.EchoRetrieveResponseStatus("waiting")}, nil
	}
	at := pyTime(e.ReceivedAt)
	body := e.Body
	h := e.Headers
	return apigen.EchoRetrieve200JSONResponse{Status: apigen.EchoRetrieveResponseStatus("delivered"), Payload: &body, Headers: &h, ReceivedAt: &at}, nil
}
