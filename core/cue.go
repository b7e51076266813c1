package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cueapi/cueapi/core/canonjson"
)

// Limits on cue input.
const (
	MaxPayloadBytes     = 1_048_576
	MaxNameLength       = 255
	MaxCallbackHeaders  = 50
	MaxHeaderNameLength = 256
	MaxHeaderValueLen   = 4096
	MaxBackoffEntries   = 20
	MaxBackoffMinutes   = 7 * 24 * 60
	MaxOutcomeDeadline  = 7 * 24 * 3600
)

// CuesConfig holds the cue service policies.
type CuesConfig struct {
	// WorkerHeartbeatTimeout: a worker seen within it counts as active for
	// the create-time "No active workers" warning.
	WorkerHeartbeatTimeout time.Duration
}

// Cues implements the cue use cases. Safe for concurrent use.
type Cues struct {
	cfg    CuesConfig
	store  Store
	guard  URLGuard
	clock  Clock
	notify func() // wakes the scheduler after a schedule change; may be nil
}

// NewCues wires the cue service. onScheduleChange (may be nil) runs after a
// cue's next_run may have moved earlier (create, update, resume), so a
// waiting scheduler re-plans.
func NewCues(cfg CuesConfig, store Store, guard URLGuard, clock Clock, onScheduleChange func()) *Cues {
	if store == nil || guard == nil || clock == nil {
		panic("core.NewCues: nil dependency")
	}
	if cfg.WorkerHeartbeatTimeout == 0 {
		cfg.WorkerHeartbeatTimeout = DefaultWorkerHeartbeatTimeout
	}
	return &Cues{cfg: cfg, store: store, guard: guard, clock: clock, notify: onScheduleChange}
}

// ScheduleInput is a schedule as the client sent it.
type ScheduleInput struct {
	Type     string
	Cron     *string
	At       *string
	Timezone *string
}

// CallbackInput is a callback as the client sent it.
type CallbackInput struct {
	URL     *string
	Method  *string
	Headers map[string]string
	// TransportSet is true when the client put a non-empty "transport" inside
	// the callback object (refused).
	TransportSet bool
}

// RetryInput is a retry policy as sent; nil fields take defaults.
type RetryInput struct {
	MaxAttempts    *int
	BackoffMinutes []int
}

// OnFailureInput is an escalation policy as sent; nil fields take defaults.
type OnFailureInput struct {
	Email   *bool
	Webhook *string
	Pause   *bool
}

// CueInput is a create body (all fields) or a PATCH body (nil = unchanged).
type CueInput struct {
	Name                   *string
	Description            *string
	Status                 *string // PATCH only
	Transport              *string // create only
	Schedule               *ScheduleInput
	Callback               *CallbackInput
	Payload                json.RawMessage
	Retry                  *RetryInput
	OnFailure              *OnFailureInput
	Verification           *string // mode; "" means {} → none
	VerificationSet        bool
	CatchUp                *string
	OutcomeDeadlineSeconds *int

	// Hosted cue fields (clients.md §2.1). A *Set flag with a nil value
	// clears the field (PATCH with an explicit null).
	RequirePayloadOverride *bool
	RequiredPayloadKeys    *[]string // [] clears
	Delivery               *DeliveryInput
	DeliverySet            bool
	Alerts                 json.RawMessage // a JSON object
	AlertsSet              bool
	RequiredAssertions     *[]string // verification.required_assertions (with VerificationSet)
	OnSuccessFire          *string
	OnSuccessFireSet       bool
	// IdempotencyKey (create only) binds the request body's Fingerprint
	// to the created cue for IdempotencyWindow.
	IdempotencyKey *string
	Fingerprint    string
}

// DeliveryInput is a cue's delivery policy as sent; nil fields take
// defaults.
type DeliveryInput struct {
	TimeoutSeconds         *int
	OutcomeDeadlineSeconds *int
}

// Delivery policy defaults and limits (clients.md §2.1.4).
const (
	DefaultDeliveryTimeout         = 30
	MaxDeliveryTimeout             = 300
	DefaultDeliveryOutcomeDeadline = 300
	MaxRequiredPayloadKeys         = 50
	MaxRequiredPayloadKeyLen       = 255
	MaxRequiredAssertions          = 20
	MaxAssertionKeyLen             = 100
	MaxAlertsBytes                 = 10 * 1024
	// MaxChainDepth: an execution at this depth chains no further.
	MaxChainDepth = 10
)

// DeliveryPolicy is a cue's per-cue webhook timeout and outcome deadline.
type DeliveryPolicy struct {
	TimeoutSeconds int
}

// CreatedCue is a new cue plus the create-time warning.
type CreatedCue struct {
	Cue     *Cue
	Warning *string
	// Replayed is true when an idempotent retry returned the cue an
	// earlier request created.
	Replayed bool
}

const noWorkersWarning = "No active workers found. Start a cueapi-worker to process this cue."

// buildCreate applies the request's callback, payload, schedule and
// policies to cue (Create's validation after the name and limit).
func (s *Cues) buildCreate(ctx context.Context, u *User, cue *Cue, in *CueInput, now time.Time) error {
	if in.Callback != nil {
		if err := s.applyCallback(ctx, cue, in.Callback, true); err != nil {
			return err
		}
	}
	if in.Payload != nil {
		p, err := checkPayload(in.Payload)
		if err != nil {
			return err
		}
		cue.Payload = p
	}
	if err := s.applySchedule(cue, in.Schedule, now); err != nil {
		return err
	}
	if err := s.applyPolicies(ctx, cue, in); err != nil {
		return err
	}
	return s.checkOnSuccessFire(ctx, u, cue.ID, in)
}

// createPrecheck reports a taken name or a reached active cue limit (nil:
// neither): the errors the reference puts before the remaining validation.
func (s *Cues) createPrecheck(ctx context.Context, u *User, name string) error {
	if _, err := s.store.CueGetByName(ctx, &CueGetByNameParams{TenantID: u.ID, Name: name}); err == nil {
		return dupName(name)
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	counts, err := s.store.CueCountByStatus(ctx, &CueCountByStatusParams{TenantID: u.ID})
	if err != nil {
		return err
	}
	if counts[CueActive]+counts[CuePaused] >= u.ActiveCueLimit {
		return limitErr(u.ActiveCueLimit)
	}
	return nil
}

// Create validates and stores a new cue, in the protocol's order of checks.
func (s *Cues) Create(ctx context.Context, u *User, in *CueInput) (*CreatedCue, error) {
	now := s.clock.Now()
	// Whole-object rules (422, location body).
	if in.Callback != nil && in.Callback.TransportSet {
		return nil, crossField("transport must be specified at the top level, not inside callback")
	}
	transport := TransportWebhook
	if in.Transport != nil {
		switch Transport(*in.Transport) {
		case TransportWebhook, TransportWorker:
			transport = Transport(*in.Transport)
		default:
			return nil, crossField("transport must be 'webhook' or 'worker'")
		}
	}
	if transport == TransportWebhook && (in.Callback == nil || in.Callback.URL == nil || *in.Callback.URL == "") {
		return nil, crossField("callback.url is required for webhook transport")
	}
	var missing []FieldError
	if in.Name == nil {
		missing = append(missing, Body("name").Required())
	}
	if in.Schedule == nil {
		missing = append(missing, Body("schedule").Required())
	}
	if err := Validation(missing...); err != nil {
		return nil, err
	}
	if err := validateStructure(in); err != nil {
		return nil, err
	}
	var claim *IdempotencyClaim
	if in.IdempotencyKey != nil {
		if fe := checkIdempotencyKey(FieldError{In: InHeader, Path: []string{"Idempotency-Key"}}, in.IdempotencyKey); fe != nil {
			return nil, Validation(*fe)
		}
		rec, err := liveRecord(ctx, s.store, u.ID, scopeCueCreate, *in.IdempotencyKey, now)
		if err != nil {
			return nil, err
		}
		if rec != nil {
			return s.replayCreate(ctx, u, rec, in.Fingerprint)
		}
		claim = newClaim(scopeCueCreate, *in.IdempotencyKey, in.Fingerprint, now)
	}

	// Semantic checks, in the reference's order: a taken name, then the
	// active cue limit, then the rest. The store admits a valid cue (name
	// and limit) atomically in its one transaction, so the first two are
	// looked up separately only when the rest fails (createPrecheck).
	cue := &Cue{
		ID: NewCueID(), TenantID: u.ID, Name: *in.Name, Description: in.Description,
		Status: CueActive, Transport: transport, Retry: DefaultRetryPolicy(), OnFailure: DefaultOnFailure(),
		CatchUp: CatchUpLatest, Payload: json.RawMessage(`{}`), CreatedAt: now, UpdatedAt: now,
	}
	cue.Callback = Callback{Method: "POST", Headers: map[string]string{}}
	if err := s.buildCreate(ctx, u, cue, in, now); err != nil {
		if perr := s.createPrecheck(ctx, u, *in.Name); perr != nil {
			return nil, perr
		}
		return nil, err
	}
	created, err := s.store.CueCreate(ctx, &CueCreateParams{Cue: cue, ActiveCueLimit: u.ActiveCueLimit, Idempotency: claim})
	var held *IdempotencyHeld
	switch {
	case errors.As(err, &held):
		return s.replayCreate(ctx, u, held.Record, in.Fingerprint)
	case errors.Is(err, ErrConflict):
		return nil, dupName(*in.Name)
	case errors.Is(err, ErrLimitExceeded):
		return nil, limitErr(u.ActiveCueLimit)
	case err != nil:
		return nil, err
	}
	out := &CreatedCue{Cue: created}
	if transport == TransportWorker {
		n, err := s.store.WorkerCountActive(ctx, &WorkerCountActiveParams{TenantID: u.ID, Since: now.Add(-s.cfg.WorkerHeartbeatTimeout)})
		if err != nil {
			return nil, err
		}
		if n == 0 {
			w := noWorkersWarning
			out.Warning = &w
		}
	}
	s.wake()
	return out, nil
}

// replayCreate answers a create whose idempotency key is bound: the
// original cue for the same body, 409 for another.
func (s *Cues) replayCreate(ctx context.Context, u *User, rec *IdempotencyRecord, fingerprint string) (*CreatedCue, error) {
	if rec.Fingerprint != fingerprint {
		return nil, idempotencyConflict("cue: " + string(rec.CueID))
	}
	c, err := s.Get(ctx, u, rec.CueID)
	if err != nil {
		return nil, err
	}
	return &CreatedCue{Cue: c, Replayed: true}, nil
}

const errOnSuccessFireLoop = "on_success_fire would form a loop: %s"

// checkOnSuccessFire validates the chaining target of cue id: a cue of the
// caller (another tenant's cue is reported exactly like a missing one) whose
// own chain does not lead back to id.
func (s *Cues) checkOnSuccessFire(ctx context.Context, u *User, id CueID, in *CueInput) error {
	if !in.OnSuccessFireSet || in.OnSuccessFire == nil {
		return nil
	}
	target := CueID(*in.OnSuccessFire)
	path := []string{string(id)}
	seen := map[CueID]bool{id: true}
	for next, i := &target, 0; next != nil && i <= MaxChainDepth; i++ {
		path = append(path, string(*next))
		if seen[*next] {
			return Invalid("invalid_on_success_fire", fmt.Sprintf(errOnSuccessFireLoop, strings.Join(path, " -> ")))
		}
		seen[*next] = true
		c, err := s.store.CueGet(ctx, &CueGetParams{TenantID: u.ID, ID: *next})
		if errors.Is(err, ErrNotFound) {
			if i == 0 {
				return Invalid("invalid_on_success_fire", fmt.Sprintf("on_success_fire: cue '%s' not found", target))
			}
			return nil // a dangling link further down ends the chain
		}
		if err != nil {
			return err
		}
		next = c.OnSuccessFire
	}
	return nil
}

func (s *Cues) wake() {
	if s.notify != nil {
		s.notify()
	}
}

func dupName(name string) error {
	return Conflict("duplicate_cue_name", fmt.Sprintf("A cue named '%s' already exists", name))
}

func limitErr(limit int) error {
	return NewError(KindForbidden, "cue_limit_exceeded", fmt.Sprintf("Active cue limit of %d reached", limit))
}

// validateStructure covers the structural rules that JSON schema cannot
// express (and, defensively, the ones it can: the service must be safe
// without the HTTP validator in front of it).
func validateStructure(in *CueInput) error {
	var errs []FieldError
	if in.Name != nil {
		if n := len([]rune(*in.Name)); n > MaxNameLength {
			errs = append(errs, Body("name").TooLong(MaxNameLength))
		} else if strings.ContainsRune(*in.Name, 0) {
			errs = append(errs, Body("name").HasNul(TypeString))
		}
	}
	if in.Description != nil && strings.ContainsRune(*in.Description, 0) {
		errs = append(errs, Body("description").HasNul(TypeString))
	}
	if in.Callback != nil {
		cb := in.Callback
		if cb.Method != nil {
			switch *cb.Method {
			case "POST", "GET", "PUT", "PATCH":
			default:
				errs = append(errs, Body("callback", "method").OneOf("POST", "GET", "PUT", "PATCH"))
			}
		}
		if cb.URL != nil && *cb.URL != "" {
			if fe, ok := checkURLType(Body("callback", "url"), *cb.URL); !ok {
				errs = append(errs, fe)
			}
		}
		if len(cb.Headers) > MaxCallbackHeaders {
			errs = append(errs, Body("callback", "headers").TooMany(TypeObject, MaxCallbackHeaders, len(cb.Headers)))
		} else {
			names := make([]string, 0, len(cb.Headers))
			for k := range cb.Headers {
				names = append(names, k)
			}
			sort.Strings(names) // deterministic order of problems
			for _, k := range names {
				if fe, ok := validateHeader(k, cb.Headers[k]); !ok {
					errs = append(errs, fe)
				}
			}
		}
	}
	if in.Retry != nil {
		if m := in.Retry.MaxAttempts; m != nil && *m < 1 {
			errs = append(errs, Body("retry", "max_attempts").Below(1))
		} else if m != nil && *m > 10 {
			errs = append(errs, Body("retry", "max_attempts").Above(10))
		}
		if n := len(in.Retry.BackoffMinutes); n > MaxBackoffEntries {
			errs = append(errs, Body("retry", "backoff_minutes").TooMany(TypeArray, MaxBackoffEntries, n))
		} else {
			for i, b := range in.Retry.BackoffMinutes {
				// The reference accepts any integer; zero or negative made retries
				// spin. We require 0..7 days.
				if b < 0 {
					errs = append(errs, Body("retry", "backoff_minutes").Index(i).Below(0))
				} else if b > MaxBackoffMinutes {
					errs = append(errs, Body("retry", "backoff_minutes").Index(i).Above(MaxBackoffMinutes))
				}
			}
		}
	}
	if in.Verification != nil && *in.Verification != "" {
		switch VerificationMode(*in.Verification) {
		case VerifyNone, VerifyRequireExternalID, VerifyRequireResultURL, VerifyRequireArtifacts, VerifyManual:
		default:
			errs = append(errs, Body("verification", "mode").OneOf(string(VerifyNone), string(VerifyRequireExternalID),
				string(VerifyRequireResultURL), string(VerifyRequireArtifacts), string(VerifyManual)))
		}
	}
	if in.CatchUp != nil {
		if _, ok := ParseCatchUp(*in.CatchUp); !ok {
			errs = append(errs, Body("catch_up").OneOf(CatchUpRunOnceIfMissed, CatchUpSkipMissed, CatchUpReplayAll))
		}
	}
	errs = append(errs, validateHosted(in)...)
	if d := in.OutcomeDeadlineSeconds; d != nil && *d < 1 {
		errs = append(errs, Body("outcome_deadline_seconds").Below(1))
	} else if d != nil && *d > MaxOutcomeDeadline {
		errs = append(errs, Body("outcome_deadline_seconds").Above(MaxOutcomeDeadline))
	}
	return Validation(errs...)
}

// validateHosted checks the hosted cue fields (clients.md §2.1).
func validateHosted(in *CueInput) []FieldError {
	var errs []FieldError
	if in.RequiredPayloadKeys != nil {
		errs = append(errs, checkKeyList(Body("required_payload_keys"), *in.RequiredPayloadKeys, MaxRequiredPayloadKeys, MaxRequiredPayloadKeyLen)...)
	}
	if in.RequiredAssertions != nil {
		errs = append(errs, checkKeyList(Body("verification", "required_assertions"), *in.RequiredAssertions, MaxRequiredAssertions, MaxAssertionKeyLen)...)
	}
	if d := in.Delivery; d != nil {
		if t := d.TimeoutSeconds; t != nil && *t < 1 {
			errs = append(errs, Body("delivery", "timeout_seconds").Below(1))
		} else if t != nil && *t > MaxDeliveryTimeout {
			errs = append(errs, Body("delivery", "timeout_seconds").Above(MaxDeliveryTimeout))
		}
		if o := d.OutcomeDeadlineSeconds; o != nil && *o < 1 {
			errs = append(errs, Body("delivery", "outcome_deadline_seconds").Below(1))
		} else if o != nil && *o > MaxOutcomeDeadline {
			errs = append(errs, Body("delivery", "outcome_deadline_seconds").Above(MaxOutcomeDeadline))
		}
	}
	if in.AlertsSet && in.Alerts != nil {
		if t := strings.TrimSpace(string(in.Alerts)); !strings.HasPrefix(t, "{") {
			errs = append(errs, Body("alerts").NotA(TypeObject))
		} else if len(in.Alerts) > MaxAlertsBytes {
			f := Body("alerts").Because(fmt.Sprintf("Alerts must be at most %d bytes serialized", MaxAlertsBytes))
			errs = append(errs, f)
		} else if err := checkJSONShape(Body("alerts"), in.Alerts); err != nil {
			errs = append(errs, Body("alerts").TooDeep(MaxJSONDepth))
		}
	}
	if in.OnSuccessFireSet && in.OnSuccessFire != nil && (*in.OnSuccessFire == "" || len(*in.OnSuccessFire) > MaxNameLength) {
		errs = append(errs, Body("on_success_fire").Because("Must be a cue id"))
	}
	return errs
}

// checkKeyList checks a list of keys: at most max entries of 1..maxLen
// characters without NUL.
func checkKeyList(field FieldError, keys []string, max, maxLen int) []FieldError {
	if len(keys) > max {
		return []FieldError{field.TooMany(TypeArray, max, len(keys))}
	}
	var errs []FieldError
	for i, k := range keys {
		switch n := len([]rune(k)); {
		case n == 0:
			f := field.Index(i)
			f.Rule, f.Limit = RuleMinLength, 1
			errs = append(errs, f)
		case n > maxLen:
			errs = append(errs, field.Index(i).TooLong(maxLen))
		case strings.ContainsRune(k, 0):
			errs = append(errs, field.Index(i).HasNul(TypeString))
		}
	}
	return errs
}

// MaxJSONDepth bounds the nesting of stored JSON values (payloads,
// metadata, artifacts, echo bodies): deeper documents are refused with 422
// rather than failing in a database.
const MaxJSONDepth = 64

var errLoneSurrogate = Invalid("invalid_json", "Request body is not valid JSON")

// checkJSONShape refuses JSON that no store can hold: lone UTF-16
// surrogates (PostgreSQL jsonb refuses them) and excessive nesting.
func checkJSONShape(field FieldError, raw []byte) error {
	if len(raw) == 0 {
		return nil
	}
	if lone, err := canonjson.ContainsLoneSurrogate(raw); err != nil || lone {
		return errLoneSurrogate
	}
	if jsonDepth(raw) > MaxJSONDepth {
		return field.TooDeep(MaxJSONDepth).Err()
	}
	return nil
}

// jsonDepth is the maximum nesting of arrays and objects in raw.
func jsonDepth(raw []byte) int {
	depth, max, inStr, esc := 0, 0, false, false
	for _, c := range raw {
		switch {
		case inStr:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			depth++
			if depth > max {
				max = depth
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return max
}

// MaxURLLength is the longest URL accepted (pydantic's AnyUrl limit).
const MaxURLLength = 2083

// checkURLType is the structural URL check (422): an absolute http(s) URL.
// The SSRF policy (400) runs later. ok is false with the problem found.
func checkURLType(field FieldError, raw string) (problem FieldError, ok bool) {
	if len(raw) > MaxURLLength {
		f := field.TooLong(MaxURLLength)
		f.Want = TypeURL
		return f, false
	}
	i := strings.Index(raw, ":")
	if i <= 0 {
		return field.NotA(TypeURL), false
	}
	switch strings.ToLower(raw[:i]) {
	case "http", "https":
	default:
		f := field
		f.Rule, f.Allowed = RuleURLScheme, []string{"http", "https"}
		return f, false
	}
	return field, true
}

// reservedHeaders may not be set by callback headers: they carry the
// signature and the framing of the request.
var reservedHeaders = map[string]bool{
	"host": true, "content-length": true, "content-type": true, "transfer-encoding": true, "connection": true,
	"keep-alive": true, "upgrade": true, "te": true, "trailer": true, "proxy-authorization": true, "proxy-connection": true,
}

// reservedHeader reports whether a callback header name is reserved: the
// framing headers above and every X-CueAPI-* name.
func reservedHeader(name string) bool {
	n := strings.ToLower(name)
	return reservedHeaders[n] || strings.HasPrefix(n, "x-cueapi-")
}

// validateHeader checks one callback header; ok is false with the problem
// found.
func validateHeader(k, v string) (problem FieldError, ok bool) {
	field := Body("callback", "headers").Key(k)
	if k == "" || len(k) > MaxHeaderNameLength {
		return Body("callback", "headers").Because(fmt.Sprintf("Header names must be 1-%d characters", MaxHeaderNameLength)), false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		// RFC 9110 token characters.
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return field.Because("Header name contains invalid characters"), false
		}
	}
	if reservedHeader(k) {
		return field.Because("Header is reserved and cannot be overridden"), false
	}
	if len(v) > MaxHeaderValueLen {
		return field.TooLong(MaxHeaderValueLen), false
	}
	if strings.ContainsAny(v, "\r\n\x00") {
		return field.Because("Header value must not contain CR, LF or NUL"), false
	}
	return field, true
}

// checkPayload enforces the payload rules and returns the compact JSON.
func checkPayload(raw json.RawMessage) (json.RawMessage, error) {
	trimmed := strings.TrimSpace(string(raw))
	if trimmed == "null" {
		return json.RawMessage(`{}`), nil
	}
	if !strings.HasPrefix(trimmed, "{") {
		return nil, Body("payload").NotA(TypeObject).Err()
	}
	nul, err := canonjson.ContainsNUL(raw)
	if err != nil {
		return nil, Body("payload").NotA(TypeObject).Err()
	}
	if nul {
		return nil, Invalid("invalid_payload", "Payload contains null bytes which are not supported")
	}
	if err := checkJSONShape(Body("payload"), raw); err != nil {
		return nil, err
	}
	size, err := canonjson.PayloadSize(raw)
	if err != nil {
		return nil, Body("payload").NotA(TypeObject).Err()
	}
	if size > MaxPayloadBytes {
		return nil, Invalid("invalid_payload_size", "Payload must be under 1MB")
	}
	c, err := canonjson.Compact(raw)
	if err != nil {
		return nil, Body("payload").NotA(TypeObject).Err()
	}
	return c, nil
}

// applyCallback sets the callback; on create every field is set, on PATCH
// the URL only when given while method and headers are always replaced
// (reference semantics).
func (s *Cues) applyCallback(ctx context.Context, cue *Cue, cb *CallbackInput, create bool) error {
	if cb.URL != nil && *cb.URL != "" {
		canon, err := s.guard.Check(ctx, *cb.URL)
		if err != nil {
			return urlError("invalid_callback_url", "", err)
		}
		cue.Callback.URL = &canon
	} else if create {
		cue.Callback.URL = nil
	}
	cue.Callback.Method = "POST"
	if cb.Method != nil {
		cue.Callback.Method = *cb.Method
	}
	cue.Callback.Headers = map[string]string{}
	for k, v := range cb.Headers {
		cue.Callback.Headers[k] = v
	}
	return nil
}

// applySchedule validates a schedule and sets it with the next run.
func (s *Cues) applySchedule(cue *Cue, in *ScheduleInput, now time.Time) error {
	tz := "UTC"
	if in.Timezone != nil {
		tz = *in.Timezone
	}
	loc, err := LoadZone(tz)
	if err != nil {
		return NewError(KindUnprocessable, "invalid_timezone", fmt.Sprintf("Unknown timezone: '%s'", tz))
	}
	switch ScheduleType(in.Type) {
	case ScheduleRecurring:
		if in.Cron == nil || strings.TrimSpace(*in.Cron) == "" {
			return errCronRequired
		}
		c, err := ParseCron(*in.Cron)
		if err != nil {
			return err
		}
		next, err := c.NextAfter(now, loc)
		if err != nil {
			return errCronInvalid
		}
		cron := *in.Cron
		cue.Schedule = Schedule{Type: ScheduleRecurring, Cron: &cron, Timezone: tz}
		cue.NextRun = &next
	case ScheduleOnce:
		if in.At == nil || *in.At == "" {
			return errAtRequired
		}
		at, err := ParseTimestamp(*in.At)
		if err != nil {
			return Body("schedule", "at").NotA(TypeDatetime).Err()
		}
		if !at.After(now) {
			return errAtPast
		}
		cue.Schedule = Schedule{Type: ScheduleOnce, At: &at, Timezone: tz}
		if in.Cron != nil && *in.Cron != "" {
			// A once cue created with an extra cron keeps it (reference).
			if _, err := ParseCron(*in.Cron); err != nil {
				return err
			}
			c := *in.Cron
			cue.Schedule.Cron = &c
		}
		cue.NextRun = &at
	default:
		return errTypeInvalid
	}
	return nil
}

// applyPolicies sets retry, on_failure, verification, catch-up and the
// outcome deadline from the input (nil: defaults on create, unchanged on
// PATCH — the caller decides by what it passes).
func (s *Cues) applyPolicies(ctx context.Context, cue *Cue, in *CueInput) error {
	if in.Retry != nil {
		r := DefaultRetryPolicy()
		if in.Retry.MaxAttempts != nil {
			r.MaxAttempts = *in.Retry.MaxAttempts
		}
		if in.Retry.BackoffMinutes != nil {
			r.BackoffMinutes = append([]int{}, in.Retry.BackoffMinutes...)
		}
		cue.Retry = r
	}
	if in.OnFailure != nil {
		of := DefaultOnFailure()
		if in.OnFailure.Email != nil {
			of.Email = *in.OnFailure.Email
		}
		if in.OnFailure.Pause != nil {
			of.Pause = *in.OnFailure.Pause
		}
		if w := in.OnFailure.Webhook; w != nil && *w != "" {
			canon, err := s.guard.Check(ctx, *w)
			if err != nil {
				return urlError("invalid_callback_url", "on_failure.webhook: ", err)
			}
			of.Webhook = &canon
		}
		cue.OnFailure = of
	}
	if in.VerificationSet {
		mode := VerifyNone
		if in.Verification != nil && *in.Verification != "" {
			mode = VerificationMode(*in.Verification)
		}
		cue.Verification = &mode
	}
	if in.CatchUp != nil {
		cue.CatchUp, _ = ParseCatchUp(*in.CatchUp)
	}
	if in.OutcomeDeadlineSeconds != nil {
		d := *in.OutcomeDeadlineSeconds
		cue.OutcomeDeadlineSeconds = &d
	}
	applyHosted(cue, in)
	return nil
}

// applyHosted sets the hosted cue fields present in the input.
func applyHosted(cue *Cue, in *CueInput) {
	if in.RequirePayloadOverride != nil {
		cue.RequirePayloadOverride = *in.RequirePayloadOverride
	}
	if in.RequiredPayloadKeys != nil {
		cue.RequiredPayloadKeys = append([]string{}, *in.RequiredPayloadKeys...)
	}
	if in.VerificationSet {
		cue.RequiredAssertions = nil
		if in.RequiredAssertions != nil {
			cue.RequiredAssertions = append([]string{}, *in.RequiredAssertions...)
		}
	}
	if in.DeliverySet {
		cue.Delivery = nil
		if d := in.Delivery; d != nil {
			pol := &DeliveryPolicy{TimeoutSeconds: DefaultDeliveryTimeout}
			if d.TimeoutSeconds != nil {
				pol.TimeoutSeconds = *d.TimeoutSeconds
			}
			deadline := DefaultDeliveryOutcomeDeadline
			if d.OutcomeDeadlineSeconds != nil {
				deadline = *d.OutcomeDeadlineSeconds
			}
			cue.Delivery = pol
			cue.OutcomeDeadlineSeconds = &deadline
		}
	}
	if in.AlertsSet {
		cue.Alerts = nil
		if in.Alerts != nil && strings.TrimSpace(string(in.Alerts)) != "null" {
			if c, err := canonjson.Compact(in.Alerts); err == nil {
				cue.Alerts = c
			}
		}
	}
	if in.OnSuccessFireSet {
		cue.OnSuccessFire = nil
		if in.OnSuccessFire != nil {
			id := CueID(*in.OnSuccessFire)
			cue.OnSuccessFire = &id
		}
	}
}

// Get returns one of the tenant's cues.
func (s *Cues) Get(ctx context.Context, u *User, id CueID) (*Cue, error) {
	c, err := s.store.CueGet(ctx, &CueGetParams{TenantID: u.ID, ID: id})
	if errors.Is(err, ErrNotFound) {
		return nil, ErrCueNotFound
	}
	return c, err
}

// CueDetail is a cue with a page of its executions and its statistics.
type CueDetail struct {
	Cue        *Cue
	Executions []*Execution
	Total      int
	Stats      *CueStats
}

// Detail returns the cue, a page of its executions, newest first, and its
// statistics of the last CueStatsWindow, in one store read.
func (s *Cues) Detail(ctx context.Context, u *User, id CueID, limit, offset int) (*CueDetail, error) {
	d, err := s.store.CueGetDetail(ctx, &CueGetDetailParams{TenantID: u.ID, ID: id, Since: s.clock.Now().Add(-CueStatsWindow), Limit: limit, Offset: offset})
	if errors.Is(err, ErrNotFound) {
		return nil, ErrCueNotFound
	}
	if err != nil {
		return nil, err
	}
	return &CueDetail{Cue: d.Cue, Executions: d.Executions, Total: d.Total, Stats: NewCueStats(d.Counts)}, nil
}

// List returns a page of the tenant's cues.
func (s *Cues) List(ctx context.Context, u *User, status *string, limit, offset int) ([]*Cue, int, error) {
	return s.store.CueList(ctx, &CueListParams{TenantID: u.ID, Status: status, Limit: limit, Offset: offset})
}

// Delete removes the cue and its executions.
func (s *Cues) Delete(ctx context.Context, u *User, id CueID) error {
	err := s.store.CueDelete(ctx, &CueDeleteParams{TenantID: u.ID, ID: id})
	if errors.Is(err, ErrNotFound) {
		return ErrCueNotFound
	}
	return err
}

// Update applies a PATCH in the reference's order; nothing is saved when a
// step fails. A no-op status change (active → active) keeps next_run, so a
// due occurrence is never dropped by it.
func (s *Cues) Update(ctx context.Context, u *User, id CueID, in *CueInput) (*Cue, error) {
	if err := validateStructure(in); err != nil {
		return nil, err
	}
	if in.Status != nil && *in.Status != string(CueActive) && *in.Status != string(CuePaused) {
		return nil, crossField("status must be 'active' or 'paused'")
	}
	if err := s.checkOnSuccessFire(ctx, u, id, in); err != nil {
		if _, gerr := s.Get(ctx, u, id); gerr != nil {
			return nil, gerr // 404 first
		}
		return nil, err
	}
	now := s.clock.Now()
	var cancelAfter *time.Time
	if (in.Status != nil && *in.Status == string(CuePaused)) || in.Schedule != nil {
		// Executions the scheduler materialized ahead of time for the old
		// schedule must not run.
		cancelAfter = &now
	}
	updated, err := s.store.CueUpdate(ctx, &CueUpdateParams{TenantID: u.ID, ID: id, CancelUpcomingAfter: cancelAfter, Fn: func(c *Cue) error {
		if in.Name != nil {
			c.Name = *in.Name
		}
		if in.Description != nil {
			c.Description = in.Description
		}
		if in.Callback != nil {
			cb := *in.Callback
			if err := s.applyCallback(ctx, c, &cb, false); err != nil {
				return err
			}
		}
		if in.Payload != nil {
			p, err := checkPayload(in.Payload)
			if err != nil {
				return err
			}
			c.Payload = p
		}
		if err := s.applyPolicies(ctx, c, in); err != nil {
			return err
		}
		if in.Schedule != nil {
			if err := s.applySchedule(c, in.Schedule, now); err != nil {
				return err
			}
		}
		if in.Status != nil {
			switch CueStatus(*in.Status) {
			case CuePaused:
				c.Status = CuePaused
				c.NextRun = nil
			case CueActive:
				if c.Status != CueActive || c.NextRun == nil {
					if err := resumeNextRun(c, now); err != nil {
						return err
					}
				}
				c.Status = CueActive
			}
		}
		c.UpdatedAt = now
		return nil
	}})
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, ErrCueNotFound
	case errors.Is(err, ErrConflict):
		return nil, dupName(*in.Name)
	case err != nil:
		return nil, err
	}
	s.wake()
	return updated, nil
}

// resumeNextRun recomputes next_run when a cue becomes active: the next cron
// match after now (occurrences missed while paused are skipped, as
// documented), or the stored one-time instant.
func resumeNextRun(c *Cue, now time.Time) error {
	switch c.Schedule.Type {
	case ScheduleRecurring:
		if c.Schedule.Cron == nil {
			return errCronRequired
		}
		cr, err := ParseCron(*c.Schedule.Cron)
		if err != nil {
			return err
		}
		loc, err := LoadZone(c.Schedule.Timezone)
		if err != nil {
			return NewError(KindUnprocessable, "invalid_timezone", fmt.Sprintf("Unknown timezone: '%s'", c.Schedule.Timezone))
		}
		next, err := cr.NextAfter(now, loc)
		if err != nil {
			return err
		}
		c.NextRun = &next
	case ScheduleOnce:
		c.NextRun = c.Schedule.At
	}
	return nil
}

// ParseTimestamp parses an input datetime: RFC 3339 with Z or an offset, or
// ISO 8601 without a zone (taken as UTC); the result is UTC truncated to
// microseconds.
func ParseTimestamp(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	layouts := []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999", "2006-01-02T15:04Z07:00", "2006-01-02T15:04", "2006-01-02"}
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC().Truncate(time.Microsecond), nil
		}
	}
	return time.Time{}, errors.New("invalid datetime")
}

// optionalTimestamp parses an optional datetime field (nil: absent); a
// value that is not one is field's "not a datetime" error.
func optionalTimestamp(field FieldError, v *string) (*time.Time, *FieldError) {
	if v == nil {
		return nil, nil
	}
	t, err := ParseTimestamp(*v)
	if err != nil {
		fe := field.NotA(TypeDatetime)
		return nil, &fe
	}
	return &t, nil
}

// CueStatus is the lifecycle state of a cue.
type CueStatus string

// Cue statuses.
const (
	CueActive    CueStatus = "active"
	CuePaused    CueStatus = "paused"
	CueCompleted CueStatus = "completed"
	CueFailed    CueStatus = "failed"
)

// Transport says how executions reach their handler.
type Transport string

// Transports.
const (
	TransportWebhook Transport = "webhook"
	TransportWorker  Transport = "worker"
)

// ScheduleType is "once" or "recurring".
type ScheduleType string

// Schedule types.
const (
	ScheduleOnce      ScheduleType = "once"
	ScheduleRecurring ScheduleType = "recurring"
)

// Schedule is when a cue fires. Cron is evaluated in Timezone (an IANA name,
// stored as supplied); At is an instant in UTC.
type Schedule struct {
	Type     ScheduleType
	Cron     *string
	At       *time.Time
	Timezone string
}

// Callback is where and how a webhook cue is delivered.
type Callback struct {
	URL     *string
	Method  string
	Headers map[string]string
}

// RetryPolicy: MaxAttempts counts the first attempt; BackoffMinutes[i] is the
// wait after failed attempt i+1, the last entry reused.
type RetryPolicy struct {
	MaxAttempts    int
	BackoffMinutes []int
}

// AttemptsLeft reports whether another attempt may follow attempts made
// (MaxAttempts counts the first): a failed webhook attempt retries, and a
// worker claim whose lease expired goes back to pending, only while it
// does.
func (r RetryPolicy) AttemptsLeft(attempts int) bool { return attempts < r.MaxAttempts }

// DefaultRetryPolicy is the protocol default.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 3, BackoffMinutes: []int{1, 5, 15}}
}

// OnFailure is the escalation policy run when an execution fails for good.
type OnFailure struct {
	Email   bool
	Webhook *string
	Pause   bool
}

// DefaultOnFailure is the protocol default.
func DefaultOnFailure() OnFailure { return OnFailure{Email: true} }

// VerificationMode says what evidence a successful outcome needs.
type VerificationMode string

// Verification modes.
const (
	VerifyNone              VerificationMode = "none"
	VerifyRequireExternalID VerificationMode = "require_external_id"
	VerifyRequireResultURL  VerificationMode = "require_result_url"
	VerifyRequireArtifacts  VerificationMode = "require_artifacts"
	VerifyManual            VerificationMode = "manual"
)

// CatchUpPolicy says what the scheduler does with occurrences missed while
// no scheduler was running.
type CatchUpPolicy string

// Catch-up policies.
const (
	// CatchUpLatest fires the most recent missed occurrence once and records
	// how many were skipped (the default).
	CatchUpLatest CatchUpPolicy = "latest"
	// CatchUpSkip fires none of the missed occurrences.
	CatchUpSkip CatchUpPolicy = "skip"
	// CatchUpAll back-fills missed occurrences oldest first, at most
	// MaxCatchUpAll per cue per catch-up.
	CatchUpAll CatchUpPolicy = "all"
)

// Catch-up policy names of today's clients (clients.md §2.1.2); the API
// answers in them and accepts the older names as aliases.
const (
	CatchUpRunOnceIfMissed = "run_once_if_missed"
	CatchUpSkipMissed      = "skip_missed"
	CatchUpReplayAll       = "replay_all"
)

// ParseCatchUp reads a catch-up policy in either vocabulary.
func ParseCatchUp(s string) (CatchUpPolicy, bool) {
	switch s {
	case CatchUpRunOnceIfMissed, string(CatchUpLatest):
		return CatchUpLatest, true
	case CatchUpSkipMissed, string(CatchUpSkip):
		return CatchUpSkip, true
	case CatchUpReplayAll, string(CatchUpAll):
		return CatchUpAll, true
	}
	return "", false
}

// ClientName is the policy's name in today's clients' vocabulary.
func (p CatchUpPolicy) ClientName() string {
	switch p {
	case CatchUpSkip:
		return CatchUpSkipMissed
	case CatchUpAll:
		return CatchUpReplayAll
	}
	return CatchUpRunOnceIfMissed
}

// MaxCatchUpAll bounds the back-fill of CatchUpAll.
const MaxCatchUpAll = 100

// Cue is a scheduled piece of work owned by a tenant.
type Cue struct {
	ID                     CueID
	TenantID               TenantID
	Name                   string
	Description            *string
	Status                 CueStatus
	Transport              Transport
	Schedule               Schedule
	Callback               Callback
	Payload                json.RawMessage // a JSON object, compact
	Retry                  RetryPolicy
	OnFailure              OnFailure
	Verification           *VerificationMode // nil: never set (renders null)
	CatchUp                CatchUpPolicy
	OutcomeDeadlineSeconds *int
	NextRun                *time.Time
	LastRun                *time.Time
	RunCount               int
	FiredCount             int
	SkippedCount           int     // occurrences skipped by the catch-up policy
	LastError              *string // scheduler-side problem (e.g. a cron that no longer evaluates)
	CreatedAt              time.Time
	UpdatedAt              time.Time

	// Hosted cue fields (clients.md §2.1).
	RequirePayloadOverride bool
	RequiredPayloadKeys    []string        // nil: never set; [] stored as sent
	Delivery               *DeliveryPolicy // nil: one-phase defaults (WEBHOOK_TIMEOUT_SECONDS)
	Alerts                 json.RawMessage // an opaque JSON object; nil: none
	RequiredAssertions     []string        // verification.required_assertions; nil: none
	OnSuccessFire          *CueID          // fired after each successful execution
}

// CueStore persists cues, including the scheduler's batch firing of due
// cues. Every method is safe for concurrent use by any number of processes
// sharing the database; tenant-scoped methods return ErrNotFound for another
// tenant's rows. Methods are sorted by name.
type CueStore interface {
	// CueCountByStatus counts the tenant's cues per status.
	CueCountByStatus(ctx context.Context, p *CueCountByStatusParams) (map[CueStatus]int, error)

	// CueCreate inserts the cue. In the same transaction it fails with
	// ErrConflict when the tenant already has a cue of that name (any status)
	// and with ErrLimitExceeded when the tenant's active+paused cues already
	// number ActiveCueLimit or more — so parallel creates never exceed it.
	CueCreate(ctx context.Context, p *CueCreateParams) (*Cue, error)

	// CueDelete deletes the cue and its executions. ErrNotFound when absent
	// or foreign.
	CueDelete(ctx context.Context, p *CueDeleteParams) error

	// CueFireDue fires one batch: in one transaction it selects up to Limit
	// active cues whose next_run <= Horizon (oldest first, skipping rows
	// locked by another process), asks Plan what to do with each, inserts
	// the planned executions (status pending, due_at = scheduled_for,
	// triggered_by NULL; an execution that already exists for (cue,
	// scheduled_for) is skipped silently) and saves each cue's next_run,
	// status, last_error, skipped_count += Skipped, fired_count += inserted,
	// updated_at = Now.
	CueFireDue(ctx context.Context, p *CueFireDueParams) (*CueFireDueResult, error)

	// CueGet returns the tenant's cue. ErrNotFound when absent or foreign.
	CueGet(ctx context.Context, p *CueGetParams) (*Cue, error)

	// CueGetByName returns the tenant's cue with this exact name.
	CueGetByName(ctx context.Context, p *CueGetByNameParams) (*Cue, error)

	// CueGetDetail returns the tenant's cue, its executions created at or
	// after Since counted per status (statuses with none are absent), and a
	// page of its executions (Limit, Offset; newest first, ties by id
	// descending, as ExecutionList) with the total of them. ErrNotFound when
	// the cue is absent or foreign.
	CueGetDetail(ctx context.Context, p *CueGetDetailParams) (*CueDetailRead, error)

	// CueList returns a page of the tenant's cues, newest first (ties broken
	// by id, so pages are stable), and the total matching count.
	CueList(ctx context.Context, p *CueListParams) ([]*Cue, int, error)

	// CueNextDueAt returns the earliest next_run of all active cues (any
	// tenant). ErrNotFound when no active cue has one.
	CueNextDueAt(ctx context.Context) (time.Time, error)

	// CueUpdate runs Fn on the locked current row and saves everything Fn
	// leaves in it except ID, TenantID, Transport, counters and CreatedAt.
	// ErrNotFound when absent or foreign; ErrConflict on a duplicate name.
	CueUpdate(ctx context.Context, p *CueUpdateParams) (*Cue, error)
}

// CueCreateParams inserts a cue (ID, TenantID, timestamps set by the caller).
type CueCreateParams struct {
	Cue            *Cue
	ActiveCueLimit int
	// Idempotency, when set, binds its key to the new cue in the same
	// transaction; a live binding fails the create with *IdempotencyHeld.
	Idempotency *IdempotencyClaim
}

// CueGetParams selects one of a tenant's cues.
type CueGetParams struct {
	TenantID TenantID
	ID       CueID
}

// CueGetByNameParams selects a tenant's cue by exact name.
type CueGetByNameParams struct {
	TenantID TenantID
	Name     string
}

// CueGetDetailParams selects one of a tenant's cues, the window of its
// executions to count (created at or after Since) and a page of them.
type CueGetDetailParams struct {
	TenantID TenantID
	ID       CueID
	Since    time.Time
	Limit    int
	Offset   int
}

// CueDetailRead is what CueGetDetail reads: the cue, its execution counts
// per status since the window's start, a page of its executions and their
// total.
type CueDetailRead struct {
	Cue        *Cue
	Counts     map[ExecutionStatus]int
	Executions []*Execution
	Total      int
}

// CueListParams filters and pages a tenant's cues.
type CueListParams struct {
	TenantID TenantID
	Status   *string
	Limit    int
	Offset   int
}

// CueUpdateParams is a read-modify-write of one cue.
type CueUpdateParams struct {
	TenantID TenantID
	ID       CueID
	Fn       func(c *Cue) error
	// CancelUpcomingAfter, when set, also deletes in the same transaction
	// the cue's scheduler-created executions still pending and scheduled
	// after it (materialized ahead for the old schedule) and decrements
	// fired_count — atomically with the new schedule, so the scheduler can
	// never slip a new-schedule run in between.
	CancelUpcomingAfter *time.Time
}

// CueDeleteParams deletes one of a tenant's cues.
type CueDeleteParams struct {
	TenantID TenantID
	ID       CueID
}

// CueCountByStatusParams counts a tenant's cues.
type CueCountByStatusParams struct{ TenantID TenantID }

// FirePlan is the scheduler's decision for one due cue.
type FirePlan struct {
	// Occurrences are the scheduled_for instants to create executions for.
	Occurrences []time.Time
	NextRun     *time.Time
	Status      CueStatus
	Skipped     int
	LastError   *string
}

// CueFireDueParams are the inputs of CueFireDue.
type CueFireDueParams struct {
	Now     time.Time
	Horizon time.Time // fire cues with next_run <= Horizon (Now + look-ahead)
	Limit   int
	Plan    func(c *Cue) FirePlan
}

// CueFireDueResult counts one batch.
type CueFireDueResult struct {
	Cues     int // cues processed (a full batch means more may be due)
	Inserted int // executions created
}

// CueEffect is what an execution change does to its cue.
type CueEffect struct {
	CountRun   bool       // run_count + 1
	SetLastRun bool       // last_run = Now
	Status     *CueStatus // applied only to an active cue; paused clears next_run
	CountUsage bool       // +1 execution in the tenant's month of Now
	Now        time.Time
}

// Admit is CueCreate's admission rule, which the store evaluates inside its
// transaction on the tenant's locked figures: ErrConflict when nameTaken
// (a cue of that name exists in any status), ErrLimitExceeded when the
// active and paused cues already number ActiveCueLimit or more.
func (p *CueCreateParams) Admit(nameTaken bool, activeOrPaused int) error {
	if nameTaken {
		return fmt.Errorf("%w: name %q is taken", ErrConflict, p.Cue.Name)
	}
	if activeOrPaused >= p.ActiveCueLimit {
		return ErrLimitExceeded
	}
	return nil
}

// FailedRunStatus is the status a failed or missed run gives its cue (nil:
// none; a store applies it only to an active cue): failed for a one-time
// cue's scheduled run (triggeredBy nil), paused for a recurring cue with
// on_failure.pause. Webhook failures (Dispatcher) and the worker sweeps
// (ExecutionSweepWorkerLeases, evaluated by the store per swept row) share
// it.
func FailedRunStatus(schedule ScheduleType, pauseOnFailure bool, triggeredBy *string) *CueStatus {
	var st CueStatus
	switch {
	case schedule == ScheduleOnce && triggeredBy == nil:
		st = CueFailed
	case schedule == ScheduleRecurring && pauseOnFailure:
		st = CuePaused
	default:
		return nil
	}
	return &st
}

// MaxBulkDelete bounds the ids of one bulk delete.
const MaxBulkDelete = 100

// BulkDeleteResult lists, in request order, the ids deleted and skipped.
type BulkDeleteResult struct {
	Deleted []CueID
	Skipped []CueID
}

// BulkDelete deletes each of the tenant's cues among ids independently,
// like Delete (clients.md §2.5): any other id (unknown, another tenant's,
// repeated) is skipped. Nothing happens without confirmation.
func (s *Cues) BulkDelete(ctx context.Context, u *User, ids []string, confirmed bool) (*BulkDeleteResult, error) {
	if !confirmed {
		return nil, errConfirm
	}
	switch {
	case len(ids) == 0:
		f := Body("ids")
		f.Rule, f.Want, f.Limit = RuleMinItems, TypeArray, 1
		return nil, Validation(f)
	case len(ids) > MaxBulkDelete:
		return nil, Body("ids").TooMany(TypeArray, MaxBulkDelete, len(ids)).Err()
	}
	out := &BulkDeleteResult{Deleted: []CueID{}, Skipped: []CueID{}}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		err := s.store.CueDelete(ctx, &CueDeleteParams{TenantID: u.ID, ID: CueID(id)})
		switch {
		case err == nil:
			out.Deleted = append(out.Deleted, CueID(id))
		case errors.Is(err, ErrNotFound):
			out.Skipped = append(out.Skipped, CueID(id))
		default:
			return nil, err
		}
	}
	return out, nil
}

// CueStatsWindow is the period cue statistics cover.
const CueStatsWindow = 7 * 24 * time.Hour

// CueStats summarises a cue's executions created in the last
// CueStatsWindow (clients.md §2.1.8).
type CueStats struct {
	WindowDays  int
	Executions  int
	Succeeded   int
	Failed      int // failed and outcome_timeout
	Missed      int
	SuccessRate *float64 // of the finished ones; nil when none finished
	MissRate    *float64
}

// NewCueStats computes the statistics from counts per execution status.
func NewCueStats(counts map[ExecutionStatus]int) *CueStats {
	st := &CueStats{WindowDays: int(CueStatsWindow / (24 * time.Hour))}
	for status, n := range counts {
		st.Executions += n
		switch status {
		case ExecSuccess:
			st.Succeeded += n
		case ExecFailed, ExecOutcomeTimeout:
			st.Failed += n
		case ExecMissed:
			st.Missed += n
		}
	}
	if finished := st.Succeeded + st.Failed + st.Missed; finished > 0 {
		sr := round3(float64(st.Succeeded) / float64(finished))
		mr := round3(float64(st.Missed) / float64(finished))
		st.SuccessRate, st.MissRate = &sr, &mr
	}
	return st
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }
