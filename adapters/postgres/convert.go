package postgres

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cueapi/cueapi/core"
)

// Conversions between core values and column values. sqlc rows never leave
// this package.

// uuidArg returns the canonical (lowercase) form of a UUID id and whether s
// is one at all. Ids that are not UUIDs cannot name a row, so callers answer
// ErrNotFound (or an empty result) without asking the database.
func uuidArg(s string) (string, bool) {
	if !core.IsUUID(s) {
		return "", false
	}
	return strings.ToLower(s), true
}

// utc returns t in UTC (pgx returns times in the local zone).
func utc(t time.Time) time.Time { return t.UTC() }

// utcPtr is utc for a nullable time.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// pageArgs clamps a limit and offset to the int32 range of LIMIT/OFFSET; a
// limit of 0 or less means no limit.
func pageArgs(limit, offset int) (maxRows, skipRows int32) {
	if limit <= 0 || limit > math.MaxInt32 {
		limit = math.MaxInt32
	}
	offset = min(max(offset, 0), math.MaxInt32)
	return int32(limit), int32(offset)
}

func int32Ptr(v *int) *int32 {
	if v == nil {
		return nil
	}
	n := int32(*v)
	return &n
}

func intPtr(v *int32) *int {
	if v == nil {
		return nil
	}
	n := int(*v)
	return &n
}

// jsonArg returns raw compacted, or def when raw is empty (def nil stores
// NULL). It fails when raw is not JSON.
func jsonArg(raw json.RawMessage, def []byte) ([]byte, error) {
	if len(raw) == 0 {
		return def, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	return buf.Bytes(), nil
}

// jsonValue returns a jsonb column compact (PostgreSQL renders jsonb with
// spaces); NULL stays nil.
func jsonValue(b []byte) json.RawMessage {
	if b == nil {
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return json.RawMessage(b) // jsonb is always valid JSON
	}
	return buf.Bytes()
}

// headersArg encodes callback headers; nil stores {}.
func headersArg(h map[string]string) ([]byte, error) {
	if h == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(h)
}

// decoder converts one row's columns, keeping the first failure, so row
// conversions read as one struct literal followed by a single error check.
type decoder struct{ err error }

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// headers decodes callback_headers.
func (d *decoder) headers(b []byte) map[string]string {
	var h map[string]string
	if err := json.Unmarshal(b, &h); err != nil {
		d.fail(fmt.Errorf("decode callback_headers: %w", err))
	}
	return h
}

// backoffArg encodes retry backoff minutes; nil stores [].
func backoffArg(m []int) ([]byte, error) {
	if m == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(m)
}

// backoff decodes retry_backoff_minutes.
func (d *decoder) backoff(b []byte) []int {
	var m []int
	if err := json.Unmarshal(b, &m); err != nil {
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

// clampInt32 fits a count into an integer column.
func clampInt32(n int) int32 {
	return int32(min(max(n, math.MinInt32), math.MaxInt32))
}

// tenantError is interpretError for writes of a tenant's own rows: a
// foreign key violation means the tenant does not exist (ErrNotFound).
func tenantError(op string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" { // foreign_key_violation
		return fmt.Errorf("postgres: %s: %w (%s)", op, core.ErrNotFound, pgErr.ConstraintName)
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
