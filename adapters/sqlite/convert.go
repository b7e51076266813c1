package sqlite

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/cueapi/cueapi/sql/sqlkit"
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
type decoder struct{ sqlkit.Decoder }

// time decodes a NOT NULL time column.
func (d *decoder) time(s string) time.Time {
	t, err := timeValue(s)
	if err != nil {
		d.Fail(err)
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
	b, err := sqlkit.CompactJSON(raw, []byte(def))
	return string(b), err
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

// bytesOf is a nullable TEXT column as bytes (NULL: nil).
func bytesOf(s *string) []byte {
	if s == nil {
		return nil
	}
	return []byte(*s)
}

// textPtr is a nullable TEXT column of bytes (nil: NULL).
func textPtr(b []byte) *string {
	if b == nil {
		return nil
	}
	return new(string(b))
}

// times stores times as fixed-width UTC text (see timeLayout and
// sqlkit.Times).
var times = sqlkit.Times[string]{Encode: timeArg, Decode: timeValue}
