package sqlkit

import (
	"encoding/json"
	"fmt"

	"github.com/cueapi/cueapi/core"
)

// cueOptions is the JSON of cues.options: the hosted cue fields.
type cueOptions struct {
	RequirePayloadOverride bool            `json:"require_payload_override,omitempty"`
	RequiredPayloadKeys    *[]string       `json:"required_payload_keys,omitempty"`
	DeliveryTimeout        *int            `json:"delivery_timeout_seconds,omitempty"`
	Alerts                 json.RawMessage `json:"alerts,omitempty"`
	RequiredAssertions     *[]string       `json:"required_assertions,omitempty"`
	OnSuccessFire          *string         `json:"on_success_fire,omitempty"`
}

// CueOptions encodes c's hosted fields for cues.options.
func CueOptions(c *core.Cue) ([]byte, error) {
	o := cueOptions{RequirePayloadOverride: c.RequirePayloadOverride, Alerts: c.Alerts}
	if c.RequiredPayloadKeys != nil {
		o.RequiredPayloadKeys = &c.RequiredPayloadKeys
	}
	if c.RequiredAssertions != nil {
		o.RequiredAssertions = &c.RequiredAssertions
	}
	if c.Delivery != nil {
		o.DeliveryTimeout = &c.Delivery.TimeoutSeconds
	}
	if c.OnSuccessFire != nil {
		id := string(*c.OnSuccessFire)
		o.OnSuccessFire = &id
	}
	return json.Marshal(o)
}

// CueOptionsOf sets c's hosted fields from cues.options.
func (d *Decoder) CueOptionsOf(c *core.Cue, raw []byte) {
	if len(raw) == 0 {
		return
	}
	var o cueOptions
	if err := json.Unmarshal(raw, &o); err != nil {
		d.Fail(fmt.Errorf("cue options: %w", err))
		return
	}
	c.RequirePayloadOverride = o.RequirePayloadOverride
	if o.RequiredPayloadKeys != nil {
		c.RequiredPayloadKeys = *o.RequiredPayloadKeys
	}
	if o.RequiredAssertions != nil {
		c.RequiredAssertions = *o.RequiredAssertions
	}
	if o.DeliveryTimeout != nil {
		c.Delivery = &core.DeliveryPolicy{TimeoutSeconds: *o.DeliveryTimeout}
	}
	if len(o.Alerts) > 0 {
		c.Alerts = o.Alerts
	}
	if o.OnSuccessFire != nil {
		id := core.CueID(*o.OnSuccessFire)
		c.OnSuccessFire = &id
	}
}

// executionOptions is the JSON of executions.options: fire options, chain
// position and outcome assertions.
type executionOptions struct {
	PayloadOverride    json.RawMessage `json:"payload_override,omitempty"`
	MergeStrategy      *string         `json:"merge_strategy,omitempty"`
	RequiredAssertions *[]string       `json:"required_assertions,omitempty"`
	Assertions         json.RawMessage `json:"assertions,omitempty"`
	ChainParentID      *string         `json:"chain_parent_id,omitempty"`
	ChainDepth         int             `json:"chain_depth,omitempty"`
}

// ExecutionOptions encodes e's fire options for executions.options.
func ExecutionOptions(e *core.Execution) ([]byte, error) {
	o := executionOptions{PayloadOverride: e.PayloadOverride, MergeStrategy: e.MergeStrategy,
		RequiredAssertions: e.RequiredAssertions, Assertions: e.Assertions, ChainDepth: e.ChainDepth}
	if e.ChainParentID != nil {
		id := string(*e.ChainParentID)
		o.ChainParentID = &id
	}
	return json.Marshal(o)
}

// ExecutionOptionsOf sets e's fire options from executions.options and its
// effective payload from executions.payload (empty: none).
func (d *Decoder) ExecutionOptionsOf(e *core.Execution, raw, payload []byte) {
	if len(payload) > 0 {
		e.Payload = json.RawMessage(payload)
	}
	if len(raw) == 0 || string(raw) == "{}" { // no options: the common case
		return
	}
	var o executionOptions
	if err := json.Unmarshal(raw, &o); err != nil {
		d.Fail(fmt.Errorf("execution options: %w", err))
		return
	}
	e.PayloadOverride, e.MergeStrategy, e.RequiredAssertions = o.PayloadOverride, o.MergeStrategy, o.RequiredAssertions
	e.Assertions, e.ChainDepth = o.Assertions, o.ChainDepth
	if o.ChainParentID != nil {
		id := core.ExecutionID(*o.ChainParentID)
		e.ChainParentID = &id
	}
}

// IdempotencyRecord maps a stored idempotency key.
func IdempotencyRecord(scope, key, fingerprint, cueID string, executionID *string) *core.IdempotencyRecord {
	r := &core.IdempotencyRecord{Scope: scope, Key: key, Fingerprint: fingerprint, CueID: core.CueID(cueID)}
	if executionID != nil {
		id := core.ExecutionID(*executionID)
		r.ExecutionID = &id
	}
	return r
}

// ClaimKey is the idempotency claim both dialects run inside the
// transaction that creates the bound row (claim nil: nothing to do):
// deleteExpired frees a binding older than the claim's window, insert adds
// the binding (1 row, or 0 when the key is held) and get reads the holder,
// which the claim fails with as *core.IdempotencyHeld.
func ClaimKey(e Errors, c *core.IdempotencyClaim, deleteExpired func() error, insert func() (int64, error), get func() (*core.IdempotencyRecord, error)) error {
	const op = "idempotency claim"
	if c == nil {
		return nil
	}
	if err := deleteExpired(); err != nil {
		return e.Interpret(op, err)
	}
	n, err := insert()
	if err != nil {
		return e.Interpret(op, err)
	}
	if n == 1 {
		return nil
	}
	rec, err := get()
	if err != nil {
		return e.Interpret(op, err)
	}
	return &core.IdempotencyHeld{Record: rec}
}
