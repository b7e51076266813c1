package apigen

// This file is written by hand, not generated: it gives the generated
// Execution, Cue, CueDetail, CueList and ExecutionList JSON encoders of
// their own (AppendJSON). They are the most read objects of the API
// (clients poll an execution for its outcome; a cue's detail and the lists
// carry pages of them), and encoding/json spent more time on them than the
// rest of the request's own work: reflection over every field, and every
// time field through time.Time's MarshalJSON and a validation pass over
// its output. AppendJSON writes exactly the bytes encoding/json writes for
// the type (TestGeneratedJSONMatchesEncodingJSON in package api holds it
// to that for every field of the generated types, so a field added to the
// contract fails the test until it is added here). They are deliberately
// not MarshalJSON methods: encoding/json would validate and copy their
// output again wherever the types are nested, which costs more than its
// reflection saves; the API's handlers for these answers call AppendJSON.

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends e's JSON encoding to b.
func (e *Execution) AppendJSON(b []byte) ([]byte, error) {
	var err error
	b = append(b, `{"attempts":`...)
	b = strconv.AppendInt(b, int64(e.Attempts), 10)
	b = append(b, `,"chain_depth":`...)
	b = strconv.AppendInt(b, int64(e.ChainDepth), 10)
	b = append(b, `,"chain_parent_id":`...)
	b = appendStringPtr(b, e.ChainParentID)
	b = append(b, `,"claimed_at":`...)
	b, err = appendTimePtr(b, e.ClaimedAt, err)
	b = append(b, `,"claimed_by_worker":`...)
	b = appendStringPtr(b, e.ClaimedByWorker)
	b = append(b, `,"created_at":`...)
	b, err = appendTime(b, e.CreatedAt, err)
	b = append(b, `,"cue_id":`...)
	b = appendString(b, e.CueID)
	b = append(b, `,"delivered_at":`...)
	b, err = appendTimePtr(b, e.DeliveredAt, err)
	b = append(b, `,"error_message":`...)
	b = appendStringPtr(b, e.ErrorMessage)
	b = append(b, `,"evidence":`...)
	if e.Evidence == nil {
		b = append(b, "null"...)
	} else {
		b, err = appendEvidence(b, e.Evidence, err)
	}
	b = append(b, `,"http_status":`...)
	if e.HTTPStatus == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, int64(*e.HTTPStatus), 10)
	}
	b = append(b, `,"id":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"last_attempt_at":`...)
	b, err = appendTimePtr(b, e.LastAttemptAt, err)
	b = append(b, `,"last_heartbeat_at":`...)
	b, err = appendTimePtr(b, e.LastHeartbeatAt, err)
	b = append(b, `,"lease_expires_at":`...)
	b, err = appendTimePtr(b, e.LeaseExpiresAt, err)
	b = append(b, `,"next_retry":`...)
	b, err = appendTimePtr(b, e.NextRetry, err)
	b = append(b, `,"outcome":`...)
	if e.Outcome == nil {
		b = append(b, "null"...)
	} else {
		b, err = appendOutcome(b, e.Outcome, err)
	}
	b = append(b, `,"outcome_state":`...)
	b = appendStringPtr(b, e.OutcomeState)
	if len(e.Payload) > 0 {
		b = append(b, `,"payload":`...)
		b, err = appendRaw(b, e.Payload, err)
	}
	b = append(b, `,"replayed_from":`...)
	b = appendStringPtr(b, e.ReplayedFrom)
	b = append(b, `,"response_body":`...)
	b = appendStringPtr(b, e.ResponseBody)
	b = append(b, `,"scheduled_for":`...)
	b, err = appendTime(b, e.ScheduledFor, err)
	b = append(b, `,"started_at":`...)
	b, err = appendTimePtr(b, e.StartedAt, err)
	b = append(b, `,"status":`...)
	b = appendString(b, string(e.Status))
	b = append(b, `,"triggered_by":`...)
	b = appendString(b, e.TriggeredBy)
	b = append(b, `,"updated_at":`...)
	b, err = appendTime(b, e.UpdatedAt, err)
	return append(b, '}'), err
}

func appendEvidence(b []byte, v *Evidence, err error) ([]byte, error) {
	b = append(b, `{"artifacts":`...)
	b, err = appendRawPtr(b, v.Artifacts, err)
	b = append(b, `,"external_id":`...)
	b = appendStringPtr(b, v.ExternalID)
	b = append(b, `,"metadata":`...)
	b, err = appendRawPtr(b, v.Metadata, err)
	b = append(b, `,"produced_at":`...)
	b, err = appendTimePtr(b, v.ProducedAt, err)
	b = append(b, `,"result_ref":`...)
	b = appendStringPtr(b, v.ResultRef)
	b = append(b, `,"result_type":`...)
	b = appendStringPtr(b, v.ResultType)
	b = append(b, `,"result_url":`...)
	b = appendStringPtr(b, v.ResultURL)
	b = append(b, `,"summary":`...)
	b = appendStringPtr(b, v.Summary)
	b = append(b, `,"validation_state":`...)
	b = appendStringPtr(b, v.ValidationState)
	return append(b, '}'), err
}

func appendOutcome(b []byte, v *Outcome, err error) ([]byte, error) {
	b = append(b, `{"artifacts":`...)
	b, err = appendRawPtr(b, v.Artifacts, err)
	b = append(b, `,"error":`...)
	b = appendStringPtr(b, v.Error)
	b = append(b, `,"external_id":`...)
	b = appendStringPtr(b, v.ExternalID)
	b = append(b, `,"metadata":`...)
	b, err = appendRawPtr(b, v.Metadata, err)
	b = append(b, `,"recorded_at":`...)
	b, err = appendTime(b, v.RecordedAt, err)
	b = append(b, `,"result":`...)
	b = appendStringPtr(b, v.Result)
	b = append(b, `,"result_ref":`...)
	b = appendStringPtr(b, v.ResultRef)
	b = append(b, `,"result_type":`...)
	b = appendStringPtr(b, v.ResultType)
	b = append(b, `,"result_url":`...)
	b = appendStringPtr(b, v.ResultURL)
	b = append(b, `,"success":`...)
	b = strconv.AppendBool(b, v.Success)
	b = append(b, `,"summary":`...)
	b = appendStringPtr(b, v.Summary)
	b = append(b, `,"validation_state":`...)
	b = appendStringPtr(b, v.ValidationState)
	return append(b, '}'), err
}

// jsonPlain marks the ASCII bytes encoding/json writes as they are (with
// HTML escaping, its default): printable or DEL, not '"', '\\', '<', '>'
// or '&'.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c <= 0x7f; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, as encoding/json writes it with
// HTML escaping (its default): \b \f \n \r \t, other control bytes and
// <, > and & as \u00XX, invalid UTF-8 as \ufffd, U+2028 and U+2029
// escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonPlain[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func appendStringPtr(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s)
}

// errJSONTime is time.Time's MarshalJSON refusal (a year outside
// [0, 9999], a zone offset of 24 hours or more): encoding/json fails the
// whole value, so does this.
var errJSONTime = errors.New("json: time not representable in RFC 3339")

// appendTime appends t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds, trailing zeros dropped), with its checks. err is the first
// error so far.
func appendTime(b []byte, t time.Time, err error) ([]byte, error) {
	b = append(b, '"')
	n0 := len(b)
	b = t.AppendFormat(b, time.RFC3339Nano)
	bad := b[n0+len("9999")] != '-'
	if z := b[len(b)-1]; !bad && z != 'Z' {
		c := b[len(b)-len("Z07:00")]
		h := 10*(b[len(b)-5]-'0') + (b[len(b)-4] - '0')
		bad = ('0' <= c && c <= '9') || h >= 24
	}
	if bad && err == nil {
		err = errJSONTime
	}
	return append(b, '"'), err
}

func appendTimePtr(b []byte, t *time.Time, err error) ([]byte, error) {
	if t == nil {
		return append(b, "null"...), err
	}
	return appendTime(b, *t, err)
}

// errJSONRaw is encoding/json's refusal of a json.RawMessage that is not
// valid JSON.
var errJSONRaw = errors.New("json: invalid raw JSON value")

// appendRaw appends raw JSON as encoding/json writes a json.RawMessage:
// nil is null; otherwise it must be valid JSON, and it is compacted, with
// <, > and & and U+2028/U+2029 (inside its strings) escaped.
func appendRaw(b []byte, raw json.RawMessage, err error) ([]byte, error) {
	if raw == nil {
		return append(b, "null"...), err
	}
	if !json.Valid(raw) {
		if err == nil {
			err = errJSONRaw
		}
		return b, err
	}
	start, inString, escaped := 0, false, false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if !inString {
			switch c {
			case '"':
				inString = true
			case ' ', '\t', '\n', '\r':
				b = append(b, raw[start:i]...)
				start = i + 1
			}
			continue
		}
		switch {
		case escaped:
			escaped = false
		case c == '\\':
			escaped = true
		case c == '"':
			inString = false
		case c == '<' || c == '>' || c == '&':
			b = append(b, raw[start:i]...)
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			start = i + 1
		case c == 0xE2 && i+2 < len(raw) && raw[i+1] == 0x80 && raw[i+2]&^1 == 0xA8:
			b = append(b, raw[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[raw[i+2]&0xF])
			i += 2
			start = i + 1
		}
	}
	return append(b, raw[start:]...), err
}

func appendRawPtr(b []byte, raw *json.RawMessage, err error) ([]byte, error) {
	if raw == nil {
		return append(b, "null"...), err
	}
	return appendRaw(b, *raw, err)
}

// AppendJSON appends c's JSON encoding to b.
func (c *Cue) AppendJSON(b []byte) ([]byte, error) {
	return appendCue(b, c, nil, nil)
}

// AppendJSON appends d's JSON encoding to b: a cue's fields with the
// detail's own in their places.
func (d *CueDetail) AppendJSON(b []byte) ([]byte, error) {
	c := Cue{
		Alerts: d.Alerts, Callback: d.Callback, CatchUp: d.CatchUp, CreatedAt: d.CreatedAt, Delivery: d.Delivery,
		Description: d.Description, FiredCount: d.FiredCount, ID: d.ID, LastRun: d.LastRun, Name: d.Name,
		NextRun: d.NextRun, OnFailure: d.OnFailure, OnSuccessFire: d.OnSuccessFire,
		OutcomeDeadlineSeconds: d.OutcomeDeadlineSeconds, Payload: d.Payload,
		RequirePayloadOverride: d.RequirePayloadOverride, RequiredPayloadKeys: d.RequiredPayloadKeys,
		Retry: d.Retry, RunCount: d.RunCount, Schedule: d.Schedule, Status: d.Status, Transport: d.Transport,
		UpdatedAt: d.UpdatedAt, Verification: d.Verification, Warning: d.Warning,
	}
	executions := func(b []byte, err error) ([]byte, error) {
		b = append(b, `,"execution_limit":`...)
		b = strconv.AppendInt(b, int64(d.ExecutionLimit), 10)
		b = append(b, `,"execution_offset":`...)
		b = strconv.AppendInt(b, int64(d.ExecutionOffset), 10)
		b = append(b, `,"execution_total":`...)
		b = strconv.AppendInt(b, int64(d.ExecutionTotal), 10)
		b = append(b, `,"executions":`...)
		return appendList(b, d.Executions, (*Execution).AppendJSON, err)
	}
	stats := func(b []byte, err error) ([]byte, error) {
		s := d.Stats
		if s == nil {
			return b, err // omitempty
		}
		b = append(b, `,"stats":{"executions":`...)
		b = strconv.AppendInt(b, int64(s.Executions), 10)
		b = append(b, `,"failed":`...)
		b = strconv.AppendInt(b, int64(s.Failed), 10)
		b = append(b, `,"miss_rate":`...)
		b, err = appendFloatPtr(b, s.MissRate, err)
		b = append(b, `,"missed":`...)
		b = strconv.AppendInt(b, int64(s.Missed), 10)
		b = append(b, `,"succeeded":`...)
		b = strconv.AppendInt(b, int64(s.Succeeded), 10)
		b = append(b, `,"success_rate":`...)
		b, err = appendFloatPtr(b, s.SuccessRate, err)
		b = append(b, `,"window_days":`...)
		b = strconv.AppendInt(b, int64(s.WindowDays), 10)
		return append(b, '}'), err
	}
	return appendCue(b, &c, executions, stats)
}

// AppendJSON appends l's JSON encoding to b.
func (l *CueList) AppendJSON(b []byte) ([]byte, error) {
	var err error
	b = append(b, `{"cues":`...)
	b, err = appendList(b, l.Cues, (*Cue).AppendJSON, err)
	b = append(b, `,"limit":`...)
	b = strconv.AppendInt(b, int64(l.Limit), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, int64(l.Offset), 10)
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, int64(l.Total), 10)
	return append(b, '}'), err
}

// AppendJSON appends l's JSON encoding to b.
func (l *ExecutionList) AppendJSON(b []byte) ([]byte, error) {
	var err error
	b = append(b, `{"executions":`...)
	b, err = appendList(b, l.Executions, (*Execution).AppendJSON, err)
	b = append(b, `,"has_more":`...)
	b = strconv.AppendBool(b, l.HasMore)
	b = append(b, `,"limit":`...)
	b = strconv.AppendInt(b, int64(l.Limit), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, int64(l.Offset), 10)
	b = append(b, `,"oldest_claimed_at":`...)
	b = appendStringPtr(b, l.OldestClaimedAt)
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, int64(l.Total), 10)
	return append(b, '}'), err
}

// appendList appends items as a JSON array (nil: null), each with its
// encoder. err is the first error so far.
func appendList[T any](b []byte, items []T, each func(*T, []byte) ([]byte, error), err error) ([]byte, error) {
	if items == nil {
		return append(b, "null"...), err
	}
	b = append(b, '[')
	for i := range items {
		if i > 0 {
			b = append(b, ',')
		}
		var e error
		if b, e = each(&items[i], b); e != nil && err == nil {
			err = e
		}
	}
	return append(b, ']'), err
}

// appendCue appends c; afterDescription and afterSchedule, when not nil,
// append a cue detail's fields that sort between those.
func appendCue(b []byte, c *Cue, afterDescription, afterSchedule func([]byte, error) ([]byte, error)) ([]byte, error) {
	var err error
	b = append(b, `{"alerts":`...)
	b, err = appendRawPtr(b, c.Alerts, err)
	b = append(b, `,"callback":{"headers":`...)
	b = appendStringMap(b, c.Callback.Headers)
	b = append(b, `,"method":`...)
	b = appendString(b, string(c.Callback.Method))
	b = append(b, `,"url":`...)
	b = appendStringPtr(b, c.Callback.URL)
	b = append(b, `},"catch_up":`...)
	b = appendString(b, string(c.CatchUp))
	b = append(b, `,"created_at":`...)
	b, err = appendTime(b, c.CreatedAt, err)
	b = append(b, `,"delivery":`...)
	if d := c.Delivery; d == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"outcome_deadline_seconds":`...)
		b = strconv.AppendInt(b, int64(d.OutcomeDeadlineSeconds), 10)
		b = append(b, `,"timeout_seconds":`...)
		b = strconv.AppendInt(b, int64(d.TimeoutSeconds), 10)
		b = append(b, '}')
	}
	b = append(b, `,"description":`...)
	b = appendStringPtr(b, c.Description)
	if afterDescription != nil {
		b, err = afterDescription(b, err)
	}
	b = append(b, `,"fired_count":`...)
	b = strconv.AppendInt(b, int64(c.FiredCount), 10)
	b = append(b, `,"id":`...)
	b = appendString(b, c.ID)
	b = append(b, `,"last_run":`...)
	b, err = appendTimePtr(b, c.LastRun, err)
	b = append(b, `,"name":`...)
	b = appendString(b, c.Name)
	b = append(b, `,"next_run":`...)
	b, err = appendTimePtr(b, c.NextRun, err)
	b = append(b, `,"on_failure":`...)
	if f := c.OnFailure; f == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"email":`...)
		b = strconv.AppendBool(b, f.Email)
		b = append(b, `,"pause":`...)
		b = strconv.AppendBool(b, f.Pause)
		b = append(b, `,"webhook":`...)
		b = appendStringPtr(b, f.Webhook)
		b = append(b, '}')
	}
	b = append(b, `,"on_success_fire":`...)
	b = appendStringPtr(b, c.OnSuccessFire)
	b = append(b, `,"outcome_deadline_seconds":`...)
	b = appendIntPtr(b, c.OutcomeDeadlineSeconds)
	b = append(b, `,"payload":`...)
	b, err = appendRaw(b, c.Payload, err)
	b = append(b, `,"require_payload_override":`...)
	b = strconv.AppendBool(b, c.RequirePayloadOverride)
	b = append(b, `,"required_payload_keys":`...)
	b = appendStringsPtr(b, c.RequiredPayloadKeys)
	b = append(b, `,"retry":{"backoff_minutes":`...)
	if c.Retry.BackoffMinutes == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, m := range c.Retry.BackoffMinutes {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(m), 10)
		}
		b = append(b, ']')
	}
	b = append(b, `,"max_attempts":`...)
	b = strconv.AppendInt(b, int64(c.Retry.MaxAttempts), 10)
	b = append(b, `},"run_count":`...)
	b = strconv.AppendInt(b, int64(c.RunCount), 10)
	b = append(b, `,"schedule":{`...)
	if c.Schedule.At != nil {
		b = append(b, `"at":`...)
		b = appendString(b, *c.Schedule.At)
		b = append(b, ',')
	}
	if c.Schedule.Cron != nil {
		b = append(b, `"cron":`...)
		b = appendString(b, *c.Schedule.Cron)
		b = append(b, ',')
	}
	b = append(b, `"timezone":`...)
	b = appendString(b, c.Schedule.Timezone)
	b = append(b, `,"type":`...)
	b = appendString(b, string(c.Schedule.Type))
	b = append(b, '}')
	if afterSchedule != nil {
		b, err = afterSchedule(b, err)
	}
	b = append(b, `,"status":`...)
	b = appendString(b, string(c.Status))
	b = append(b, `,"transport":`...)
	b = appendString(b, string(c.Transport))
	b = append(b, `,"updated_at":`...)
	b, err = appendTime(b, c.UpdatedAt, err)
	b = append(b, `,"verification":`...)
	if v := c.Verification; v == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"mode":`...)
		b = appendString(b, string(v.Mode))
		b = append(b, `,"required_assertions":`...)
		b = appendStringsPtr(b, v.RequiredAssertions)
		b = append(b, '}')
	}
	b = append(b, `,"warning":`...)
	b = appendStringPtr(b, c.Warning)
	return append(b, '}'), err
}

func appendIntPtr(b []byte, n *int) []byte {
	if n == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, int64(*n), 10)
}

// appendStringsPtr appends a *[]string as encoding/json does (nil pointer
// or nil slice: null).
func appendStringsPtr(b []byte, ss *[]string) []byte {
	if ss == nil || *ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range *ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendStringMap appends m with its keys sorted, as encoding/json does
// (nil: null).
func appendStringMap(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, m[k])
	}
	return append(b, '}')
}

// errJSONFloat is encoding/json's refusal of NaN and infinities.
var errJSONFloat = errors.New("json: unsupported float value")

// appendFloatPtr appends a float64 as encoding/json does: the shortest
// representation, in exponent form below 1e-6 and from 1e21 on, with a
// one-digit negative exponent where it has one.
func appendFloatPtr(b []byte, f *float64, err error) ([]byte, error) {
	if f == nil {
		return append(b, "null"...), err
	}
	v := *f
	if math.IsInf(v, 0) || math.IsNaN(v) {
		if err == nil {
			err = errJSONFloat
		}
		return append(b, "null"...), err
	}
	format := byte('f')
	if abs := math.Abs(v); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, v, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, err
}
