package postgres

import (
	"context"

	"github.com/cueapi/cueapi/adapters/postgres/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
)

// Execution updates (outcomes, evidence, worker results) commit in groups
// (sqlkit.GroupQueue): each waited mostly for its own COMMIT's WAL flush. One
// transaction locks every execution of the group and its cue in one
// statement, runs each update's Fn in arrival order, saves them in one
// round trip, applies their cue effects and commits once.
const (
	updateBatchMax    = 64
	updateFlushersMax = 2
)

// pendingUpdate is one ExecutionUpdate call in a group.
type pendingUpdate struct {
	sqlkit.Member
	p          *core.ExecutionUpdateParams
	tenant, id string // canonical
	out        *core.Execution
}

func (it *pendingUpdate) Reset() { it.out, it.Err, it.Alone = nil, nil, false }

// ExecutionUpdate runs p.Fn on the tenant's execution and a copy of its cue,
// both locked FOR NO KEY UPDATE (the cue first: the order CueFireDue and
// ExecutionRecordDeliveries lock in), so concurrent calls on one execution
// or cue run one after the other. It saves the fields the port lists
// (due_at derived, see core.Execution.SavedDueAt) and applies the returned
// CueEffect and usage in the same transaction. Fn's error aborts that
// update and is returned as is. ErrNotFound when the execution is absent
// or foreign, or an id is not a UUID. Concurrent calls share a transaction
// (above).
func (s *Store) ExecutionUpdate(ctx context.Context, p *core.ExecutionUpdateParams) (*core.Execution, error) {
	const op = "execution update"
	var out *core.Execution
	return sqlkit.Value(&out, sqlkit.Do2(dbErr, op, string(p.TenantID), string(p.ID), func(tenant, id string) error {
		it := &pendingUpdate{Member: sqlkit.NewMember(ctx), p: p, tenant: tenant, id: id}
		if err := s.updates.Enqueue(it); err != nil {
			return err
		}
		out = it.out
		return it.Err
	}))
}

// updateExecutions runs items in one transaction. Fn refusals and missing
// executions are per update (it.Err); the returned error is the
// transaction's, and rolledBack says it came from a statement inside it
// (nothing committed), not from BEGIN or COMMIT.
//
// The transaction is pipelined (pipeTx): BEGIN travels with the lock, and
// the run effects, the saves and COMMIT travel together — two round trips
// for a group.
func (s *Store) updateExecutions(ctx context.Context, items []*pendingUpdate) (rolledBack bool, err error) {
	return s.groupTx(ctx, "execution update", func(tx *pipeTx) error { return s.updateLocked(ctx, tx, items) })
}

func (s *Store) updateLocked(ctx context.Context, tx *pipeTx, items []*pendingUpdate) error {
	const op = "execution update"
	lock := &dbsqlc.ExecutionsGetForUpdateWithCueParams{}
	for _, it := range items {
		lock.Ids = append(lock.Ids, it.id)
		lock.UserIds = append(lock.UserIds, it.tenant)
	}
	rows, err := s.q.ExecutionsGetForUpdateWithCue(ctx, tx, lock)
	if err != nil {
		return dbErr.Interpret(op, err)
	}
	locked := make(map[string]*dbsqlc.ExecutionsGetForUpdateWithCueRow, len(rows))
	for i := range rows {
		locked[rows[i].Execution.ID] = rows[i]
	}
	var (
		saving  []*pendingUpdate
		saves   []*dbsqlc.ExecutionSaveParams
		effects = map[int64]*core.RunEffects{} // by month: usage counts there
		cues    = map[string]bool{}
	)
	for _, it := range items {
		both := locked[it.id]
		if both == nil || both.Execution.UserID != it.tenant {
			it.Err = dbErr.Op(op, core.ErrNotFound)
			continue
		}
		if cues[both.Cue.ID] {
			// Another update of the group has this cue: this one runs
			// after the group commits and sees what that one wrote.
			it.Alone = true
			continue
		}
		cues[both.Cue.ID] = true
		c, err := cueFromRow(&both.Cue)
		if err != nil {
			return dbErr.Op(op, err)
		}
		e := executionFromRow(&both.Execution)
		eff, err := it.p.Fn(e, c)
		if err != nil {
			it.Err = err
			continue
		}
		args, err := saveArgs(both.Execution.ID, e, e.SavedDueAt(both.Execution.DueAt))
		if err != nil {
			return dbErr.Op(op, err)
		}
		saving, saves = append(saving, it), append(saves, args)
		if eff != nil {
			month := core.MonthStart(eff.Now).Unix()
			fx := effects[month]
			if fx == nil {
				fx = core.NewRunEffects(eff.Now)
				effects[month] = fx
			}
			if eff.Now.After(fx.Now) {
				fx.Now = eff.Now // a cue's last run is the group's latest
			}
			fx.Add(core.CueID(both.Cue.ID), core.TenantID(it.tenant), *eff)
		}
	}
	// The run effects touch the cues (locked above) and the tenants' usage;
	// they are sent ahead of the saves, which touch only the locked
	// executions, so the order changes nothing.
	for _, fx := range effects {
		if err := s.applyRunEffects(ctx, tx.Hold(), op, fx); err != nil {
			return err
		}
	}
	if len(saves) > 0 {
		tx.CommitWithNext()
		var first error
		s.q.ExecutionSave(ctx, tx, saves).QueryRow(func(i int, row *dbsqlc.Execution, err error) {
			if err != nil {
				if first == nil {
					first = dbErr.Interpret(op, err)
				}
				return
			}
			saving[i].out = executionFromRow(row)
		})
		if first != nil {
			return first
		}
	}
	return nil
}
