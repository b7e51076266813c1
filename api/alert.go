package api

import (
	"context"

	"github.com/cueapi/cueapi/api/apigen"
)

// ListAlerts lists the caller's alerts.
func (s *Server) ListAlerts(ctx context.Context, req apigen.ListAlertsRequestObject) (apigen.ListAlertsResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	limit, offset := intOr(req.Params.Limit, 20), intOr(req.Params.Offset, 0)
	list, total, err := s.deps.Alerts.List(ctx, u, req.Params.AlertType, req.Params.Since, limit, offset)
	if err != nil {
		return nil, err
	}
	out := apigen.AlertList{Alerts: make([]apigen.Alert, 0, len(list)), Total: total, Limit: limit, Offset: offset}
	for _, a := range list {
		item := apigen.Alert{ID: a.ID, AlertType: apigen.AlertType(a.Type), Severity: apigen.AlertSeverity(a.Severity), Message: a.Message,
			Metadata: rawPtr(a.Metadata), Acknowledged: a.Acknowledged, CreatedAt: a.CreatedAt.UTC()}
		if a.CueID != nil {
			v := string(*a.CueID)
			item.CueID = &v
		}
		if a.ExecutionID != nil {
			v := string(*a.ExecutionID)
			item.ExecutionID = &v
		}
		out.Alerts = append(out.Alerts, item)
	}
	return apigen.ListAlerts200JSONResponse(out), nil
}

// ---- echo ----
