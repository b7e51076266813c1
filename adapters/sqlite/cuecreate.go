package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/cueapi/cueapi/adapters/sqlite/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
)

// Group commit. Every creation is a write transaction on the one write
// connection, so concurrent creations queue for it, and each pays its own
// BEGIN IMMEDIATE, read of the tenant's count and COMMIT (WAL frames for
// the pages it touched). Concurrent CueCreate calls are therefore queued
// and committed together: one transaction reads each tenant's count once,
// admits and inserts the creations in arrival order and commits once.
// Results are what each creation alone would have returned: the write
// lock keeps every other writer out, each name check sees the creations
// inserted before it, and the count includes them.
const (
	// createBatchMax caps the creations of one transaction.
	createBatchMax = 64
	// createFlushersMax: one transaction in flight. There is one write
	// connection, so a second could only wait for it, with a smaller group
	// than the queue holds by then.
	createFlushersMax = 1
)

// pendingCreate is one CueCreate call in a group.
type pendingCreate = sqlkit.PendingCreate[*dbsqlc.CueInsertParams]

// CueCreate inserts p.Cue. Under the write lock it fails with ErrConflict
// when the tenant has a cue of that name (any status) and with
// ErrLimitExceeded when its active and paused cues number p.ActiveCueLimit
// or more. ErrNotFound when the tenant does not exist. Concurrent calls share
// a transaction (group commit, above); a call that binds an idempotency key
// has one of its own.
func (s *Store) CueCreate(ctx context.Context, p *core.CueCreateParams) (*core.Cue, error) {
	return sqlkit.QueueCreate(ctx, dbErr, &s.creates, p, cueInsertParams)
}

// createCues admits and inserts items in one write transaction, in order:
// the first creation of a tenant reads its count (migration 0014), the
// later ones add those admitted before them, and each name check sees the
// cues inserted before it. Admission refusals are per creation
// (it.Err); the returned error is the transaction's, and
// rolledBack says it came from a statement inside it (nothing committed),
// not from BEGIN or COMMIT.
func (s *Store) createCues(ctx context.Context, items []*pendingCreate) (rolledBack bool, err error) {
	err = s.inTx(ctx, "cue create", func(tx *sql.Tx) error {
		err := s.admitAndInsert(ctx, tx, items)
		rolledBack = err != nil
		return err
	})
	return rolledBack, err
}

// tenantCount is a tenant's active and paused cues during a group, or why
// its creations fail.
type tenantCount struct {
	n   int
	err error
}

func (s *Store) admitAndInsert(ctx context.Context, tx *sql.Tx, items []*pendingCreate) error {
	const op = "cue create"
	counts := make(map[string]*tenantCount, 1)
	for _, it := range items {
		count, ok := counts[it.Tenant]
		if !ok {
			// The count is maintained (migrations 0010, 0014): admission
			// costs the same at any table size.
			n, err := s.q.CueActiveCount(ctx, tx, it.Tenant)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				count = &tenantCount{err: dbErr.Interpret(op+": read count", err)} // no such tenant
			case err != nil:
				return dbErr.Interpret(op+": read count", err)
			default:
				count = &tenantCount{n: int(n)}
			}
			counts[it.Tenant] = count
		}
		if count.err != nil {
			it.Err = count.err
			continue
		}
		c := it.P.Cue
		taken, err := s.q.CueNameTaken(ctx, tx, &dbsqlc.CueNameTakenParams{UserID: it.Tenant, Name: c.Name})
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		if err := it.P.Admit(taken, count.n); err != nil {
			it.Err = dbErr.Op(op, err)
			continue
		}
		if err := s.q.CueInsert(ctx, tx, it.Insert); err != nil {
			return dbErr.Interpret(op, err)
		}
		// What the insert trigger adds to users.active_cue_count.
		if c.Status == core.CueActive || c.Status == core.CuePaused {
			count.n++
		}
		if err := s.claimIdempotency(ctx, tx, it.P.Idempotency, it.Tenant, it.Insert.ID, nil); err != nil {
			return err
		}
		if it.Out, err = cueFromRow(insertedRow(it.Insert)); err != nil {
			return dbErr.Op(op, err)
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
		ScheduleAt:             timePtrArg(c.Schedule.At),
		ScheduleTimezone:       c.Schedule.Timezone,
		CallbackURL:            c.Callback.URL,
		CallbackMethod:         c.Callback.Method,
		CallbackHeaders:        string(cols.Headers),
		Payload:                string(cols.Payload),
		RetryMaxAttempts:       int64(c.Retry.MaxAttempts),
		RetryBackoffMinutes:    string(cols.Backoff),
		OnFailureEmail:         boolArg(c.OnFailure.Email),
		OnFailureWebhook:       c.OnFailure.Webhook,
		OnFailurePause:         boolArg(c.OnFailure.Pause),
		VerificationMode:       sqlkit.Text(c.Verification),
		CatchUp:                string(c.CatchUp),
		OutcomeDeadlineSeconds: int64Ptr(c.OutcomeDeadlineSeconds),
		NextRun:                timePtrArg(c.NextRun),
		LastRun:                timePtrArg(c.LastRun),
		RunCount:               int64(c.RunCount),
		FiredCount:             int64(c.FiredCount),
		SkippedCount:           int64(c.SkippedCount),
		LastError:              c.LastError,
		Options:                string(opts),
		CreatedAt:              timeArg(c.CreatedAt),
		UpdatedAt:              timeArg(c.UpdatedAt),
	}, nil
}

// insertedRow is the row CueInsert stores from p: every column is bound
// and stored as bound (see the query), so the cue is decoded from the same
// values a read would return, without reading them back.
func insertedRow(p *dbsqlc.CueInsertParams) *dbsqlc.Cue {
	return &dbsqlc.Cue{
		ID:                     p.ID,
		UserID:                 p.UserID,
		Name:                   p.Name,
		Description:            p.Description,
		Status:                 p.Status,
		Transport:              p.Transport,
		ScheduleType:           p.ScheduleType,
		ScheduleCron:           p.ScheduleCron,
		ScheduleAt:             p.ScheduleAt,
		ScheduleTimezone:       p.ScheduleTimezone,
		CallbackURL:            p.CallbackURL,
		CallbackMethod:         p.CallbackMethod,
		CallbackHeaders:        p.CallbackHeaders,
		Payload:                p.Payload,
		RetryMaxAttempts:       p.RetryMaxAttempts,
		RetryBackoffMinutes:    p.RetryBackoffMinutes,
		OnFailureEmail:         p.OnFailureEmail,
		OnFailureWebhook:       p.OnFailureWebhook,
		OnFailurePause:         p.OnFailurePause,
		VerificationMode:       p.VerificationMode,
		CatchUp:                p.CatchUp,
		OutcomeDeadlineSeconds: p.OutcomeDeadlineSeconds,
		NextRun:                p.NextRun,
		LastRun:                p.LastRun,
		RunCount:               p.RunCount,
		FiredCount:             p.FiredCount,
		SkippedCount:           p.SkippedCount,
		LastError:              p.LastError,
		CreatedAt:              p.CreatedAt,
		UpdatedAt:              p.UpdatedAt,
		Options:                p.Options,
	}
}
