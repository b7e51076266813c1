package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cueapi/cueapi/adapters/sqlite/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
)

// ExecutionClaimDeliveries claims up to p.Limit due webhook executions in
// one write transaction (the write lock makes claims exclusive: two callers
// never claim the same execution) and reads their cues and the owners'
// sealed webhook secrets. The deliveries are ordered by scheduled time,
// then id.
func (s *Store) ExecutionClaimDeliveries(ctx context.Context, p *core.ExecutionClaimDeliveriesParams) ([]*core.Delivery, error) {
	const op = "execution claim deliveries"
	out := []*core.Delivery{}
	if p.Limit <= 0 {
		return out, nil
	}
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
		rows, err := s.q.ExecutionClaimDeliveries(ctx, tx, &dbsqlc.ExecutionClaimDeliveriesParams{
			Now: timeArg(p.Now), LeaseUntil: timeArg(p.Now.Add(p.Lease)), MaxRows: int64(p.Limit),
		})
		if err != nil {
			return interpretError(op, err)
		}
		if len(rows) == 0 {
			return nil
		}
		cueIDs := make([]string, 0, len(rows))
		for _, row := range rows {
			cueIDs = append(cueIDs, row.CueID)
		}
		slices.Sort(cueIDs)
		cueRows, err := s.q.CueListForDelivery(ctx, tx, slices.Compact(cueIDs))
		if err != nil {
			return interpretError(op+": read cues", err)
		}
		cues := make(map[string]*dbsqlc.CueListForDeliveryRow, len(cueRows))
		for _, cr := range cueRows {
			cues[cr.Cue.ID] = cr
		}
		for _, row := range rows {
			cr, ok := cues[row.CueID]
			if !ok { // the foreign key rules it out
				return opError(op, fmt.Errorf("cue %s of execution %s is missing", row.CueID, row.ID))
			}
			c, err := cueFromRow(&cr.Cue)
			if err != nil {
				return opError(op, err)
			}
			e, err := executionFromRow(row)
			if err != nil {
				return opError(op, err)
			}
			out = append(out, &core.Delivery{Execution: e, Cue: c, WebhookSecretSealed: cr.WebhookSecretSealed})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b *core.Delivery) int {
		return cmp.Or(a.Execution.ScheduledFor.Compare(b.Execution.ScheduledFor), strings.Compare(string(a.Execution.ID), string(b.Execution.ID)))
	})
	return out, nil
}

// ExecutionRecordDeliveries stores p.Results in one write transaction: each
// result updates its execution only while it is still delivering with
// attempts == Attempt; then the applied results' cue effects are applied
// aggregated per cue (run counts summed, last status wins) and their usage
// aggregated per tenant. The per-row statements are prepared once per
// batch. A nil result, or one whose id is not a UUID, is not applied.
func (s *Store) ExecutionRecordDeliveries(ctx context.Context, p *core.ExecutionRecordDeliveriesParams) ([]bool, error) {
	const op = "execution record deliveries"
	applied := make([]bool, len(p.Results))
	if len(p.Results) == 0 {
		return applied, nil
	}
	now := timeArg(p.Now)
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
		clear(applied)
		db := newStmtCache(tx)
		fx := newDeliveryEffects()
		for i, r := range p.Results {
			if r == nil {
				continue
			}
			id, ok := uuidArg(string(r.ExecutionID))
			if !ok {
				continue
			}
			next, due := retryTimes(r, p.Now)
			owner, err := s.q.ExecutionRecordDeliveries(ctx, db, &dbsqlc.ExecutionRecordDeliveriesParams{
				ID:                id,
				Attempt:           int64(r.Attempt),
				Status:            string(r.Status),
				Attempts:          int64(r.Attempts),
				HTTPStatus:        int64Ptr(r.HTTPStatus),
				ResponseBody:      r.ResponseBody,
				ErrorMessage:      r.ErrorMessage,
				Now:               now,
				NextRetry:         timePtrArg(next),
				DueAt:             timePtrArg(due),
				OutcomeDeadlineAt: timePtrArg(r.OutcomeDeadlineAt),
			})
			if errors.Is(err, sql.ErrNoRows) {
				continue // no longer this claim's
			}
			if err != nil {
				return interpretError(op, err)
			}
			applied[i] = true
			fx.add(owner.CueID, owner.UserID, r)
		}
		for _, id := range fx.cueOrder() {
			e := fx.cues[id]
			err := s.q.CueRecordDeliveries(ctx, db, &dbsqlc.CueRecordDeliveriesParams{
				ID: id, Runs: int64(e.runs), SetLastRun: boolArg(e.setLastRun), NewStatus: e.status, Now: now,
			})
			if err != nil {
				return interpretError(op+": update cue", err)
			}
		}
		month := monthStart(p.Now)
		for _, user := range fx.userOrder() {
			err := s.q.UsageMonthlyAdd(ctx, db, &dbsqlc.UsageMonthlyAddParams{UserID: user, MonthStart: month, N: int64(fx.usage[user])})
			if err != nil {
				return interpretError(op+": count usage", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return applied, nil
}

// retryTimes returns next_retry and due_at for a result: NextRetry for
// both when it is retrying (due now when NextRetry is missing, so the
// execution cannot get stuck), NULL otherwise.
func retryTimes(r *core.DeliveryResult, now time.Time) (next, due *time.Time) {
	if r.Status != core.ExecRetrying {
		return nil, nil
	}
	if r.NextRetry == nil {
		return nil, &now
	}
	return r.NextRetry, r.NextRetry
}

// deliveryEffects aggregates applied results' effects per cue and tenant.
type deliveryEffects struct {
	cues  map[string]*cueEffect
	usage map[string]int
}

type cueEffect struct {
	runs       int
	setLastRun bool
	status     string // "" keeps the status
}

func newDeliveryEffects() *deliveryEffects {
	return &deliveryEffects{cues: map[string]*cueEffect{}, usage: map[string]int{}}
}

// add folds in one applied result of an execution of cueID owned by user;
// results must come in their input order (the last status wins).
func (fx *deliveryEffects) add(cueID, user string, r *core.DeliveryResult) {
	if r.CountRun || r.SetLastRun || r.CueStatus != nil {
		e := fx.cues[cueID]
		if e == nil {
			e = &cueEffect{}
			fx.cues[cueID] = e
		}
		if r.CountRun {
			e.runs++
		}
		e.setLastRun = e.setLastRun || r.SetLastRun
		if r.CueStatus != nil {
			e.status = string(*r.CueStatus)
		}
	}
	if r.CountUsage {
		fx.usage[user]++
	}
}

func (fx *deliveryEffects) cueOrder() []string {
	ids := make([]string, 0, len(fx.cues))
	for id := range fx.cues {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (fx *deliveryEffects) userOrder() []string {
	ids := make([]string, 0, len(fx.usage))
	for id := range fx.usage {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// monthStart is the first day of t's UTC month as stored in usage_monthly
// ('YYYY-MM-DD').
func monthStart(t time.Time) string {
	return t.UTC().Format("2006-01") + "-01"
}

// ExecutionQueueStats counts the delivery queue as of p.Now in one
// statement whose counts each scan a partial index: webhook executions
// pending and due, delivering with an expired lease, and retrying or
// retry_ready; worker executions pending.
func (s *Store) ExecutionQueueStats(ctx context.Context, p *core.ExecutionQueueStatsParams) (*core.QueueStats, error) {
	row, err := s.q.ExecutionQueueStats(ctx, s.rdb, timeArg(p.Now))
	if err != nil {
		return nil, interpretError("execution queue stats", err)
	}
	return &core.QueueStats{
		PendingWebhooks:     int(row.PendingWebhooks),
		StaleDeliveries:     int(row.StaleDeliveries),
		PendingRetries:      int(row.PendingRetries),
		PendingWorkerClaims: int(row.PendingWorkerClaims),
	}, nil
}
