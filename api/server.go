package api

import (
	"context"
	"encoding/json"
	"time"

	"github.com/cueapi/cueapi/api/apigen"
	"github.com/cueapi/cueapi/core"
)

// Version is reported by /health: the binary's one version string.
var Version = core.Version()

// Server implements apigen.StrictServerInterface: it decodes DTOs, calls
// core, and encodes the answer. It holds no business rules.
type Server struct {
	deps Deps
}

var _ apigen.StrictServerInterface = (*Server)(nil)

func (s *Server) user(ctx context.Context) (*core.User, error) {
	p := principalFrom(ctx)
	if p == nil {
		return nil, core.ErrMissingAuth
	}
	return p.User, nil
}

func pyTime(t time.Time) string { return core.PyTime(t) }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func confirmed(h *string) bool { return h != nil && *h == "true" }

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

// ---- health ----

// Health reports liveness with component detail; always 200.
func (s *Server) Health(ctx context.Context, _ apigen.HealthRequestObject) (apigen.HealthResponseObject, error) {
	return apigen.Health200JSONResponse(s.deps.Health.Report(ctx)), nil
}

// Status reports readiness: 503 when the store (or Redis, when configured)
// is unreachable.
func (s *Server) Status(ctx context.Context, _ apigen.StatusRequestObject) (apigen.StatusResponseObject, error) {
	st, reason, ok := s.deps.Health.Ready(ctx)
	body := apigen.StatusResponse{Status: apigen.StatusResponseStatus(st)}
	if reason != "" {
		body.Reason = &reason
	}
	if !ok {
		return apigen.Status503JSONResponse(body), nil
	}
	return apigen.Status200JSONResponse(body), nil
}

// ---- auth and account ----

// Register creates an account.
func (s *Server) Register(ctx context.Context, req apigen.RegisterRequestObject) (apigen.RegisterResponseObject, error) {
	key, u, err := s.deps.Accounts.Register(ctx, req.Body.Email)
	if err != nil {
		return nil, err
	}
	return apigen.Register201JSONResponse{APIKey: key, Email: u.Email}, nil
}

// RegenerateKey rotates the caller's API key.
func (s *Server) RegenerateKey(ctx context.Context, req apigen.RegenerateKeyRequestObject) (apigen.RegenerateKeyResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	key, err := s.deps.Accounts.RegenerateKey(ctx, u, confirmed((*string)(req.Params.XConfirmDestructive)))
	if err != nil {
		return nil, err
	}
	return apigen.RegenerateKey200JSONResponse{APIKey: key, PreviousKeyRevoked: true}, nil
}

// RevealKey shows the caller's key when a sealed copy exists.
func (s *Server) RevealKey(ctx context.Context, _ apigen.RevealKeyRequestObject) (apigen.RevealKeyResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	r := s.deps.Accounts.RevealKey(ctx, u)
	out := apigen.RevealKeyResponse{APIKey: r.Key}
	if r.Key == nil {
		out.Prefix, out.Message = &r.Prefix, &r.Message
	}
	return apigen.RevealKey200JSONResponse(out), nil
}

// GetMe returns the account summary.
func (s *Server) GetMe(ctx context.Context, _ apigen.GetMeRequestObject) (apigen.GetMeResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	me, err := s.deps.Accounts.GetMe(ctx, u)
	if err != nil {
		return nil, err
	}
	if me.ExecutionsThisMonth, err = s.deps.Usage.ExecutionsThisMonth(ctx, u); err != nil {
		return nil, err
	}
	return apigen.GetMe200JSONResponse{
		Email: me.User.Email, Plan: me.User.Plan, ActiveCues: me.ActiveCues, ActiveCueLimit: me.User.ActiveCueLimit,
		ExecutionsThisMonth: me.ExecutionsThisMonth, MonthlyExecutionLimit: me.User.MonthlyExecutionLimit,
		RateLimitPerMinute: me.User.RateLimitPerMinute, HasWebhookSecret: me.HasWebhookSecret, APIKeyPrefix: me.User.APIKeyPrefix,
	}, nil
}

// UpdateMe changes the email or the alert webhook URL.
func (s *Server) UpdateMe(ctx context.Context, req apigen.UpdateMeRequestObject) (apigen.UpdateMeResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	at, err := s.deps.Accounts.UpdateMe(ctx, u, core.UpdateMeInput{Email: req.Body.Email, AlertWebhookURL: req.Body.AlertWebhookURL})
	if err != nil {
		return nil, err
	}
	return apigen.UpdateMe200JSONResponse{UpdatedAt: pyTime(at)}, nil
}

// GetAlertWebhookSecret returns (and lazily creates) the alert secret.
func (s *Server) GetAlertWebhookSecret(ctx context.Context, _ apigen.GetAlertWebhookSecretRequestObject) (apigen.GetAlertWebhookSecretResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	sec, err := s.deps.Accounts.AlertWebhookSecret(ctx, u)
	if err != nil {
		return nil, err
	}
	return apigen.GetAlertWebhookSecret200JSONResponse{AlertWebhookSecret: sec}, nil
}

// RegenerateAlertWebhookSecret replaces the alert secret.
func (s *Server) RegenerateAlertWebhookSecret(ctx context.Context, req apigen.RegenerateAlertWebhookSecretRequestObject) (apigen.RegenerateAlertWebhookSecretResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	sec, err := s.deps.Accounts.RegenerateAlertWebhookSecret(ctx, u, confirmed((*string)(req.Params.XConfirmDestructive)))
	if err != nil {
		return nil, err
	}
	return apigen.RegenerateAlertWebhookSecret200JSONResponse{AlertWebhookSecret: sec, PreviousSecretRevoked: true}, nil
}

// GetWebhookSecret returns the webhook signing secret.
func (s *Server) GetWebhookSecret(ctx context.Context, _ apigen.GetWebhookSecretRequestObject) (apigen.GetWebhookSecretResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	sec, err := s.deps.Accounts.WebhookSecret(ctx, u)
	if err != nil {
		return nil, err
	}
	return apigen.GetWebhookSecret200JSONResponse{WebhookSecret: sec}, nil
}

// RegenerateWebhookSecret replaces the webhook signing secret.
func (s *Server) RegenerateWebhookSecret(ctx context.Context, req apigen.RegenerateWebhookSecretRequestObject) (apigen.RegenerateWebhookSecretResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	sec, err := s.deps.Accounts.RegenerateWebhookSecret(ctx, u, confirmed((*string)(req.Params.XConfirmDestructive)))
	if err != nil {
		return nil, err
	}
	return apigen.RegenerateWebhookSecret200JSONResponse{WebhookSecret: sec, PreviousSecretRevoked: true}, nil
}

// RefreshSession issues a new 24-hour session JWT.
func (s *Server) RefreshSession(ctx context.Context, _ apigen.RefreshSessionRequestObject) (apigen.RefreshSessionResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := s.deps.Accounts.RefreshSession(ctx, u)
	if err != nil {
		return nil, err
	}
	return apigen.RefreshSession200JSONResponse{SessionToken: tok, Email: u.Email}, nil
}

// ---- cues ----

func cueInputFromCreate(b *apigen.CreateCueRequest) *core.CueInput {
	in := &core.CueInput{
		Name: &b.Name, Description: b.Description, Schedule: scheduleIn(&b.Schedule), Callback: callbackIn(b.Callback),
		Retry: retryIn(b.Retry), OnFailure: onFailureIn(b.OnFailure), OutcomeDeadlineSeconds: b.OutcomeDeadlineSeconds,
	}
	if b.Transport != nil {
		t := string(*b.Transport)
		in.Transport = &t
	}
	if b.Payload != nil {
		in.Payload = *b.Payload
	}
	in.Verification, in.VerificationSet = verificationIn(b.Verification)
	if b.CatchUp != nil {
		c := string(*b.CatchUp)
		in.CatchUp = &c
	}
	return in
}

func cueInputFromUpdate(b *apigen.UpdateCueRequest) *core.CueInput {
	in := &core.CueInput{
		Name: b.Name, Description: b.Description, Status: b.Status, Callback: callbackIn(b.Callback),
		Retry: retryIn(b.Retry), OnFailure: onFailureIn(b.OnFailure), OutcomeDeadlineSeconds: b.OutcomeDeadlineSeconds,
	}
	if b.Schedule != nil {
		in.Schedule = scheduleIn(b.Schedule)
	}
	if b.Payload != nil {
		in.Payload = *b.Payload
	}
	in.Verification, in.VerificationSet = verificationIn(b.Verification)
	if b.CatchUp != nil {
		c := string(*b.CatchUp)
		in.CatchUp = &c
	}
	return in
}

func scheduleIn(s *apigen.ScheduleInput) *core.ScheduleInput {
	return &core.ScheduleInput{Type: s.Type, Cron: s.Cron, At: s.At, Timezone: s.Timezone}
}

func callbackIn(c *apigen.CallbackInput) *core.CallbackInput {
	if c == nil {
		return nil
	}
	out := &core.CallbackInput{URL: c.URL}
	if c.Method != nil {
		m := string(*c.Method)
		out.Method = &m
	}
	if c.Headers != nil {
		out.Headers = *c.Headers
	}
	switch v := c.Transport.(type) {
	case nil:
	case string:
		out.TransportSet = v != ""
	default:
		out.TransportSet = true
	}
	return out
}

func retryIn(r *apigen.RetryPolicyInput) *core.RetryInput {
	if r == nil {
		return nil
	}
	out := &core.RetryInput{MaxAttempts: r.MaxAttempts}
	if r.BackoffMinutes != nil {
		out.BackoffMinutes = *r.BackoffMinutes
	}
	return out
}

func onFailureIn(o *apigen.OnFailureInput) *core.OnFailureInput {
	if o == nil {
		return nil
	}
	return &core.OnFailureInput{Email: o.Email, Webhook: o.Webhook, Pause: o.Pause}
}

func verificationIn(v *apigen.VerificationInput) (*string, bool) {
	if v == nil {
		return nil, false
	}
	mode := ""
	if v.Mode != nil {
		mode = string(*v.Mode)
	}
	return &mode, true
}

func cueOut(c *core.Cue, warning *string) apigen.Cue {
	out := apigen.Cue{
		ID: string(c.ID), Name: c.Name, Description: c.Description, Status: apigen.CueStatus(c.Status),
		Transport: apigen.Transport(c.Transport),
		Schedule:  apigen.Schedule{Type: apigen.ScheduleType(c.Schedule.Type), Timezone: c.Schedule.Timezone, Cron: c.Schedule.Cron},
		Callback:  apigen.Callback{URL: c.Callback.URL, Method: apigen.HTTPMethod(c.Callback.Method), Headers: c.Callback.Headers},
		Payload:   c.Payload,
		Retry:     apigen.RetryPolicy{MaxAttempts: c.Retry.MaxAttempts, BackoffMinutes: c.Retry.BackoffMinutes},
		OnFailure: &apigen.OnFailure{Email: c.OnFailure.Email, Webhook: c.OnFailure.Webhook, Pause: c.OnFailure.Pause},
		CatchUp:   apigen.CatchUpPolicy(c.CatchUp), OutcomeDeadlineSeconds: c.OutcomeDeadlineSeconds,
		NextRun: utcPtr(c.NextRun), LastRun: utcPtr(c.LastRun), RunCount: c.RunCount, FiredCount: c.FiredCount,
		Warning: warning, CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC(),
	}
	if c.Schedule.At != nil {
		at := pyTime(*c.Schedule.At)
		out.Schedule.At = &at
	}
	if out.Callback.Headers == nil {
		out.Callback.Headers = map[string]string{}
	}
	if out.Retry.BackoffMinutes == nil {
		out.Retry.BackoffMinutes = []int{}
	}
	if len(out.Payload) == 0 {
		out.Payload = json.RawMessage(`{}`)
	}
	if c.Verification != nil {
		out.Verification = &apigen.Verification{Mode: apigen.VerificationMode(*c.Verification)}
	}
	return out
}

func rawPtr(b json.RawMessage) *json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return &b
}

func executionOut(e *core.Execution) apigen.Execution {
	out := apigen.Execution{
		ID: string(e.ID), CueID: string(e.CueID), ScheduledFor: e.ScheduledFor.UTC(), Status: apigen.ExecutionStatus(e.Status),
		HTTPStatus: e.HTTPStatus, Attempts: e.Attempts, ErrorMessage: e.ErrorMessage, StartedAt: utcPtr(e.StartedAt),
		DeliveredAt: utcPtr(e.DeliveredAt), LastAttemptAt: utcPtr(e.LastAttemptAt), CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC(),
		TriggeredBy: e.TriggeredBy, ClaimedByWorker: e.ClaimedByWorker, ClaimedAt: utcPtr(e.ClaimedAt),
		LeaseExpiresAt: utcPtr(e.LeaseExpiresAt), NextRetry: utcPtr(e.NextRetry),
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
		out.Outcome = &apigen.Outcome{Success: o.Success, Result: o.Result, Error: o.Error, Metadata: rawPtr(o.Metadata), RecordedAt: o.RecordedAt.UTC()}
		ev := e.Evidence
		out.Evidence = &apigen.Evidence{
			ExternalID: ev.ExternalID, ResultURL: ev.ResultURL, ResultRef: ev.ResultRef, ResultType: ev.ResultType,
			Summary: ev.Summary, Artifacts: rawPtr(ev.Artifacts), Metadata: rawPtr(ev.Metadata),
			ValidationState: ev.ValidationState, ProducedAt: utcPtr(ev.ProducedAt),
		}
	}
	return out
}

// CreateCue creates a cue.
func (s *Server) CreateCue(ctx context.Context, req apigen.CreateCueRequestObject) (apigen.CreateCueResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	created, err := s.deps.Cues.Create(ctx, u, cueInputFromCreate(req.Body))
	if err != nil {
		return nil, err
	}
	return apigen.CreateCue201JSONResponse(cueOut(created.Cue, created.Warning)), nil
}

// ListCues lists the caller's cues, newest first.
func (s *Server) ListCues(ctx context.Context, req apigen.ListCuesRequestObject) (apigen.ListCuesResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	limit, offset := intOr(req.Params.Limit, 50), intOr(req.Params.Offset, 0)
	cues, total, err := s.deps.Cues.List(ctx, u, req.Params.Status, limit, offset)
	if err != nil {
		return nil, err
	}
	out := apigen.CueList{Cues: make([]apigen.Cue, 0, len(cues)), Total: total, Limit: limit, Offset: offset}
	for _, c := range cues {
		out.Cues = append(out.Cues, cueOut(c, nil))
	}
	return apigen.ListCues200JSONResponse(out), nil
}

// GetCue returns a cue with a page of its executions.
func (s *Server) GetCue(ctx context.Context, req apigen.GetCueRequestObject) (apigen.GetCueResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	limit, offset := intOr(req.Params.ExecutionLimit, 10), intOr(req.Params.ExecutionOffset, 0)
	d, err := s.deps.Cues.Detail(ctx, u, core.CueID(req.CueID), limit, offset)
	if err != nil {
		return nil, err
	}
	c := cueOut(d.Cue, nil)
	out := apigen.CueDetail{
		ID: c.ID, Name: c.Name, Description: c.Description, Status: c.Status, Transport: c.Transport,
		Schedule: c.Schedule, Callback: c.Callback, Payload: c.Payload, Retry: c.Retry, OnFailure: c.OnFailure,
		Verification: c.Verification, CatchUp: c.CatchUp, OutcomeDeadlineSeconds: c.OutcomeDeadlineSeconds,
		NextRun: c.NextRun, LastRun: c.LastRun, RunCount: c.RunCount, FiredCount: c.FiredCount, Warning: nil,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		Executions: make([]apigen.Execution, 0, len(d.Executions)), ExecutionTotal: d.Total,
		ExecutionLimit: limit, ExecutionOffset: offset,
	}
	for _, e := range d.Executions {
		out.Executions = append(out.Executions, executionOut(e))
	}
	return apigen.GetCue200JSONResponse(out), nil
}

// UpdateCue applies a partial update.
func (s *Server) UpdateCue(ctx context.Context, req apigen.UpdateCueRequestObject) (apigen.UpdateCueResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.deps.Cues.Update(ctx, u, core.CueID(req.CueID), cueInputFromUpdate(req.Body))
	if err != nil {
		return nil, err
	}
	return apigen.UpdateCue200JSONResponse(cueOut(c, nil)), nil
}

// DeleteCue deletes a cue and its executions.
func (s *Server) DeleteCue(ctx context.Context, req apigen.DeleteCueRequestObject) (apigen.DeleteCueResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.deps.Cues.Delete(ctx, u, core.CueID(req.CueID)); err != nil {
		return nil, err
	}
	return apigen.DeleteCue204Response{}, nil
}
