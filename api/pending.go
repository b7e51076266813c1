package api

import (
	"context"

	"github.com/cueapi/cueapi/api/apigen"
)

// Endpoints owned by later work answer 501 not_implemented until then.

// CreateSession exchanges a device-code one-time token for a session JWT.
func (s *Server) CreateSession(context.Context, apigen.CreateSessionRequestObject) (apigen.CreateSessionResponseObject, error) {
	return nil, errNotImplemented
}

// CreateDeviceCode starts a device-code login.
func (s *Server) CreateDeviceCode(context.Context, apigen.CreateDeviceCodeRequestObject) (apigen.CreateDeviceCodeResponseObject, error) {
	return nil, errNotImplemented
}

// PollDeviceCode polls a device-code login.
func (s *Server) PollDeviceCode(context.Context, apigen.PollDeviceCodeRequestObject) (apigen.PollDeviceCodeResponseObject, error) {
	return nil, errNotImplemented
}

// SubmitDeviceCodeEmail sends the magic link.
func (s *Server) SubmitDeviceCodeEmail(context.Context, apigen.SubmitDeviceCodeEmailRequestObject) (apigen.SubmitDeviceCodeEmailResponseObject, error) {
	return nil, errNotImplemented
}

// VerifyMagicLink is the magic-link target page.
func (s *Server) VerifyMagicLink(context.Context, apigen.VerifyMagicLinkRequestObject) (apigen.VerifyMagicLinkResponseObject, error) {
	return nil, errNotImplemented
}

// DeviceLoginPage is the device-code login page.
func (s *Server) DeviceLoginPage(context.Context, apigen.DeviceLoginPageRequestObject) (apigen.DeviceLoginPageResponseObject, error) {
	return nil, errNotImplemented
}

// FireCue creates a manual execution.
func (s *Server) FireCue(context.Context, apigen.FireCueRequestObject) (apigen.FireCueResponseObject, error) {
	return nil, errNotImplemented
}

// ListExecutions lists executions.
func (s *Server) ListExecutions(context.Context, apigen.ListExecutionsRequestObject) (apigen.ListExecutionsResponseObject, error) {
	return nil, errNotImplemented
}

// GetExecution returns one execution.
func (s *Server) GetExecution(context.Context, apigen.GetExecutionRequestObject) (apigen.GetExecutionResponseObject, error) {
	return nil, errNotImplemented
}

// ReplayExecution re-runs a finished execution.
func (s *Server) ReplayExecution(context.Context, apigen.ReplayExecutionRequestObject) (apigen.ReplayExecutionResponseObject, error) {
	return nil, errNotImplemented
}

// ReportOutcome records an execution's outcome.
func (s *Server) ReportOutcome(context.Context, apigen.ReportOutcomeRequestObject) (apigen.ReportOutcomeResponseObject, error) {
	return nil, errNotImplemented
}

// VerifyExecution verifies an outcome manually.
func (s *Server) VerifyExecution(context.Context, apigen.VerifyExecutionRequestObject) (apigen.VerifyExecutionResponseObject, error) {
	return nil, errNotImplemented
}

// MarkVerificationPending re-opens verification.
func (s *Server) MarkVerificationPending(context.Context, apigen.MarkVerificationPendingRequestObject) (apigen.MarkVerificationPendingResponseObject, error) {
	return nil, errNotImplemented
}

// UpdateEvidence appends evidence.
func (s *Server) UpdateEvidence(context.Context, apigen.UpdateEvidenceRequestObject) (apigen.UpdateEvidenceResponseObject, error) {
	return nil, errNotImplemented
}

// ListClaimableExecutions lists worker executions ready to claim.
func (s *Server) ListClaimableExecutions(context.Context, apigen.ListClaimableExecutionsRequestObject) (apigen.ListClaimableExecutionsResponseObject, error) {
	return nil, errNotImplemented
}

// ClaimNextExecution claims the oldest pending worker execution.
func (s *Server) ClaimNextExecution(context.Context, apigen.ClaimNextExecutionRequestObject) (apigen.ClaimNextExecutionResponseObject, error) {
	return nil, errNotImplemented
}

// ClaimExecution claims a worker execution by id.
func (s *Server) ClaimExecution(context.Context, apigen.ClaimExecutionRequestObject) (apigen.ClaimExecutionResponseObject, error) {
	return nil, errNotImplemented
}

// HeartbeatExecution extends a claim's lease.
func (s *Server) HeartbeatExecution(context.Context, apigen.HeartbeatExecutionRequestObject) (apigen.HeartbeatExecutionResponseObject, error) {
	return nil, errNotImplemented
}

// WorkerHeartbeat registers or refreshes a worker.
func (s *Server) WorkerHeartbeat(context.Context, apigen.WorkerHeartbeatRequestObject) (apigen.WorkerHeartbeatResponseObject, error) {
	return nil, errNotImplemented
}

// ListWorkers lists the caller's workers.
func (s *Server) ListWorkers(context.Context, apigen.ListWorkersRequestObject) (apigen.ListWorkersResponseObject, error) {
	return nil, errNotImplemented
}

// DeleteWorker deletes a worker.
func (s *Server) DeleteWorker(context.Context, apigen.DeleteWorkerRequestObject) (apigen.DeleteWorkerResponseObject, error) {
	return nil, errNotImplemented
}

// GetUsage reports usage and limits.
func (s *Server) GetUsage(context.Context, apigen.GetUsageRequestObject) (apigen.GetUsageResponseObject, error) {
	return nil, errNotImplemented
}

// ListAlerts lists the caller's alerts.
func (s *Server) ListAlerts(context.Context, apigen.ListAlertsRequestObject) (apigen.ListAlertsResponseObject, error) {
	return nil, errNotImplemented
}

// EchoStore stores a webhook test payload.
func (s *Server) EchoStore(context.Context, apigen.EchoStoreRequestObject) (apigen.EchoStoreResponseObject, error) {
	return nil, errNotImplemented
}

// EchoRetrieve reads a stored test payload.
func (s *Server) EchoRetrieve(context.Context, apigen.EchoRetrieveRequestObject) (apigen.EchoRetrieveResponseObject, error) {
	return nil, errNotImplemented
}
