package postgres

import (
	"context"
	"errors"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/cueapi/cueapi/adapters/postgres/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
)

// Group commit (sqlkit.GroupQueue). A creation must hold its tenant's row
// lock from the admission check (name, active cue limit) to its commit, so
// one tenant's creations serialize on that lock, and each would wait for
// its own WAL flush while holding it. Concurrent CueCreate calls are
// therefore queued and committed together: one transaction locks each
// tenant once, admits its creations in arrival order against the settled
// count and taken names, inserts them all in one round trip and commits
// once. Results are what each creation alone would have returned.
const (
	// createBatchMax caps the creations of one transaction.
	createBatchMax = 64
	// createFlushersMax caps the transactions in flight at once. One: a
	// second transaction would mostly wait for the first's tenant locks
	// while splitting the queue into smaller groups (16 concurrent
	// creations of one account, BenchmarkCueCreateParallel: 2,150–2,560/s
	// with two, 2,980–3,470/s with one). A group locks each of its tenants
	// in turn, so one transaction serves every account.
	createFlushersMax = 1
)

// pendingCreate is one CueCreate call in a group.
type pendingCreate = sqlkit.PendingCreate[*dbsqlc.CueInsertParams]

// CueCreate inserts p.Cue. Under the owning tenant's row lock it fails with
// ErrConflict when the tenant has a cue of that name (any status) and with
// ErrLimitExceeded when its active and paused cues number p.ActiveCueLimit
// or more. ErrNotFound when the tenant does not exist. Concurrent calls share
// a transaction (group commit, above); a call that binds an idempotency key
// has one of its own.
func (s *Store) CueCreate(ctx context.Context, p *core.CueCreateParams) (*core.Cue, error) {
	return sqlkit.QueueCreate(ctx, dbErr, &s.creates, p, cueInsertParams)
}

// createCues admits and inserts items in one transaction: each tenant's row
// is locked once, in ascending id order (so concurrent groups cannot
// deadlock), its cue_count_deltas are settled, and its creations are
// admitted in order against the count and the names taken, including those
// admitted before them in the group. Admission refusals are per creation
// (it.Err); the returned error is the transaction's, and rolledBack says it
// came from a statement inside it (nothing committed), not from BEGIN or
// COMMIT.
//
// The transaction is pipelined (pipeTx): BEGIN, each tenant's lock and its
// settle travel together, and COMMIT travels with the inserts unless an
// idempotency key is bound after them — two round trips for a group.
func (s *Store) createCues(ctx context.Context, items []*pendingCreate) (rolledBack bool, err error) {
	return s.groupTx(ctx, "cue create", func(tx *pipeTx) error { return s.admitAndInsert(ctx, tx, items) })
}

func (s *Store) admitAndInsert(ctx context.Context, tx *pipeTx, items []*pendingCreate) error {
	const op = "cue create"
	byTenant := map[string][]*pendingCreate{}
	var tenants []string
	for _, it := range items {
		if _, ok := byTenant[it.Tenant]; !ok {
			tenants = append(tenants, it.Tenant)
		}
		byTenant[it.Tenant] = append(byTenant[it.Tenant], it)
	}
	slices.Sort(tenants)
	var admitted []*pendingCreate
	for _, tenant := range tenants {
		its := byTenant[tenant]
		// Two statements: the settle's snapshot must start after the lock
		// is held (see UserLockForCreate). The count is maintained
		// (migration 0010), so admission costs the same at any table size.
		if err := s.q.UserLockForCreate(ctx, tx.Hold(), tenant); err != nil {
			return dbErr.Interpret(op+": lock tenant", err)
		}
		names := make([]string, len(its))
		for i, it := range its {
			names[i] = it.P.Cue.Name
		}
		adm, err := s.q.CueCountSettle(ctx, tx, &dbsqlc.CueCountSettleParams{UserID: tenant, Names: names})
		if errors.Is(err, pgx.ErrNoRows) {
			for _, it := range its {
				it.Err = dbErr.Interpret(op, err) // no such tenant
			}
			continue
		}
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		taken := map[string]bool{}
		for _, n := range adm.Taken {
			taken[n] = true
		}
		count := int(adm.ActiveCueCount)
		for _, it := range its {
			c := it.P.Cue
			if err := it.P.Admit(taken[c.Name], count); err != nil {
				it.Err = dbErr.Op(op, err)
				continue
			}
			taken[c.Name] = true
			if c.Status == core.CueActive || c.Status == core.CuePaused {
				count++
			}
			admitted = append(admitted, it)
		}
	}
	if len(admitted) == 0 {
		return nil
	}
	// Each tenant's last insert adds its admitted active and paused cues
	// to the tenant's count (the trigger skips them: migration 0014).
	params := make([]*dbsqlc.CueInsertParams, len(admitted))
	counted := map[string]int32{}
	for i, it := range admitted {
		it.Insert.CountAdd = 0
		params[i] = it.Insert
		if st := it.P.Cue.Status; st == core.CueActive || st == core.CuePaused {
			counted[it.Tenant]++
		}
	}
	for i := len(admitted) - 1; i >= 0; i-- {
		if n, ok := counted[admitted[i].Tenant]; ok {
			params[i].CountAdd = n
			delete(counted, admitted[i].Tenant)
		}
	}
	if !slices.ContainsFunc(admitted, func(it *pendingCreate) bool { return it.P.Idempotency != nil }) {
		tx.CommitWithNext()
	}
	var first error
	s.q.CueInsert(ctx, tx, params).QueryRow(func(i int, row *dbsqlc.Cue, err error) {
		if err == nil {
			admitted[i].Out, err = cueFromRow(row)
		}
		if err != nil && first == nil {
			first = dbErr.Interpret(op, err)
		}
	})
	if first != nil {
		return first
	}
	for _, it := range admitted {
		if it.P.Idempotency != nil {
			if err := s.claimIdempotency(ctx, tx, it.P.Idempotency, it.Tenant, it.Insert.ID, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// cueInsertParams are c's columns for CueInsert.
func cueInsertParams(c *core.Cue, tenant string) (*dbsqlc.CueInsertParams, error) {
	cols, err := sqlkit.CueJSONOf(c)
	if err != nil {
		return nil, err
	}
	opts, err := sqlkit.CueOptions(c)
	if err != nil {
		return nil, err
	}
	return &dbsqlc.CueInsertParams{
		ID:                     string(c.ID),
		UserID:                 tenant,
		Name:                   c.Name,
		Description:            c.Description,
		Status:                 string(c.Status),
		Transport:              string(c.Transport),
		ScheduleType:           string(c.Schedule.Type),
		ScheduleCron:           c.Schedule.Cron,
		ScheduleAt:             c.Schedule.At,
		ScheduleTimezone:       c.Schedule.Timezone,
		CallbackURL:            c.Callback.URL,
		CallbackMethod:         c.Callback.Method,
		CallbackHeaders:        cols.Headers,
		Payload:                cols.Payload,
		RetryMaxAttempts:       int32(c.Retry.MaxAttempts),
		RetryBackoffMinutes:    cols.Backoff,
		OnFailureEmail:         c.OnFailure.Email,
		OnFailureWebhook:       c.OnFailure.Webhook,
		OnFailurePause:         c.OnFailure.Pause,
		VerificationMode:       sqlkit.Text(c.Verification),
		CatchUp:                string(c.CatchUp),
		OutcomeDeadlineSeconds: int32Ptr(c.OutcomeDeadlineSeconds),
		NextRun:                c.NextRun,
		LastRun:                c.LastRun,
		RunCount:               int32(c.RunCount),
		FiredCount:             int32(c.FiredCount),
		SkippedCount:           int32(c.SkippedCount),
		LastError:              c.LastError,
		Options:                opts,
		CreatedAt:              c.CreatedAt,
		UpdatedAt:              c.UpdatedAt,
	}, nil
}
