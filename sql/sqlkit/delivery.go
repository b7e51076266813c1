package sqlkit

import (
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
