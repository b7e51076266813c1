package api

import (
	"context"
	"encoding/json"
	"math"
	"strconv"

	"github.com/cueapi/cueapi/api/apigen"
	openapi_types "github.com/oapi-codegen/runtime/types"
)

func percent(used, limit int) int {
	if limit <= 0 {
		return 0
	}
	return int(math.RoundToEven(float64(used) / float64(limit) * 100))
}

func remaining(used, limit int) int {
	if r := limit - used; r > 0 {
		return r
	}
	return 0
}

// GetUsage reports usage and limits.
func (s *Server) GetUsage(ctx context.Context, _ apigen.GetUsageRequestObject) (apigen.GetUsageResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	bucket := ""
	if p := principalFrom(ctx); p != nil && p.KeyHash != "" {
		bucket = "key:" + p.KeyHash
	}
	r, err := s.deps.Usage.Report(ctx, u, bucket)
	if err != nil {
		return nil, err
	}
	pct := json.Number("0")
	if r.ExecLimit > 0 {
		pct = json.Number(strconv.FormatFloat(math.Round(float64(r.ExecUsed)/float64(r.ExecLimit)*1000)/10, 'f', 1, 64))
	}
	start, end := openapi_types.Date{Time: r.PeriodStart}, openapi_types.Date{Time: r.PeriodEnd}
	return apigen.GetUsage200JSONResponse{
		Plan:          r.Plan,
		BillingPeriod: apigen.UsageBillingPeriod{Start: start, End: end, DaysRemaining: r.DaysRemaining},
		Period:        apigen.UsagePeriod{Start: start, End: end},
		Cues:          apigen.UsageCues{Used: r.CuesUsed, Active: r.CuesUsed, Limit: r.CuesLimit, Remaining: remaining(r.CuesUsed, r.CuesLimit), PercentUsed: percent(r.CuesUsed, r.CuesLimit)},
		Executions: apigen.UsageExecutions{
			Used: r.ExecUsed, Limit: r.ExecLimit, Remaining: remaining(r.ExecUsed, r.ExecLimit), PercentUsed: percent(r.ExecUsed, r.ExecLimit),
			Percentage: pct, ProjectedMonthEnd: r.Projected, WillExceedLimit: r.ExecLimit > 0 && r.Projected >= r.ExecLimit,
		},
		Outcomes:   apigen.UsageOutcomes{Reported: r.Outcomes.Reported, Succeeded: r.Outcomes.Succeeded, Failed: r.Outcomes.Failed},
		RateLimit:  apigen.UsageRateLimit{RequestsPerMinute: r.RatePerMinute, Limit: r.RatePerMinute, CurrentUsage: r.RateCurrent},
		UpgradeURL: "https://dashboard.cueapi.ai/billing",
	}, nil
}
