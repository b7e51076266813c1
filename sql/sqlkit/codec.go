package sqlkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/cueapi/cueapi/core"
)

// UUID returns the canonical (lowercase) form of a UUID id and whether s is
// one at all. Ids that are not UUIDs cannot name a row, so callers answer
// ErrNotFound (or an empty result) without asking the database;
// lowercasing matches PostgreSQL's case-insensitive uuid type.
func UUID(s string) (string, bool) {
	if !core.IsUUID(s) {
		return "", false
	}
	return strings.ToLower(s), true
}

// OptionalUUID is UUID for a nullable id column: nil stays nil; what names
// the column goes into the error.
func OptionalUUID(what string, s *string) (*string, error) {
	if s == nil {
		return nil, nil
	}
	id, ok := UUID(*s)
	if !ok {
		return nil, fmt.Errorf("%s %q is not a UUID", what, *s)
	}
	return &id, nil
}

// Page maps a limit and offset to LIMIT/OFFSET arguments of the
// dialect's integer type; a limit of 0 or less (or beyond the type's
// range) means no limit.
func Page[I int32 | int64](limit, offset int) (maxRows, skipRows I) {
	top := maxOf[I]()
	if limit <= 0 || int64(limit) > top {
		return I(top), Clamp[I](max(offset, 0))
	}
	return I(limit), Clamp[I](max(offset, 0))
}

// Clamp converts n to the dialect's integer type, saturating at its
// range.
func Clamp[I int32 | int64](n int) I {
	hi := maxOf[I]()
	return I(min(max(int64(n), -hi-1), hi))
}

// maxOf is the largest value of I.
func maxOf[I int32 | int64]() int64 {
	var one I = 1
	if one<<31 < 0 {
		return math.MaxInt32
	}
	return math.MaxInt64
}

// CompactJSON returns raw compacted, or def when raw is empty (def nil
// stores NULL). It fails when raw is not JSON.
func CompactJSON(raw json.RawMessage, def []byte) ([]byte, error) {
	if len(raw) == 0 {
		return def, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	return buf.Bytes(), nil
}

// CueJSON holds a cue's JSON columns, encoded: callback headers (nil
// stores {}), payload (empty stores {}) and retry backoff minutes (nil
// stores []).
type CueJSON struct{ Headers, Payload, Backoff []byte }

// CueJSONOf encodes c's JSON columns.
func CueJSONOf(c *core.Cue) (CueJSON, error) {
	var (
		cols CueJSON
		err  error
	)
	if cols.Headers, err = Headers(c.Callback.Headers); err != nil {
		return cols, err
	}
	if cols.Payload, err = CompactJSON(c.Payload, []byte("{}")); err != nil {
		return cols, fmt.Errorf("payload: %w", err)
	}
	if cols.Backoff, err = json.Marshal(c.Retry.BackoffMinutes); err != nil {
		return cols, err
	}
	if c.Retry.BackoffMinutes == nil {
		cols.Backoff = []byte("[]")
	}
	return cols, nil
}

// Headers encodes a JSON object of header fields; nil stores {}.
func Headers(h map[string]string) ([]byte, error) {
	if h == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(h)
}

// Decoder converts one row's columns, keeping the first failure, so row
// conversions read as one struct literal followed by a single error check.
type Decoder struct{ Err error }

// Fail records err unless an earlier failure is recorded.
func (d *Decoder) Fail(err error) {
	if d.Err == nil {
		d.Err = err
	}
}

// Headers decodes callback_headers.
func (d *Decoder) Headers(b []byte) map[string]string {
	var h map[string]string
	if err := json.Unmarshal(b, &h); err != nil {
		d.Fail(fmt.Errorf("decode callback_headers: %w", err))
	}
	return h
}

// Backoff decodes retry_backoff_minutes.
func (d *Decoder) Backoff(b []byte) []int {
	var m []int
	if err := json.Unmarshal(b, &m); err != nil {
		d.Fail(fmt.Errorf("decode retry_backoff_minutes: %w", err))
	}
	return m
}

// Strings decodes a nullable JSON array of strings (nil stays nil).
func (d *Decoder) Strings(what string, b []byte) []string {
	if b == nil {
		return nil
	}
	var s []string
	if err := json.Unmarshal(b, &s); err != nil {
		d.Fail(fmt.Errorf("decode %s: %w", what, err))
	}
	return s
}

// StringMap decodes a JSON object of strings.
func (d *Decoder) StringMap(what string, b []byte) map[string]string {
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		d.Fail(fmt.Errorf("decode %s: %w", what, err))
	}
	return m
}

// Status is the status column of a cue effect ("" keeps the status).
func Status(st *core.CueStatus) string {
	if st == nil {
		return ""
	}
	return string(*st)
}

// Row finishes a single-row read: a query error is interpreted with op (no
// rows: core.ErrNotFound); otherwise the row is converted by conv, a
// conversion error prefixed with op.
func Row[R, T any](e Errors, op string, row R, err error, conv func(R) (T, error)) (T, error) {
	var zero T
	if err != nil {
		return zero, e.Interpret(op, err)
	}
	t, err := conv(row)
	if err != nil {
		return zero, e.Op(op, err)
	}
	return t, nil
}

// Infallible adapts a conversion that cannot fail to Row.
func Infallible[R, T any](conv func(R) T) func(R) (T, error) {
	return func(r R) (T, error) { return conv(r), nil }
}

// Args converts one write's arguments, keeping the first failure (the
// counterpart of Decoder), so argument lists read as one struct literal
// followed by a single error check.
type Args struct{ Err error }

// Fail records err unless an earlier failure is recorded.
func (a *Args) Fail(err error) {
	if a.Err == nil {
		a.Err = err
	}
}

// ID is the canonical form of a new row's id, which must be a UUID; what
// names it in the error.
func (a *Args) ID(what, id string) string {
	canon, ok := UUID(id)
	if !ok {
		a.Fail(fmt.Errorf("%s %q is not a UUID", what, id))
	}
	return canon
}

// OptionalID is ID for a nullable id column: nil stays nil.
func (a *Args) OptionalID(what string, id *string) *string {
	canon, err := OptionalUUID(what, id)
	if err != nil {
		a.Fail(err)
	}
	return canon
}

// JSON is CompactJSON of a JSON column (empty stores def); what names it
// in the error.
func (a *Args) JSON(what string, raw json.RawMessage, def []byte) []byte {
	b, err := CompactJSON(raw, def)
	if err != nil {
		a.Fail(fmt.Errorf("%s: %w", what, err))
	}
	return b
}

// Modify is a read-modify-write of one row inside the caller's
// transaction: read locks and returns the row (its error interpreted with
// op), conv converts it (a failure prefixed with op), fn changes the value
// (its error aborts and is returned as is), and save stores the value
// over the row it was read from and returns the stored row (its error
// interpreted), converted again.
func Modify[R, T any](e Errors, op string, read func() (R, error), conv func(R) (T, error), fn func(T) error, save func(R, T) (R, error)) (T, error) {
	var zero T
	row, err := read()
	if err != nil {
		return zero, e.Interpret(op, err)
	}
	t, err := conv(row)
	if err != nil {
		return zero, e.Op(op, err)
	}
	if err := fn(t); err != nil {
		return zero, err
	}
	row, err = save(row, t)
	return Row(e, op, row, err, conv)
}

// Named is a nullable text column as a pointer to a string type (nil
// stays nil).
func Named[T ~string](s *string) *T {
	if s == nil {
		return nil
	}
	v := T(*s)
	return &v
}

// Text is the nullable text column of a pointer to a string type (nil
// stores NULL).
func Text[T ~string](v *T) *string {
	if v == nil {
		return nil
	}
	s := string(*v)
	return &s
}
