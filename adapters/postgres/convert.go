package postgres

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
)

// Conversions between core values and column values. sqlc rows never leave
// this package.

// utc returns t in UTC (pgx returns times in the local zone).
func utc(t time.Time) time.Time { return t.UTC() }

// utcPtr is utc for a nullable time just scanned (the row owns it, and
// nothing else): converted in place, without another allocation.
func utcPtr(t *time.Time) *time.Time {
	if t != nil {
		*t = t.UTC()
	}
	return t
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

// times stores times as timestamptz: pgx takes time.Time as is and returns
// it in the local zone, so decoding converts to UTC (see sqlkit.Times).
var times = sqlkit.Times[time.Time]{
	Encode: func(t time.Time) time.Time { return t },
	Decode: func(t time.Time) (time.Time, error) { return t.UTC(), nil },
}

// statusCounts decodes CueGetWithCounts' JSON object of execution counts
// per status ({"success": 2}); the map is never nil.
func statusCounts(b []byte) (map[core.ExecutionStatus]int, error) {
	counts := map[core.ExecutionStatus]int{}
	if err := json.Unmarshal(b, &counts); err != nil {
		return nil, fmt.Errorf("decode execution counts: %w", err)
	}
	return counts, nil
}
