package api

import (
	"context"
	"encoding/json"

	"github.com/cueapi/cueapi/api/apigen"
	"github.com/cueapi/cueapi/core"
)

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
