package sqlite

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/cueapi/cueapi/core"
)

// Conversions between core values and column values. sqlc rows never leave
// this package.

// timeLayout is the stored form of every time: UTC, fixed width, always six
// fraction digits, so that comparing the strings compares the instants.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// timeArg is the stored form of t (UTC, truncated to microseconds).
func timeArg(t time.Time) string {
	return t.UTC().Truncate(time.Microsecond).Format(timeLayout)
}

// timeValue parses a stored time; the result is in UTC.
func timeValue(s string) (time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("decode time %q: %w", s, err)
	}
	return t, nil
}

// timePtrArg is timeArg for a nullable time.
func timePtrArg(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := timeArg(*t)
	return &s
}

// decoder converts one row's columns, keeping the first failure, so row
// conversions read as one struct literal followed by a single error check.
type decoder struct{ err error }

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// time decodes a NOT NULL time column.
func (d *decoder) time(s string) time.Time {
	t, err := timeValue(s)
	if err != nil {
		d.fail(err)
	}
	return t
}

// timePtr decodes a nullable time column.
func (d *decoder) timePtr(s *string) *time.Time {
	if s == nil {
		return nil
	}
	t := d.time(*s)
	return &t
}

// uuidArg returns the canonical (lowercase) form of a UUID id and whether s
// is one at all. Ids that are not UUIDs cannot name a row, so callers answer
// ErrNotFound (or an empty result) without asking the database; lowercasing
// matches PostgreSQL's case-insensitive uuid type.
func uuidArg(s string) (string, bool) {
	if !core.IsUUID(s) {
		return "", false
	}
	return strings.ToLower(s), true
}

// pageArgs maps a limit and offset to LIMIT/OFFSET; a limit of 0 or less
// means no limit.
func pageArgs(limit, offset int) (maxRows, skipRows int64) {
	if limit <= 0 {
		return math.MaxInt64, int64(max(offset, 0))
	}
	return int64(limit), int64(max(offset, 0))
}

func boolArg(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func int64Ptr(v *int) *int64 {
	if v == nil {
		return nil
	}
	n := int64(*v)
	return &n
}

func intPtr(v *int64) *int {
	if v == nil {
		return nil
	}
	n := int(*v)
	return &n
}

// jsonArg returns raw compacted, or def when raw is empty. It fails when
// raw is not JSON.
func jsonArg(raw json.RawMessage, def string) (string, error) {
	if len(raw) == 0 {
		return def, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return "", fmt.Errorf("invalid JSON: %w", err)
	}
	return buf.String(), nil
}

// jsonPtrArg is jsonArg for a nullable column: empty stores NULL.
func jsonPtrArg(raw json.RawMessage) (*string, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	s, err := jsonArg(raw, "")
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// jsonValue returns a nullable JSON column as stored (compact); NULL stays
// nil.
func jsonValue(s *string) json.RawMessage {
	if s == nil {
		return nil
	}
	return json.RawMessage(*s)
}

// headersArg encodes callback headers; nil stores {}.
func headersArg(h map[string]string) (string, error) {
	if h == nil {
		return "{}", nil
	}
	b, err := json.Marshal(h)
	return string(b), err
}

// headers decodes callback_headers.
func (d *decoder) headers(s string) map[string]string {
	var h map[string]string
	if err := json.Unmarshal([]byte(s), &h); err != nil {
		d.fail(fmt.Errorf("decode callback_headers: %w", err))
	}
	return h
}

// backoffArg encodes retry backoff minutes; nil stores [].
func backoffArg(m []int) (string, error) {
	if m == nil {
		return "[]", nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// backoff decodes retry_backoff_minutes.
func (d *decoder) backoff(s string) []int {
	var m []int
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		d.fail(fmt.Errorf("decode retry_backoff_minutes: %w", err))
	}
	return m
}

func verificationArg(v *core.VerificationMode) *string {
	if v == nil {
		return nil
	}
	s := string(*v)
	return &s
}

func verificationValue(s *string) *core.VerificationMode {
	if s == nil {
		return nil
	}
	v := core.VerificationMode(*s)
	return &v
}

// tenantError is interpretError for writes of a tenant's own rows: a
// foreign key violation means the tenant does not exist (ErrNotFound).
func tenantError(op string, err error) error {
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) && sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
		return fmt.Errorf("sqlite: %s: %w (%s)", op, core.ErrNotFound, sqErr.Error())
	}
	return interpretError(op, err)
}

// statusArg is the status a cue effect applies ("" none).
func statusArg(st *core.CueStatus) string {
	if st == nil {
		return ""
	}
	return string(*st)
}
