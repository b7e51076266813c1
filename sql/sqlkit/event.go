package sqlkit

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/cueapi/cueapi/core"
)

// EventWriter is one dialect's statements for writing events inside a
// transaction the adapter opened.
type EventWriter[R any] struct {
	// Lock serializes the event ids of one recipient in commit order
	// (PostgreSQL's advisory lock; nil where the database has one writer).
	Lock func(agent string) error
	// Insert writes one event, returning nothing when its idempotency key
	// is already stored.
	Insert func(e *core.EventEmit, payload []byte) ([]R, error)
	// ByKey reads the stored event of (type, key).
	ByKey func(typ, key string) (R, error)
	// Conv maps a row to the core event.
	Conv func(R) (*core.Event, error)
}

// EmitEvents writes evs in order with w and returns the stored events:
// recipients are locked first in sorted order (no deadlock between two
// transactions emitting to the same recipients), then each event is
// inserted, or the stored one of its idempotency key returned. Errors are
// interpreted by e.
func EmitEvents[R any](e Errors, op string, w EventWriter[R], evs []*core.EventEmit) ([]*core.Event, error) {
	if w.Lock != nil {
		agents := make([]string, 0, len(evs))
		for _, ev := range evs {
			agents = append(agents, ev.RecipientAgentID)
		}
		slices.SortFunc(agents, cmp.Compare)
		for _, a := range slices.Compact(agents) {
			if err := w.Lock(a); err != nil {
				return nil, e.Interpret(op+": lock", err)
			}
		}
	}
	out := make([]*core.Event, 0, len(evs))
	for _, ev := range evs {
		payload, err := CompactJSON(ev.Payload, []byte("{}"))
		if err != nil {
			return nil, e.Op(op, fmt.Errorf("payload: %w", err))
		}
		rows, err := w.Insert(ev, payload)
		if err != nil {
			return nil, e.Tenant(op, err)
		}
		var row R
		if len(rows) > 0 {
			row = rows[0]
		} else if ev.IdempotencyKey == "" {
			return nil, e.Op(op, errors.New("insert returned no row"))
		} else if row, err = w.ByKey(ev.Type, ev.IdempotencyKey); err != nil {
			return nil, e.Interpret(op+": by key", err)
		}
		got, err := w.Conv(row)
		if err != nil {
			return nil, e.Op(op, err)
		}
		out = append(out, got)
	}
	return out, nil
}

// OptionalKey is a nullable idempotency key column ("" is none).
func OptionalKey(k string) *string {
	if k == "" {
		return nil
	}
	return &k
}

// OptionalText is a nullable text filter ("" is none).
func OptionalText(s string) *string { return OptionalKey(s) }

// EventPayload returns a stored payload as compact JSON.
func EventPayload(b []byte) json.RawMessage {
	c, err := CompactJSON(b, []byte("{}"))
	if err != nil {
		return json.RawMessage(b)
	}
	return c
}

// TenantRow canonicalizes a (tenant, row id) pair of UUIDs; false when
// either is not one (it names no row).
func TenantRow(tenant core.TenantID, id string) (string, string, bool) {
	user, ok1 := UUID(string(tenant))
	rid, ok2 := UUID(id)
	return user, rid, ok1 && ok2
}

// Watermark is a nullable event watermark as a cursor (0 when none).
func Watermark(id *int64) int64 {
	if id == nil {
		return 0
	}
	return *id
}
