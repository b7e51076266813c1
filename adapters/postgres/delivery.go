package postgres

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cueapi/cueapi/adapters/postgres/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
)

// ExecutionClaimDeliveries claims up to p.Limit due webhook executions in
// one transaction of two statements: one UPDATE claims them (its selection
// locks FOR NO KEY UPDATE SKIP LOCKED, so concurrent claimers take disjoint
// sets, and re-checks each row, so a row claimed meanwhile is passed over),
// one SELECT reads their cues and the owners' sealed webhook secrets. The
// deliveries are ordered by scheduled time, then id.
func (s *Store) ExecutionClaimDeliveries(ctx context.Context, p *core.ExecutionClaimDeliveriesParams) ([]*core.Delivery, error) {
	const op = "execution claim deliveries"
	out := []*core.Delivery{}
	if p.Limit <= 0 {
		return out, nil
	}
	err := s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		// A claim lost in a crash only means the execution is claimed again
		// (at-least-once either way), so its commit need not wait for the WAL
		// flush; attempt results are recorded with synchronous commits, and
		// their flush covers every earlier claim.
		if err := s.q.TxAsyncCommit(ctx, tx); err != nil {
			return interpretError(op, err)
		}
		rows, err := s.q.ExecutionClaimDeliveries(ctx, tx, &dbsqlc.ExecutionClaimDeliveriesParams{
			Now: p.Now, LeaseUntil: p.Now.Add(p.Lease), MaxRows: int32(min(p.Limit, math.MaxInt32)),
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
			if !ok { // the foreign key and the row lock rule it out
				return opError(op, fmt.Errorf("cue %s of execution %s is missing", row.CueID, row.ID))
			}
			c, err := cueFromRow(&cr.Cue)
			if err != nil {
				return opError(op, err)
			}
			out = append(out, &core.Delivery{Execution: executionFromRow(row), Cue: c, WebhookSecretSealed: cr.WebhookSecretSealed})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sortDeliveries(out)
	return out, nil
}

// sortDeliveries orders deliveries by scheduled time, then id.
func sortDeliveries(ds []*core.Delivery) {
	slices.SortFunc(ds, func(a, b *core.Delivery) int {
		return cmp.Or(a.Execution.ScheduledFor.Compare(b.Execution.ScheduledFor), strings.Compare(string(a.Execution.ID), string(b.Execution.ID)))
	})
}

// ExecutionRecordDeliveries stores p.Results in one transaction of at most
// four statements, whatever their number: it locks the results' cues in id
// order (so concurrent batches, schedulers and cancellations, which all lock
// a cue before its executions, never deadlock), updates the executions that
// are still delivering with attempts == Attempt from one unnest(…), then
// applies the applied results' cue effects aggregated per cue (run counts
// summed, last status wins) and their usage aggregated per tenant. A nil
// result, or one whose id is not a UUID, is not applied.
func (s *Store) ExecutionRecordDeliveries(ctx context.Context, p *core.ExecutionRecordDeliveriesParams) ([]bool, error) {
	const op = "execution record deliveries"
	applied := make([]bool, len(p.Results))
	args := recordArgs(p)
	if len(args.Ids) == 0 {
		return applied, nil
	}
	cueIDs := make([]string, 0, len(p.Results))
	for _, r := range p.Results {
		if r != nil {
			cueIDs = append(cueIDs, string(r.CueID))
		}
	}
	slices.Sort(cueIDs)
	cueIDs = slices.Compact(cueIDs)
	err := s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		clear(applied)
		if err := s.q.CueLockMany(ctx, tx, cueIDs); err != nil {
			return interpretError(op+": lock cues", err)
		}
		rows, err := s.q.ExecutionRecordDeliveries(ctx, tx, args)
		if err != nil {
			return interpretError(op, err)
		}
		if len(rows) == 0 {
			return nil
		}
		owners := make([]*dbsqlc.ExecutionRecordDeliveriesRow, len(p.Results))
		for _, row := range rows {
			applied[row.Idx] = true
			owners[row.Idx] = row
		}
		fx := newDeliveryEffects()
		for i, r := range p.Results {
			if applied[i] {
				fx.add(owners[i].CueID, owners[i].UserID, r)
			}
		}
		if len(fx.cues) > 0 {
			cu := &dbsqlc.CueRecordDeliveriesParams{Now: p.Now}
			for _, id := range fx.cueOrder() {
				e := fx.cues[id]
				cu.Ids = append(cu.Ids, id)
				cu.Runs = append(cu.Runs, e.runs)
				cu.SetLastRuns = append(cu.SetLastRuns, e.setLastRun)
				cu.Statuses = append(cu.Statuses, e.status)
			}
			if err := s.q.CueRecordDeliveries(ctx, tx, cu); err != nil {
				return interpretError(op+": update cues", err)
			}
		}
		if len(fx.usage) > 0 {
			ua := &dbsqlc.UsageMonthlyAddParams{MonthStart: monthStart(p.Now)}
			for _, user := range fx.userOrder() {
				ua.UserIds = append(ua.UserIds, user)
				ua.Counts = append(ua.Counts, fx.usage[user])
			}
			if err := s.q.UsageMonthlyAdd(ctx, tx, ua); err != nil {
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

// recordArgs lays the results out as the arrays of the batch update, in
// execution id order (so rows are locked in one order); Idxs maps each back
// to its position in p.Results.
func recordArgs(p *core.ExecutionRecordDeliveriesParams) *dbsqlc.ExecutionRecordDeliveriesParams {
	type item struct {
		idx int
		id  string
	}
	items := make([]item, 0, len(p.Results))
	for i, r := range p.Results {
		if r == nil {
			continue
		}
		if id, ok := uuidArg(string(r.ExecutionID)); ok {
			items = append(items, item{i, id})
		}
	}
	slices.SortFunc(items, func(a, b item) int { return cmp.Or(strings.Compare(a.id, b.id), cmp.Compare(a.idx, b.idx)) })
	n := len(items)
	a := &dbsqlc.ExecutionRecordDeliveriesParams{
		Now:                   p.Now,
		Idxs:                  make([]int32, n),
		Ids:                   make([]string, n),
		Attempt:               make([]int32, n),
		Attempts:              make([]int32, n),
		Statuses:              make([]string, n),
		ResponseCodes:         make([]int32, n),
		HasResponseCodes:      make([]bool, n),
		ResponseBodies:        make([]string, n),
		HasResponseBodies:     make([]bool, n),
		ErrorMessages:         make([]string, n),
		HasErrorMessages:      make([]bool, n),
		NextRetries:           make([]time.Time, n),
		HasNextRetries:        make([]bool, n),
		DueAts:                make([]time.Time, n),
		HasDueAts:             make([]bool, n),
		OutcomeDeadlineAts:    make([]time.Time, n),
		HasOutcomeDeadlineAts: make([]bool, n),
	}
	for j, it := range items {
		r := p.Results[it.idx]
		a.Idxs[j] = int32(it.idx)
		a.Ids[j] = it.id
		a.Attempt[j] = clampInt32(r.Attempt)
		a.Attempts[j] = clampInt32(r.Attempts)
		a.Statuses[j] = string(r.Status)
		if r.HTTPStatus != nil {
			a.ResponseCodes[j], a.HasResponseCodes[j] = clampInt32(*r.HTTPStatus), true
		}
		if r.ResponseBody != nil {
			a.ResponseBodies[j], a.HasResponseBodies[j] = *r.ResponseBody, true
		}
		if r.ErrorMessage != nil {
			a.ErrorMessages[j], a.HasErrorMessages[j] = *r.ErrorMessage, true
		}
		if next, due := retryTimes(r, p.Now); due != nil {
			if next != nil {
				a.NextRetries[j], a.HasNextRetries[j] = *next, true
			}
			a.DueAts[j], a.HasDueAts[j] = *due, true
		}
		if r.OutcomeDeadlineAt != nil {
			a.OutcomeDeadlineAts[j], a.HasOutcomeDeadlineAts[j] = *r.OutcomeDeadlineAt, true
		}
	}
	return a
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
	usage map[string]int32
}

type cueEffect struct {
	runs       int32
	setLastRun bool
	status     string // "" keeps the status
}

func newDeliveryEffects() *deliveryEffects {
	return &deliveryEffects{cues: map[string]*cueEffect{}, usage: map[string]int32{}}
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

// monthStart is the first day of t's UTC month, the key of usage_monthly.
func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// ExecutionQueueStats counts the delivery queue as of p.Now in one
// statement whose counts each scan a partial index: webhook executions
// pending and due, delivering with an expired lease, and retrying or
// retry_ready; worker executions pending.
func (s *Store) ExecutionQueueStats(ctx context.Context, p *core.ExecutionQueueStatsParams) (*core.QueueStats, error) {
	row, err := s.q.ExecutionQueueStats(ctx, s.pool, p.Now)
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
