package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/cueapi/cueapi/adapters/sqlite/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
)

// CueGet returns the tenant's cue. ErrNotFound when absent or foreign.
func (s *Store) CueGet(ctx context.Context, p *core.CueGetParams) (*core.Cue, error) {
	const op = "cue get"
	return sqlkit.Find(dbErr, op, string(p.TenantID), func(tenant string) (*core.Cue, error) {
		row, err := s.q.CueGet(ctx, s.rdb, &dbsqlc.CueGetParams{ID: string(p.ID), UserID: tenant})
		return sqlkit.Row(dbErr, op, row, err, cueFromRow)
	})
}

// CueGetByName returns the tenant's cue with exactly this name. ErrNotFound
// when it has none.
func (s *Store) CueGetByName(ctx context.Context, p *core.CueGetByNameParams) (*core.Cue, error) {
	const op = "cue get by name"
	return sqlkit.Find(dbErr, op, string(p.TenantID), func(tenant string) (*core.Cue, error) {
		row, err := s.q.CueGetByName(ctx, s.rdb, &dbsqlc.CueGetByNameParams{UserID: tenant, Name: p.Name})
		return sqlkit.Row(dbErr, op, row, err, cueFromRow)
	})
}

// CueGetDetail returns the tenant's cue, its execution counts per status
// since p.Since and a page of its executions with their total: separate
// statements, which in process cost less than one folding the counts and
// the page in as JSON. ErrNotFound when absent or foreign.
func (s *Store) CueGetDetail(ctx context.Context, p *core.CueGetDetailParams) (*core.CueDetailRead, error) {
	c, counts, err := s.cueGetWithCounts(ctx, p.TenantID, p.ID, p.Since)
	if err != nil {
		return nil, err
	}
	ex, total, err := s.ExecutionList(ctx, &core.ExecutionListParams{TenantID: p.TenantID, CueID: &c.ID, Limit: p.Limit, Offset: p.Offset})
	if err != nil {
		return nil, err
	}
	return &core.CueDetailRead{Cue: c, Counts: counts, Executions: ex, Total: total}, nil
}

// cueGetWithCounts returns the tenant's cue and its executions created at
// or after since counted per status.
func (s *Store) cueGetWithCounts(ctx context.Context, tenantID core.TenantID, id core.CueID, since time.Time) (*core.Cue, map[core.ExecutionStatus]int, error) {
	const op = "cue get detail"
	var counts map[core.ExecutionStatus]int
	c, err := sqlkit.Find(dbErr, op, string(tenantID), func(tenant string) (*core.Cue, error) {
		row, err := s.q.CueGet(ctx, s.rdb, &dbsqlc.CueGetParams{ID: string(id), UserID: tenant})
		c, err := sqlkit.Row(dbErr, op, row, err, cueFromRow)
		if err != nil {
			return nil, err
		}
		rows, err := s.q.ExecutionCountByStatusSince(ctx, s.rdb, &dbsqlc.ExecutionCountByStatusSinceParams{CueID: string(id), UserID: tenant, Since: timeArg(since)})
		if err != nil {
			return nil, dbErr.Interpret(op, err)
		}
		counts = make(map[core.ExecutionStatus]int, len(rows))
		for _, r := range rows {
			counts[core.ExecutionStatus(r.Status)] = int(r.N)
		}
		return c, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return c, counts, nil
}

// CueList returns a page of the tenant's cues, newest first (ties by id
// descending), optionally of one status, and the total matching count. A
// Limit of 0 or less means no limit.
func (s *Store) CueList(ctx context.Context, p *core.CueListParams) ([]*core.Cue, int, error) {
	const op = "cue list"
	maxRows, skipRows := sqlkit.Page[int64](p.Limit, p.Offset)
	page := sqlkit.NewListing[*core.Cue]().Window(p.Limit, p.Offset)
	return page.Of(s.tenantReadTx(ctx, op, p.TenantID, func(tx *sql.Tx, tenant string) error {
		return sqlkit.ReadPage(page, dbErr, op, func() ([]*dbsqlc.Cue, error) {
			return s.q.CueList(ctx, tx, &dbsqlc.CueListParams{
				UserID: tenant, Status: p.Status, MaxRows: maxRows, SkipRows: skipRows,
			})
		}, cueFromRow, func() (int64, error) {
			return s.q.CueCount(ctx, tx, &dbsqlc.CueCountParams{UserID: tenant, Status: p.Status})
		})
	}))
}

// CueUpdate reads the tenant's cue under the write lock, runs p.Fn on it and
// saves everything Fn leaves except ID, TenantID, Transport, the counters and
// CreatedAt. Fn's error aborts and is returned as is. ErrNotFound when
// absent or foreign; ErrConflict when the new name is taken.
func (s *Store) CueUpdate(ctx context.Context, p *core.CueUpdateParams) (*core.Cue, error) {
	const op = "cue update"
	var out *core.Cue
	return sqlkit.Value(&out, s.tenantTx(ctx, op, p.TenantID, func(tx *sql.Tx, tenant string) (err error) {
		out, err = sqlkit.Modify(dbErr, op, func() (*dbsqlc.Cue, error) {
			return s.q.CueGetForUpdate(ctx, tx, &dbsqlc.CueGetForUpdateParams{ID: string(p.ID), UserID: tenant})
		}, cueFromRow, p.Fn, func(row *dbsqlc.Cue, c *core.Cue) (*dbsqlc.Cue, error) {
			cols, err := sqlkit.CueJSONOf(c)
			if err != nil {
				return nil, err
			}
			opts, err := sqlkit.CueOptions(c)
			if err != nil {
				return nil, err
			}
			row, err = s.q.CueUpdate(ctx, tx, &dbsqlc.CueUpdateParams{
				ID:                     row.ID,
				UserID:                 row.UserID,
				Name:                   c.Name,
				Description:            c.Description,
				Status:                 string(c.Status),
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
				LastError:              c.LastError,
				Options:                string(opts),
				UpdatedAt:              timeArg(c.UpdatedAt),
			})
			if err != nil || p.CancelUpcomingAfter == nil {
				return row, err
			}
			n, err := s.cancelUpcoming(ctx, tx, row.ID, row.UserID, timeArg(*p.CancelUpcomingAfter))
			if err != nil || n == 0 {
				return row, err
			}
			return s.q.CueGet(ctx, tx, &dbsqlc.CueGetParams{ID: row.ID, UserID: row.UserID})
		})
		return err
	}))
}

// CueDelete deletes the tenant's cue and, by cascade, its executions.
// ErrNotFound when absent or foreign.
func (s *Store) CueDelete(ctx context.Context, p *core.CueDeleteParams) error {
	const op = "cue delete"
	return sqlkit.Do(dbErr, op, string(p.TenantID), func(tenant string) error {
		n, err := s.q.CueDelete(ctx, s.wdb, &dbsqlc.CueDeleteParams{ID: string(p.ID), UserID: tenant})
		return dbErr.Affected(op, n, err)
	})
}

// CueCountByStatus counts the tenant's cues per status; statuses without
// cues are absent from the map.
func (s *Store) CueCountByStatus(ctx context.Context, p *core.CueCountByStatusParams) (map[core.CueStatus]int, error) {
	return sqlkit.Scan(string(p.TenantID), map[core.CueStatus]int{}, func(tenant string) (map[core.CueStatus]int, error) {
		rows, err := s.q.CueCountByStatus(ctx, s.rdb, tenant)
		if err != nil {
			return nil, dbErr.Interpret("cue count by status", err)
		}
		counts := map[core.CueStatus]int{}
		for _, r := range rows {
			counts[core.CueStatus(r.Status)] = int(r.N)
		}
		return counts, nil
	})
}

// cueSecretFromRow is a cue with its owner's sealed webhook secret.
func cueSecretFromRow(r *dbsqlc.CueListForDeliveryRow) (sqlkit.CueSecret, error) {
	c, err := cueFromRow(&r.Cue)
	return sqlkit.CueSecret{Cue: c, SecretSealed: r.WebhookSecretSealed}, err
}

func cueFromRow(r *dbsqlc.Cue) (*core.Cue, error) {
	var d decoder
	c := &core.Cue{
		ID:          core.CueID(r.ID),
		TenantID:    core.TenantID(r.UserID),
		Name:        r.Name,
		Description: r.Description,
		Status:      core.CueStatus(r.Status),
		Transport:   core.Transport(r.Transport),
		Schedule: core.Schedule{
			Type:     core.ScheduleType(r.ScheduleType),
			Cron:     r.ScheduleCron,
			At:       d.timePtr(r.ScheduleAt),
			Timezone: r.ScheduleTimezone,
		},
		Callback: core.Callback{
			URL:     r.CallbackURL,
			Method:  r.CallbackMethod,
			Headers: d.Headers([]byte(r.CallbackHeaders)),
		},
		Payload:                json.RawMessage(r.Payload),
		Retry:                  core.RetryPolicy{MaxAttempts: int(r.RetryMaxAttempts), BackoffMinutes: d.Backoff([]byte(r.RetryBackoffMinutes))},
		OnFailure:              core.OnFailure{Email: r.OnFailureEmail != 0, Webhook: r.OnFailureWebhook, Pause: r.OnFailurePause != 0},
		Verification:           sqlkit.Named[core.VerificationMode](r.VerificationMode),
		CatchUp:                core.CatchUpPolicy(r.CatchUp),
		OutcomeDeadlineSeconds: intPtr(r.OutcomeDeadlineSeconds),
		NextRun:                d.timePtr(r.NextRun),
		LastRun:                d.timePtr(r.LastRun),
		RunCount:               int(r.RunCount),
		FiredCount:             int(r.FiredCount),
		SkippedCount:           int(r.SkippedCount),
		LastError:              r.LastError,
		CreatedAt:              d.time(r.CreatedAt),
		UpdatedAt:              d.time(r.UpdatedAt),
	}
	d.CueOptionsOf(c, []byte(r.Options))
	if d.Err != nil {
		return nil, d.Err
	}
	return c, nil
}

// CueFireDue fires one batch in one write transaction: it reads up to
// p.Limit active cues due by p.Horizon (oldest next_run first; the write
// lock keeps every other writer out, so concurrent calls take disjoint
// batches), calls p.Plan on each, inserts the planned executions with
// INSERT … ON CONFLICT (cue_id, scheduled_for) DO NOTHING and saves each
// cue, counting into fired_count only the executions actually inserted. The
// per-row statements are prepared once per batch.
func (s *Store) CueFireDue(ctx context.Context, p *core.CueFireDueParams) (*core.CueFireDueResult, error) {
	const op = "cue fire due"
	res := &core.CueFireDueResult{}
	if p.Limit <= 0 {
		return res, nil
	}
	now := timeArg(p.Now)
	return sqlkit.Value(&res, s.inTx(ctx, op, func(tx *sql.Tx) error {
		rows, err := s.q.CueListDue(ctx, tx, &dbsqlc.CueListDueParams{Horizon: timeArg(p.Horizon), MaxRows: int64(p.Limit)})
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		db := newStmtCache(tx)
		for _, row := range rows {
			c, err := cueFromRow(row)
			if err != nil {
				return dbErr.Op(op, err)
			}
			plan := p.Plan(c)
			var fired int64
			dest := c.Destination()
			for _, at := range plan.Occurrences {
				n, err := s.q.ExecutionInsertFired(ctx, db, &dbsqlc.ExecutionInsertFiredParams{
					ID:           string(core.NewExecutionID()),
					CueID:        row.ID,
					UserID:       row.UserID,
					Transport:    row.Transport,
					ScheduledFor: timeArg(at),
					Destination:  dest,
					Now:          now,
				})
				if err != nil {
					return dbErr.Interpret(op+": insert execution", err)
				}
				fired += n
			}
			err = s.q.CueSaveFired(ctx, db, &dbsqlc.CueSaveFiredParams{
				ID:        row.ID,
				NextRun:   timePtrArg(plan.NextRun),
				Status:    string(plan.Status),
				LastError: plan.LastError,
				Skipped:   int64(plan.Skipped),
				Fired:     fired,
				Now:       now,
			})
			if err != nil {
				return dbErr.Interpret(op+": save cue", err)
			}
			res.Inserted += int(fired)
		}
		res.Cues = len(rows)
		return nil
	}))
}

// CueNextDueAt returns the earliest next_run of all active cues (UTC).
// ErrNotFound when no active cue has one.
func (s *Store) CueNextDueAt(ctx context.Context) (time.Time, error) {
	const op = "cue next due at"
	next, err := s.q.CueNextDueAt(ctx, s.rdb)
	if err != nil {
		return time.Time{}, dbErr.Interpret(op, err)
	}
	if next == nil {
		return time.Time{}, dbErr.Op(op, core.ErrNotFound)
	}
	t, err := timeValue(*next)
	return t, dbErr.Op(op, err)
}
