package api

import (
	"bytes"
	"encoding/json"

	"github.com/cueapi/cueapi/core"
)

// errCronAndAt refuses a flat create body with both forms of schedule.
var errCronAndAt = core.Invalid("invalid_schedule", "Specify either cron or at, not both")

// present reports whether m has key with a non-null value.
func present(m map[string]json.RawMessage, key string) bool {
	v, ok := m[key]
	return ok && !bytes.Equal(bytes.TrimSpace(v), []byte("null"))
}

// normalizeFlatCreate rewrites the flat create body of the MCP server's
// cueapi_create_cue (clients.md §2.1.11: cron or at, timezone, callback_url
// and worker at the top level) into the nested shape, before validation.
// A body with a "schedule" key, or with neither cron nor at, is returned
// unchanged; so is anything that is not a JSON object.
func normalizeFlatCreate(body []byte) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return body, nil
	}
	if _, ok := m["schedule"]; ok {
		return body, nil
	}
	hasCron, hasAt := present(m, "cron"), present(m, "at")
	switch {
	case hasCron && hasAt:
		return nil, errCronAndAt
	case !hasCron && !hasAt:
		return body, nil
	}
	schedule := map[string]json.RawMessage{"timezone": json.RawMessage(`"UTC"`)}
	if present(m, "timezone") {
		schedule["timezone"] = m["timezone"]
	}
	if hasCron {
		schedule["type"], schedule["cron"] = json.RawMessage(`"recurring"`), m["cron"]
	} else {
		schedule["type"], schedule["at"] = json.RawMessage(`"once"`), m["at"]
	}
	raw, err := json.Marshal(schedule)
	if err != nil {
		return nil, err
	}
	m["schedule"] = raw
	if bytes.Equal(bytes.TrimSpace(m["worker"]), []byte("true")) {
		m["transport"] = json.RawMessage(`"worker"`)
	} else if present(m, "callback_url") {
		if _, ok := m["callback"]; !ok {
			cb, err := json.Marshal(map[string]json.RawMessage{"url": m["callback_url"], "method": json.RawMessage(`"POST"`)})
			if err != nil {
				return nil, err
			}
			m["callback"] = cb
		}
	}
	for _, k := range []string{"cron", "at", "timezone", "callback_url", "worker"} {
		delete(m, k)
	}
	return json.Marshal(m)
}
