package sqlkit

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/cueapi/cueapi/core"
)

// CueSecret is a cue as a delivery needs it: with its owner's sealed
// webhook secret.
type CueSecret struct {
	Cue          *core.Cue
	SecretSealed string
}

// Deliveries pairs executions with their cues and the owners' sealed
// webhook secrets, ordered by scheduled time, then id (core.SortDeliveries).
// readCues reads the rows of the cues of the given distinct ids, sorted
// (the order to lock them in); conv converts each. A missing cue is an
// error: the foreign key and the row locks rule it out.
func Deliveries[R any](execs []*core.Execution, readCues func(ids []string) ([]R, error), conv func(R) (CueSecret, error)) ([]*core.Delivery, error) {
	ids := make([]string, 0, len(execs))
	for _, e := range execs {
		ids = append(ids, string(e.CueID))
	}
	slices.Sort(ids)
	rows, err := readCues(slices.Compact(ids))
	if err != nil {
		return nil, fmt.Errorf("read cues: %w", err)
	}
	cues, err := Convert(rows, conv)
	if err != nil {
		return nil, fmt.Errorf("read cues: %w", err)
	}
	byID := make(map[core.CueID]CueSecret, len(cues))
	for _, c := range cues {
		byID[c.Cue.ID] = c
	}
	out := make([]*core.Delivery, 0, len(execs))
	for _, e := range execs {
		c, ok := byID[e.CueID]
		if !ok {
			return nil, fmt.Errorf("cue %s of execution %s is missing", e.CueID, e.ID)
		}
		out = append(out, &core.Delivery{Execution: e, Cue: c.Cue, WebhookSecretSealed: c.SecretSealed})
	}
	core.SortDeliveries(out)
	return out, nil
}

// Convert converts rows by conv, stopping at the first failure.
func Convert[R, T any](rows []R, conv func(R) (T, error)) ([]T, error) {
	out := make([]T, 0, len(rows))
	for _, r := range rows {
		t, err := conv(r)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// Room is a claim's per-destination room as the SQL claims take it: the
// default bound (PerDestination, or Limit when unbounded), the destinations
// with their own as parallel arrays (PostgreSQL unnest) and as a JSON array
// of [destination, room] pairs (SQLite json_each), the destinations to skip
// (room 0; also as a JSON array), and how many of the oldest due rows of the others the fair
// ranking looks at (ScanRows), in destination order.
type Room struct {
	PerDestination int
	Destinations   []string
	Sizes          []int32
	Skip           []string
	JSON           string
	SkipJSON       string
	ScanRows       int
}

// ScanRowsFor is how many of the oldest due executions a claim of limit
// ranks: enough for every destination in them to get its share, bounded
// so the claim's cost does not grow with the backlog.
func ScanRowsFor(limit int) int { return max(4*limit, 1024) }

// RoomOf is p's room.
func RoomOf(p *core.DeliveryClaim) Room {
	r := Room{PerDestination: p.PerDestination, Destinations: []string{}, Sizes: []int32{}, Skip: []string{}, ScanRows: ScanRowsFor(p.Limit)}
	if r.PerDestination <= 0 {
		r.PerDestination = p.Limit
	}
	for d := range p.Room {
		r.Destinations = append(r.Destinations, d)
	}
	slices.Sort(r.Destinations)
	pairs := make([][2]any, 0, len(r.Destinations))
	for _, d := range r.Destinations {
		n := p.RoomFor(d)
		r.Sizes = append(r.Sizes, Clamp[int32](n))
		pairs = append(pairs, [2]any{d, n})
		if n <= 0 {
			r.Skip = append(r.Skip, d)
		}
	}
	raw, _ := json.Marshal(pairs) // strings and ints always encode
	r.JSON = string(raw)
	raw, _ = json.Marshal(r.Skip)
	r.SkipJSON = string(raw)
	return r
}
