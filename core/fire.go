package core

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Merge strategies of a fire's payload_override.
const (
	MergeShallow = "merge"
	MergeReplace = "replace"
)

// MaxExitCriteria bounds a fire's exit_criteria.
const MaxExitCriteria = 20

// FireInput is the optional body of POST /v1/cues/{id}/fire (clients.md
// §2.2). Nil fields were absent or null.
type FireInput struct {
	SendAt          *string
	PayloadOverride json.RawMessage // a JSON object; nil or "null": none
	MergeStrategy   *string
	ExitCriteria    *[]string // [] opts out of the cue's required assertions
	IdempotencyKey  *string
}

// FireResult is a fire's answer: the execution, and whether it is the one
// an earlier request with the same idempotency key created.
type FireResult struct {
	Execution *Execution
	Payload   json.RawMessage // the effective payload
	Replayed  bool
}

// fireFingerprint is the canonical form of a fire body without its
// idempotency_key: the non-null options only, so absent and null agree.
type fireFingerprint struct {
	SendAt          *string         `json:"send_at,omitempty"`
	PayloadOverride json.RawMessage `json:"payload_override,omitempty"`
	MergeStrategy   *string         `json:"merge_strategy,omitempty"`
	ExitCriteria    *[]string       `json:"exit_criteria,omitempty"`
}

func (in *FireInput) override() json.RawMessage {
	if in == nil || len(in.PayloadOverride) == 0 || strings.TrimSpace(string(in.PayloadOverride)) == "null" {
		return nil
	}
	return in.PayloadOverride
}

// validateFire checks the fire body's structure (422) and returns the
// parsed send_at (nil: none).
func validateFire(in *FireInput) (*time.Time, error) {
	var errs []FieldError
	sendAt, fe := optionalTimestamp(Body("send_at"), in.SendAt)
	if fe != nil {
		errs = append(errs, *fe)
	}
	if o := in.override(); o != nil && !strings.HasPrefix(strings.TrimSpace(string(o)), "{") {
		errs = append(errs, Body("payload_override").NotA(TypeObject))
	}
	if m := in.MergeStrategy; m != nil && *m != MergeShallow && *m != MergeReplace {
		errs = append(errs, Body("merge_strategy").OneOf(MergeShallow, MergeReplace))
	}
	if in.ExitCriteria != nil {
		errs = append(errs, checkKeyList(Body("exit_criteria"), *in.ExitCriteria, MaxExitCriteria, MaxAssertionKeyLen)...)
	}
	if fe := checkIdempotencyKey(Body("idempotency_key"), in.IdempotencyKey); fe != nil {
		errs = append(errs, *fe)
	}
	return sendAt, Validation(errs...)
}

// EffectivePayload is what a fire with override and strategy delivers
// (clients.md §2.2.3): the cue payload with the override's top-level keys
// written over it (merge, shallow), the override alone (replace), or the
// cue payload (no override). The result is checked like a cue payload.
func EffectivePayload(cuePayload, override json.RawMessage, strategy *string) (json.RawMessage, error) {
	if override == nil {
		return cuePayload, nil
	}
	var over map[string]json.RawMessage
	if err := json.Unmarshal(override, &over); err != nil || over == nil {
		return nil, Body("payload_override").NotA(TypeObject).Err()
	}
	out := over
	if strategy == nil || *strategy == MergeShallow {
		base := map[string]json.RawMessage{}
		if len(cuePayload) > 0 {
			if err := json.Unmarshal(cuePayload, &base); err != nil {
				return nil, fmt.Errorf("cue payload: %w", err)
			}
		}
		for k, v := range over {
			base[k] = v
		}
		out = base
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	p, err := checkPayload(raw)
	if err != nil {
		var ce *Error
		if errors.As(err, &ce) && ce.Code == CodeValidation {
			return nil, Body("payload_override").NotA(TypeObject).Err()
		}
		return nil, err
	}
	return p, nil
}

// enforceFire applies the cue's per-fire requirements (clients.md
// §2.2.6) to the effective payload.
func enforceFire(c *Cue, override, payload json.RawMessage) error {
	if c.RequirePayloadOverride && override == nil {
		return Invalid("payload_override_required", "This cue requires payload_override on every fire")
	}
	if len(c.RequiredPayloadKeys) == 0 {
		return nil
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(payload, &keys); err != nil {
		return fmt.Errorf("effective payload: %w", err)
	}
	var missing []string
	need := map[string]bool{}
	for _, k := range c.RequiredPayloadKeys {
		need[k] = true
		if _, ok := keys[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		e := Invalid("missing_required_payload_keys", "Missing required payload keys: "+strings.Join(missing, ", "))
		e.MissingKeys = missing
		return e
	}
	if need["message"] && need["instruction"] && !bytes.Equal(keys["message"], keys["instruction"]) {
		return Invalid("inconsistent_message_instruction", "payload.message and payload.instruction must be identical")
	}
	return nil
}

// Fire creates a manual execution of the cue, whatever its status, and
// without touching its schedule, counters or lifecycle (a manual run of a
// one-time cue does not complete it). The order of checks is clients.md
// §2.2.1: body validation, cue lookup, idempotency, enforcement, create.
func (s *Executions) Fire(ctx context.Context, u *User, cueID CueID, in *FireInput) (*FireResult, error) {
	if in == nil {
		in = &FireInput{}
	}
	sendAt, err := validateFire(in)
	if err != nil {
		return nil, err
	}
	c, err := s.store.CueGet(ctx, &CueGetParams{TenantID: u.ID, ID: cueID})
	if errors.Is(err, ErrNotFound) {
		return nil, ErrCueNotFound
	}
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	var claim *IdempotencyClaim
	if in.IdempotencyKey != nil {
		fp, err := Fingerprint(fireFingerprint{SendAt: in.SendAt, PayloadOverride: in.override(), MergeStrategy: in.MergeStrategy, ExitCriteria: in.ExitCriteria})
		if err != nil {
			return nil, Body("payload_override").NotA(TypeObject).Err()
		}
		scope := scopeFire + string(c.ID)
		rec, err := liveRecord(ctx, s.store, u.ID, scope, *in.IdempotencyKey, now)
		if err != nil {
			return nil, err
		}
		if rec != nil {
			return s.replayFire(ctx, u, c, rec, fp)
		}
		claim = newClaim(scope, *in.IdempotencyKey, fp, now)
	}
	override := in.override()
	payload, err := EffectivePayload(c.Payload, override, in.MergeStrategy)
	if err != nil {
		return nil, err
	}
	if err := enforceFire(c, override, payload); err != nil {
		return nil, err
	}
	trig := TriggerManualFire
	e := &Execution{
		ID: NewExecutionID(), CueID: c.ID, TenantID: c.TenantID, ScheduledFor: now, Status: ExecPending,
		TriggeredBy: &trig, CreatedAt: now, UpdatedAt: now, RequiredAssertions: in.ExitCriteria,
		Destination: c.Destination(),
	}
	if sendAt != nil && sendAt.After(now) {
		e.ScheduledFor = *sendAt
	}
	if override != nil {
		e.Payload, e.PayloadOverride = payload, compactOrNil(override)
		strategy := MergeShallow
		if in.MergeStrategy != nil {
			strategy = *in.MergeStrategy
		}
		e.MergeStrategy = &strategy
	}
	created, err := s.create(ctx, e, claim)
	var held *IdempotencyHeld
	if errors.As(err, &held) {
		return s.replayFire(ctx, u, c, held.Record, claim.Fingerprint)
	}
	if err != nil {
		return nil, err
	}
	return &FireResult{Execution: created, Payload: created.EffectivePayload(c)}, nil
}

// replayFire answers a fire whose idempotency key is bound: the original
// execution for the same body, 409 for another.
func (s *Executions) replayFire(ctx context.Context, u *User, c *Cue, rec *IdempotencyRecord, fingerprint string) (*FireResult, error) {
	if rec.ExecutionID == nil {
		return nil, fmt.Errorf("idempotency record %q has no execution", rec.Key)
	}
	if rec.Fingerprint != fingerprint {
		return nil, idempotencyConflict("execution: " + string(*rec.ExecutionID))
	}
	e, err := s.Get(ctx, u, *rec.ExecutionID)
	if err != nil {
		return nil, err
	}
	return &FireResult{Execution: e, Payload: e.EffectivePayload(c), Replayed: true}, nil
}

// Chain fires the on_success_fire target of e's cue c after e succeeded
// (clients.md §2.1.7): a manual-fire-like execution of the target with
// triggered_by chain, chain_parent_id e and chain_depth e+1 — at most once
// per source execution (bound durably to it), never from depth
// MaxChainDepth or deeper, and not at all when the target is gone. It
// returns the chained execution, or nil when nothing was fired.
func (s *Executions) Chain(ctx context.Context, e *Execution, c *Cue) (*Execution, error) {
	if c == nil || c.OnSuccessFire == nil || e.ChainDepth >= MaxChainDepth {
		return nil, nil
	}
	target, err := s.store.CueGet(ctx, &CueGetParams{TenantID: c.TenantID, ID: *c.OnSuccessFire})
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	trig, parent := TriggerChain, e.ID
	x := &Execution{
		ID: NewExecutionID(), CueID: target.ID, TenantID: target.TenantID, ScheduledFor: now, Status: ExecPending,
		TriggeredBy: &trig, CreatedAt: now, UpdatedAt: now, ChainParentID: &parent, ChainDepth: e.ChainDepth + 1,
		Destination: target.Destination(),
	}
	// The window never ends for a chain link: a source succeeds once.
	claim := &IdempotencyClaim{Scope: scopeChain + string(e.ID), Key: "on_success_fire", Fingerprint: string(target.ID), Now: now}
	created, err := s.create(ctx, x, claim)
	var held *IdempotencyHeld
	if errors.As(err, &held) || errors.Is(err, ErrCueNotFound) {
		return nil, nil
	}
	return created, err
}

// RequiredAssertionsOf is the assertion list a successful outcome of e
// must carry: the fire's exit_criteria, else the cue's
// verification.required_assertions.
func RequiredAssertionsOf(e *Execution, c *Cue) []string {
	if e.RequiredAssertions != nil {
		return *e.RequiredAssertions
	}
	if c != nil {
		return c.RequiredAssertions
	}
	return nil
}

// MissingAssertions lists the required keys absent from the outcome's
// assertions object.
func MissingAssertions(required []string, assertions json.RawMessage) []string {
	if len(required) == 0 {
		return nil
	}
	got := map[string]json.RawMessage{}
	if len(assertions) > 0 {
		_ = json.Unmarshal(assertions, &got) // not an object: nothing present
	}
	var missing []string
	for _, k := range required {
		if _, ok := got[k]; !ok {
			missing = append(missing, k)
		}
	}
	return missing
}
