package sqlkit

import "github.com/cueapi/cueapi/core"

// AlertDue is a due alert as a claim read it: its stored destination and
// its tenant's current alert URL.
type AlertDue struct {
	ID          string
	Destination string
	URL         *string
}

// AlertClaimSplit sorts the due alerts a claim read: claimed (deliverable
// to the destination they are stored under, by position), orphaned (the
// tenant has no alert URL any more: give them up) and moved (the tenant's
// URL now has another destination: id → new destination; they are
// claimed under it by a later claim, so the per-destination room holds).
func AlertClaimSplit(rows []AlertDue) (claimed []int, orphaned []string, moved map[string]string) {
	moved = map[string]string{}
	for i, r := range rows {
		switch {
		case !core.HasAlertWebhook(r.URL):
			orphaned = append(orphaned, r.ID)
		case core.DestinationOf(*r.URL) != r.Destination:
			moved[r.ID] = core.DestinationOf(*r.URL)
		default:
			claimed = append(claimed, i)
		}
	}
	return claimed, orphaned, moved
}

// AlertRecord stores p's results one at a time through write (in the
// caller's transaction), returning which were applied: write returns the
// rows it changed (0 when the fence no longer holds). A result whose id is
// not a UUID is not applied.
func AlertRecord(p *core.AlertRecordDeliveriesParams, write func(r *core.AlertRecordDeliveryParams, id string) (int64, error)) ([]bool, error) {
	applied := make([]bool, len(p.Results))
	for i, r := range p.Results {
		id, ok := UUID(r.ID)
		if !ok {
			continue
		}
		n, err := write(r, id)
		if err != nil {
			return nil, err
		}
		applied[i] = n > 0
	}
	return applied, nil
}
