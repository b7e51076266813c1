package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cueapi/cueapi/core/canonjson"
)

// Outcome limits.
const (
	MaxOutcomeText     = 2000
	MaxMetadataBytes   = 10_240
	MaxEvidenceSummary = 500
	// MaxEvidenceID and MaxResultType are the column sizes (the reference's
	// schema allowed 500/100 and then failed in the database).
	MaxEvidenceID = 255
	MaxResultType = 50
)

// Outcomes records what handlers report and the verification of it. Safe
// for concurrent use.
type Outcomes struct {
	store       ExecutionStore
	alerts      *Alerts
	clock       Clock
	onSucceeded func(ctx context.Context, e *Execution, c *Cue)
	obs         Observer
}

// OnSucceeded registers a callback run after an outcome report or a manual
// verification settled an execution as a success (on-success chaining).
func (s *Outcomes) OnSucceeded(fn func(ctx context.Context, e *Execution, c *Cue)) {
	s.onSucceeded = fn
}

// SucceededWithoutCheck reports whether a successful delivery of e settles
// it: no verification mode other than none and no required assertions.
func SucceededWithoutCheck(e *Execution, c *Cue) bool {
	return (c.Verification == nil || *c.Verification == VerifyNone) && len(RequiredAssertionsOf(e, c)) == 0
}

// settledSuccess reports whether e's outcome makes it a success that may
// chain: success status (worker) or a reported success (webhook), with an
// outcome state of reported_success or verified_success.
func settledSuccess(e *Execution) bool {
	if e.Outcome == nil || !e.Outcome.Success || e.OutcomeState == nil {
		return false
	}
	return *e.OutcomeState == OutcomeReportedSuccess || *e.OutcomeState == OutcomeVerifiedSuccess
}

// NewOutcomes wires the outcomes service; alerts and succeeded (run after
// an outcome report or a manual verification settled an execution as a
// success: on-success chaining) may be nil.
func NewOutcomes(store ExecutionStore, alerts *Alerts, clock Clock, succeeded func(ctx context.Context, e *Execution, c *Cue)) *Outcomes {
	return &Outcomes{store: store, alerts: alerts, clock: clock, onSucceeded: succeeded, obs: NopObserver{}}
}

// OutcomeInput is a reported outcome with its evidence.
type OutcomeInput struct {
	Success    bool
	Result     *string
	Error      *string
	Metadata   json.RawMessage
	ExternalID *string
	ResultURL  *string
	ResultRef  *string
	ResultType *string
	Summary    *string
	Artifacts  json.RawMessage
	// Assertions maps assertion keys to values (clients.md §2.4.6).
	Assertions json.RawMessage
}

var (
	errOutcomeRecorded = Conflict("outcome_already_recorded", "Outcome has already been recorded for this execution")
	errMetadataSize    = Invalid("metadata_too_large", "Outcome metadata must be under 10KB")
)

func hasNUL(s *string) bool { return s != nil && strings.ContainsRune(*s, 0) }

// rawHasNUL reports whether a JSON value carries U+0000 anywhere.
func rawHasNUL(raw json.RawMessage) bool {
	if len(raw) == 0 {
		return false
	}
	nul, err := canonjson.ContainsNUL(raw)
	return err != nil || nul
}

// nonEmptyJSON reports whether raw is present and not null/[]/{}.
func nonEmptyJSON(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s != "" && s != "null" && s != "[]" && s != "{}" && s != `""`
}

func nonEmpty(s *string) bool { return s != nil && *s != "" }

// textField is an optional string body field with its length limit.
type textField struct {
	name string
	v    *string
	max  int
}

// checkTexts returns the length and NUL problems of fields.
func checkTexts(fields []textField) []FieldError {
	var errs []FieldError
	for _, f := range fields {
		switch {
		case f.v == nil:
		case len([]rune(*f.v)) > f.max:
			errs = append(errs, Body(f.name).TooLong(f.max))
		case hasNUL(f.v):
			errs = append(errs, Body(f.name).HasNul(TypeString))
		}
	}
	return errs
}

// validateOutcome covers what the schema cannot (and, defensively, what it
// can): lengths, and NUL characters, which PostgreSQL text and jsonb refuse.
func validateOutcome(in *OutcomeInput) error {
	errs := checkTexts([]textField{
		{"result", in.Result, MaxOutcomeText}, {"error", in.Error, MaxOutcomeText},
		{"external_id", in.ExternalID, MaxEvidenceID}, {"result_ref", in.ResultRef, MaxEvidenceID},
		{"result_type", in.ResultType, MaxResultType}, {"summary", in.Summary, MaxEvidenceSummary},
		{"result_url", in.ResultURL, MaxURLLength},
	})
	if len(errs) == 0 && in.ResultURL != nil && *in.ResultURL != "" {
		if fe, ok := checkURLType(Body("result_url"), *in.ResultURL); !ok {
			errs = append(errs, fe)
		}
	}
	if rawHasNUL(in.Metadata) {
		errs = append(errs, Body("metadata").HasNul(TypeObject))
	}
	if rawHasNUL(in.Artifacts) {
		errs = append(errs, Body("artifacts").HasNul(TypeArray))
	}
	if err := Validation(errs...); err != nil {
		return err
	}
	if err := checkJSONShape(Body("metadata"), in.Metadata); err != nil {
		return err
	}
	if a := strings.TrimSpace(string(in.Assertions)); a != "" && a != "null" {
		if !strings.HasPrefix(a, "{") || rawHasNUL(in.Assertions) {
			return Body("assertions").NotA(TypeObject).Err()
		}
		if len(a) > MaxMetadataBytes {
			return Body("assertions").Because("Assertions must be at most 10240 bytes serialized").Err()
		}
		if err := checkJSONShape(Body("assertions"), in.Assertions); err != nil {
			return err
		}
	}
	return checkJSONShape(Body("artifacts"), in.Artifacts)
}

// OutcomeStateFor is the verification state of a reported outcome.
func OutcomeStateFor(success bool, mode *VerificationMode, ev *Evidence, artifacts json.RawMessage) (OutcomeState, *string) {
	if !success {
		return OutcomeReportedFailure, nil
	}
	m := VerifyNone
	if mode != nil {
		m = *mode
	}
	var ok bool
	switch m {
	case VerifyManual:
		return OutcomeVerificationPending, nil
	case VerifyRequireExternalID:
		ok = nonEmpty(ev.ExternalID)
	case VerifyRequireResultURL:
		ok = nonEmpty(ev.ResultURL)
	case VerifyRequireArtifacts:
		ok = nonEmptyJSON(artifacts)
	default:
		return OutcomeReportedSuccess, nil
	}
	valid, invalid := "valid", "invalid"
	if ok {
		return OutcomeVerifiedSuccess, &valid
	}
	return OutcomeVerificationFailed, &invalid
}

// Report records an execution's outcome exactly once. Concurrent reports
// are serialized by the store: exactly one wins, the others get 409.
func (s *Outcomes) Report(ctx context.Context, u *User, id ExecutionID, in *OutcomeInput) (*Execution, error) {
	if err := validateOutcome(in); err != nil {
		return nil, err
	}
	metaSize := 0
	if len(in.Metadata) > 0 && strings.TrimSpace(string(in.Metadata)) != "null" {
		n, err := canonjson.PythonDefaultSize(in.Metadata)
		if err != nil {
			return nil, Body("metadata").NotA(TypeObject).Err()
		}
		metaSize = n
	}
	now := s.clock.Now()
	var cue *Cue
	e, err := s.store.ExecutionUpdate(ctx, &ExecutionUpdateParams{TenantID: u.ID, ID: id, Fn: func(e *Execution, c *Cue) (*CueEffect, error) {
		cue = c
		if e.Outcome != nil {
			return nil, errOutcomeRecorded
		}
		if metaSize > MaxMetadataBytes {
			return nil, errMetadataSize
		}
		o := &Outcome{Success: in.Success, Result: in.Result, Error: in.Error, RecordedAt: now}
		if nonEmptyJSON(in.Metadata) || strings.TrimSpace(string(in.Metadata)) == "{}" {
			o.Metadata = compactOrNil(in.Metadata)
		}
		e.Outcome = o
		ev := &e.Evidence
		applyEvidence(ev, &EvidenceInput{ExternalID: in.ExternalID, ResultRef: in.ResultRef, ResultType: in.ResultType, Summary: in.Summary, Artifacts: in.Artifacts})
		if in.ResultURL != nil { // an outcome's result_url is kept even when empty (reference)
			ev.ResultURL = in.ResultURL
		}
		if nonEmpty(in.ExternalID) || in.ResultURL != nil || nonEmptyJSON(in.Artifacts) {
			ev.ProducedAt = &now
		}
		state, vstate := OutcomeStateFor(in.Success, c.Verification, ev, in.Artifacts)
		if a := in.Assertions; len(a) > 0 && strings.TrimSpace(string(a)) != "null" {
			e.Assertions = compactOrNil(a)
		}
		if in.Success && len(MissingAssertions(RequiredAssertionsOf(e, c), e.Assertions)) > 0 {
			invalid := "invalid"
			state, vstate = OutcomeVerificationFailed, &invalid
		}
		e.OutcomeState = &state
		if vstate != nil {
			ev.ValidationState = vstate
		}
		e.OutcomeDeadlineAt = nil
		e.UpdatedAt = now
		if c.Transport != TransportWorker {
			return nil, nil
		}
		// A worker's outcome completes its execution.
		eff := &CueEffect{CountRun: true, SetLastRun: true, Now: now}
		e.LeaseExpiresAt = nil
		if in.Success {
			e.Status = ExecSuccess
			e.DeliveredAt = &now
			e.ErrorMessage = nil
			if c.Schedule.Type == ScheduleOnce && e.TriggeredBy == nil {
				st := CueCompleted
				eff.Status = &st
			}
		} else {
			e.Status = ExecFailed
			e.ErrorMessage = in.Error
			if c.Schedule.Type == ScheduleOnce && e.TriggeredBy == nil {
				st := CueFailed
				eff.Status = &st
			}
		}
		return eff, nil
	}})
	if errors.Is(err, ErrNotFound) {
		return nil, ErrExecutionNotFound
	}
	if err != nil {
		return nil, err
	}
	if e.OutcomeState != nil {
		s.obs.OutcomeRecorded(*e.OutcomeState)
	}
	if s.alerts != nil && cue != nil {
		if e.OutcomeState != nil && *e.OutcomeState == OutcomeVerificationFailed {
			s.alerts.VerificationFailed(ctx, e, cue)
		}
		// A run that did not fail cannot make a failure streak reach the
		// threshold (it can only end one), so only failures re-evaluate it.
		if runFailed(e) {
			s.alerts.RunFinished(ctx, u.ID, cue)
		}
	}
	if s.onSucceeded != nil && cue != nil && settledSuccess(e) {
		s.onSucceeded(ctx, e, cue)
	}
	return e, nil
}

func compactOrNil(raw json.RawMessage) json.RawMessage {
	c, err := canonjson.Compact(raw)
	if err != nil {
		return nil
	}
	return c
}

// VerifyResult is the answer of Verify.
type VerifyResult struct {
	State  OutcomeState
	Valid  bool
	Reason *string
}

// Verify settles a reported outcome by hand.
func (s *Outcomes) Verify(ctx context.Context, u *User, id ExecutionID, valid bool, reason *string) (*VerifyResult, error) {
	if hasNUL(reason) {
		return nil, Body("reason").HasNul(TypeString).Err()
	}
	now := s.clock.Now()
	var out VerifyResult
	var cue *Cue
	e, err := s.store.ExecutionUpdate(ctx, &ExecutionUpdateParams{TenantID: u.ID, ID: id, Fn: func(e *Execution, c *Cue) (*CueEffect, error) {
		cue = c
		cur := "None"
		if e.OutcomeState != nil {
			cur = string(*e.OutcomeState)
		}
		switch cur {
		case string(OutcomeReportedSuccess), string(OutcomeReportedFailure), string(OutcomeVerificationPending):
		default:
			return nil, Conflict("invalid_state", fmt.Sprintf("Cannot verify from state '%s'", cur))
		}
		st, vs := OutcomeVerifiedSuccess, "valid"
		if !valid {
			st, vs = OutcomeVerificationFailed, "invalid"
			if nonEmpty(reason) {
				r := truncateRunes(*reason, MaxEvidenceSummary)
				if e.Evidence.Summary != nil && *e.Evidence.Summary != "" {
					r = truncateRunes(*e.Evidence.Summary+" | verification rejected: "+r, MaxEvidenceSummary)
				}
				e.Evidence.Summary = &r
			}
		}
		e.OutcomeState = &st
		e.Evidence.ValidationState = &vs
		e.UpdatedAt = now
		out = VerifyResult{State: st, Valid: valid, Reason: reason}
		return nil, nil
	}})
	if errors.Is(err, ErrNotFound) {
		return nil, ErrExecutionNotFound
	}
	if err != nil {
		return nil, err
	}
	s.obs.OutcomeRecorded(out.State)
	if s.onSucceeded != nil && cue != nil && settledSuccess(e) {
		s.onSucceeded(ctx, e, cue)
	}
	return &out, nil
}

// MarkVerificationPending reopens verification of a recorded outcome.
func (s *Outcomes) MarkVerificationPending(ctx context.Context, u *User, id ExecutionID) error {
	now := s.clock.Now()
	_, err := s.store.ExecutionUpdate(ctx, &ExecutionUpdateParams{TenantID: u.ID, ID: id, Fn: func(e *Execution, _ *Cue) (*CueEffect, error) {
		if e.Outcome == nil {
			return nil, &Error{Kind: KindConflict, Code: "no_outcome", Message: "No outcome recorded yet", OmitStatus: true}
		}
		st := OutcomeVerificationPending
		e.OutcomeState = &st
		e.UpdatedAt = now
		return nil, nil
	}})
	if errors.Is(err, ErrNotFound) {
		return NotFound("http_error", "Not Found")
	}
	return err
}

// EvidenceInput is an evidence PATCH; empty values are ignored.
type EvidenceInput struct {
	ExternalID, ResultURL, ResultRef, ResultType, Summary *string
	Artifacts, Metadata                                   json.RawMessage
}

// AppendEvidence adds evidence to a recorded outcome. A require_* mode is
// re-evaluated when new evidence could satisfy it (the reference never
// re-evaluated); manual decisions (verified/failed by hand) are kept.
func (s *Outcomes) AppendEvidence(ctx context.Context, u *User, id ExecutionID, in *EvidenceInput) (*Execution, error) {
	errs := checkTexts([]textField{{"external_id", in.ExternalID, MaxEvidenceID}, {"result_ref", in.ResultRef, MaxEvidenceID},
		{"result_type", in.ResultType, MaxResultType}, {"result_url", in.ResultURL, MaxURLLength}})
	if hasNUL(in.Summary) {
		errs = append(errs, Body("summary").HasNul(TypeString))
	}
	if rawHasNUL(in.Artifacts) {
		errs = append(errs, Body("artifacts").HasNul(TypeArray))
	}
	if rawHasNUL(in.Metadata) {
		errs = append(errs, Body("metadata").HasNul(TypeObject))
	}
	if err := Validation(errs...); err != nil {
		return nil, err
	}
	if err := checkJSONShape(Body("artifacts"), in.Artifacts); err != nil {
		return nil, err
	}
	if err := checkJSONShape(Body("metadata"), in.Metadata); err != nil {
		return nil, err
	}
	if len(in.Metadata) > 0 && strings.TrimSpace(string(in.Metadata)) != "null" {
		if n, err := canonjson.PythonDefaultSize(in.Metadata); err != nil || n > MaxMetadataBytes {
			return nil, errMetadataSize
		}
	}
	now := s.clock.Now()
	e, err := s.store.ExecutionUpdate(ctx, &ExecutionUpdateParams{TenantID: u.ID, ID: id, Fn: func(e *Execution, c *Cue) (*CueEffect, error) {
		if e.Outcome == nil {
			return nil, Conflict("no_outcome", "Report outcome first before appending evidence")
		}
		ev := &e.Evidence
		applyEvidence(ev, in)
		if e.OutcomeState != nil && *e.OutcomeState == OutcomeVerificationFailed && e.Outcome.Success &&
			ev.ValidationState != nil && *ev.ValidationState == "invalid" && c.Verification != nil {
			if st, vs := OutcomeStateFor(true, c.Verification, ev, ev.Artifacts); st == OutcomeVerifiedSuccess {
				e.OutcomeState, ev.ValidationState = &st, vs
			}
		}
		e.UpdatedAt = now
		return nil, nil
	}})
	if errors.Is(err, ErrNotFound) {
		return nil, ErrExecutionNotFound
	}
	return e, err
}

// applyEvidence overwrites the evidence fields given non-empty values; the
// summary is cut to MaxEvidenceSummary characters.
func applyEvidence(ev *Evidence, in *EvidenceInput) {
	for _, f := range []struct {
		dst **string
		v   *string
	}{{&ev.ExternalID, in.ExternalID}, {&ev.ResultURL, in.ResultURL}, {&ev.ResultRef, in.ResultRef}, {&ev.ResultType, in.ResultType}} {
		if nonEmpty(f.v) {
			*f.dst = f.v
		}
	}
	if nonEmpty(in.Summary) {
		sum := truncateRunes(*in.Summary, MaxEvidenceSummary)
		ev.Summary = &sum
	}
	if nonEmptyJSON(in.Artifacts) {
		ev.Artifacts = compactOrNil(in.Artifacts)
	}
	if nonEmptyJSON(in.Metadata) {
		ev.Metadata = compactOrNil(in.Metadata)
	}
}

// outcomeDeadline is when an execution delivered or claimed at now must
// report its outcome, or nil.
func outcomeDeadline(c *Cue, now time.Time) *time.Time {
	return OutcomeDeadline(now, c.OutcomeDeadlineSeconds)
}
