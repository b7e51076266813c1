package api

import (
	"context"
	"encoding/json"
	"strings"

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
	if b.Verification != nil {
		in.RequiredAssertions = b.Verification.RequiredAssertions
	}
	if b.CatchUp != nil {
		c := string(*b.CatchUp)
		in.CatchUp = &c
	}
	in.RequirePayloadOverride, in.RequiredPayloadKeys = b.RequirePayloadOverride, b.RequiredPayloadKeys
	return hostedIn(in, b.Delivery, b.Alerts, b.OnSuccessFire)
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
	if b.Verification != nil {
		in.RequiredAssertions = b.Verification.RequiredAssertions
	}
	if b.CatchUp != nil {
		c := string(*b.CatchUp)
		in.CatchUp = &c
	}
	in.RequirePayloadOverride, in.RequiredPayloadKeys = b.RequirePayloadOverride, b.RequiredPayloadKeys
	return hostedIn(in, b.Delivery, b.Alerts, b.OnSuccessFire)
}

// isNull reports whether a raw JSON value is null.
func isNull(raw json.RawMessage) bool { return strings.TrimSpace(string(raw)) == "null" }

// hostedIn copies the hosted fields whose null means "clear" (absent keys
// stay unset). The request validator has checked their types.
func hostedIn(in *core.CueInput, delivery, alerts, onSuccessFire json.RawMessage) *core.CueInput {
	if len(delivery) > 0 {
		in.DeliverySet = true
		if !isNull(delivery) {
			var d apigen.DeliveryInput
			if err := json.Unmarshal(delivery, &d); err == nil {
				in.Delivery = &core.DeliveryInput{TimeoutSeconds: d.TimeoutSeconds, OutcomeDeadlineSeconds: d.OutcomeDeadlineSeconds}
			} else {
				in.Delivery = &core.DeliveryInput{}
			}
		}
	}
	if len(alerts) > 0 {
		in.AlertsSet = true
		if !isNull(alerts) {
			in.Alerts = alerts
		}
	}
	if len(onSuccessFire) > 0 {
		in.OnSuccessFireSet = true
		var id string
		if !isNull(onSuccessFire) && json.Unmarshal(onSuccessFire, &id) == nil {
			in.OnSuccessFire = &id
		}
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
		CatchUp:   apigen.CatchUpPolicy(c.CatchUp.ClientName()), OutcomeDeadlineSeconds: c.OutcomeDeadlineSeconds,
		RequirePayloadOverride: c.RequirePayloadOverride, RequiredPayloadKeys: strsOut(c.RequiredPayloadKeys),
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
		out.Verification = &apigen.Verification{Mode: apigen.VerificationMode(*c.Verification), RequiredAssertions: strsOut(c.RequiredAssertions)}
	}
	if c.Delivery != nil {
		d := apigen.Delivery{TimeoutSeconds: c.Delivery.TimeoutSeconds, OutcomeDeadlineSeconds: core.DefaultDeliveryOutcomeDeadline}
		if c.OutcomeDeadlineSeconds != nil {
			d.OutcomeDeadlineSeconds = *c.OutcomeDeadlineSeconds
		}
		out.Delivery = &d
	}
	if c.Alerts != nil {
		a := c.Alerts
		out.Alerts = &a
	}
	if c.OnSuccessFire != nil {
		id := string(*c.OnSuccessFire)
		out.OnSuccessFire = &id
	}
	return out
}

// strsOut renders a string list that may be null.
func strsOut(v []string) *[]string {
	if v == nil {
		return nil
	}
	return &v
}

// CreateCue creates a cue.
func (s *Server) CreateCue(ctx context.Context, req apigen.CreateCueRequestObject) (apigen.CreateCueResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	in := cueInputFromCreate(req.Body)
	if k := req.Params.IdempotencyKey; k != nil {
		fp, err := core.Fingerprint(req.Body)
		if err != nil {
			return nil, err
		}
		in.IdempotencyKey, in.Fingerprint = (*string)(k), fp
	}
	created, err := s.deps.Cues.Create(ctx, u, in)
	if err != nil {
		return nil, err
	}
	if created.Replayed {
		return apigen.CreateCue200JSONResponse(cueOut(created.Cue, nil)), nil
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
	r := cueListResponse(out)
	return &r, nil
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
		RequirePayloadOverride: c.RequirePayloadOverride, RequiredPayloadKeys: c.RequiredPayloadKeys,
		Delivery: c.Delivery, Alerts: c.Alerts, OnSuccessFire: c.OnSuccessFire, Stats: statsOut(d.Stats),
		Executions: make([]apigen.Execution, 0, len(d.Executions)), ExecutionTotal: d.Total,
		ExecutionLimit: limit, ExecutionOffset: offset,
	}
	for _, e := range d.Executions {
		out.Executions = append(out.Executions, executionOut(e))
	}
	r := cueDetailResponse(out)
	return &r, nil
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

func statsOut(st *core.CueStats) *apigen.CueStats {
	if st == nil {
		return nil
	}
	return &apigen.CueStats{
		WindowDays: st.WindowDays, Executions: st.Executions, Succeeded: st.Succeeded, Failed: st.Failed,
		Missed: st.Missed, SuccessRate: st.SuccessRate, MissRate: st.MissRate,
	}
}

// BulkDeleteCues deletes several cues, each on its own.
func (s *Server) BulkDeleteCues(ctx context.Context, req apigen.BulkDeleteCuesRequestObject) (apigen.BulkDeleteCuesResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	res, err := s.deps.Cues.BulkDelete(ctx, u, req.Body.Ids, confirmed((*string)(req.Params.XConfirmDestructive)))
	if err != nil {
		return nil, err
	}
	out := apigen.BulkDeleteResponse{Deleted: make([]string, len(res.Deleted)), Skipped: make([]string, len(res.Skipped))}
	for i, id := range res.Deleted {
		out.Deleted[i] = string(id)
	}
	for i, id := range res.Skipped {
		out.Skipped[i] = string(id)
	}
	return apigen.BulkDeleteCues200JSONResponse(out), nil
}
