package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cueapi/cueapi/adapters/postgres/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
)

// CueGet returns the tenant's cue. ErrNotFound when absent or foreign.
func (s *Store) CueGet(ctx context.Context, p *core.CueGetParams) (*core.Cue, error) {
	const op = "cue get"
	return sqlkit.Find(dbErr, op, string(p.TenantID), func(tenant string) (*core.Cue, error) {
		row, err := s.q.CueGet(ctx, s.rd, &dbsqlc.CueGetParams{ID: string(p.ID), UserID: tenant})
		return sqlkit.Row(dbErr, op, row, err, cueFromRow)
	})
}

// CueGetByName returns the tenant's cue with exactly this name. ErrNotFound
// when it has none.
func (s *Store) CueGetByName(ctx context.Context, p *core.CueGetByNameParams) (*core.Cue, error) {
	const op = "cue get by name"
	return sqlkit.Find(dbErr, op, string(p.TenantID), func(tenant string) (*core.Cue, error) {
		row, err := s.q.CueGetByName(ctx, s.rd, &dbsqlc.CueGetByNameParams{UserID: tenant, Name: p.Name})
		return sqlkit.Row(dbErr, op, row, err, cueFromRow)
	})
}

// CueGetDetail returns the tenant's cue, its execution counts per status
// since p.Since and a page of its executions with their total, in one
// statement (CueGetDetail: one row per execution of the page, each with the
// cue). An empty page takes a second statement for the cue and counts, and
// a third for the total when the page starts past the end. ErrNotFound when
// absent or foreign.
func (s *Store) CueGetDetail(ctx context.Context, p *core.CueGetDetailParams) (*core.CueDetailRead, error) {
	const op = "cue get detail"
	return sqlkit.Find(dbErr, op, string(p.TenantID), func(tenant string) (*core.CueDetailRead, error) {
		maxRows, skipRows := sqlkit.Page[int32](p.Limit, p.Offset)
		rows, err := s.q.CueGetDetail(ctx, s.rd, &dbsqlc.CueGetDetailParams{
			ID: string(p.ID), UserID: tenant, Since: p.Since, MaxRows: maxRows, SkipRows: skipRows,
		})
		if err != nil {
			return nil, dbErr.Interpret(op, err)
		}
		if len(rows) == 0 {
			return s.cueDetailWithoutPage(ctx, p, tenant)
		}
		d := &core.CueDetailRead{Executions: make([]*core.Execution, len(rows)), Total: int(rows[0].Total)}
		if d.Cue, err = cueFromRow(&rows[0].Cue); err != nil {
			return nil, dbErr.Op(op, err)
		}
		if d.Counts, err = statusCounts(rows[0].Counts); err != nil {
			return nil, dbErr.Op(op, err)
		}
		for i := range rows {
			d.Executions[i] = executionFromRow(&rows[i].Execution)
		}
		return d, nil
	})
}

// cueDetailWithoutPage is CueGetDetail when the page has no execution: the
// cue may be absent, have none, or the page start past the last.
func (s *Store) cueDetailWithoutPage(ctx context.Context, p *core.CueGetDetailParams, tenant string) (*core.CueDetailRead, error) {
	const op = "cue get detail"
	row, err := s.q.CueGetWithCounts(ctx, s.rd, &dbsqlc.CueGetWithCountsParams{ID: string(p.ID), UserID: tenant, Since: p.Since})
	d := &core.CueDetailRead{Executions: []*core.Execution{}}
	if d.Cue, err = sqlkit.Row(dbErr, op, row, err, func(r *dbsqlc.CueGetWithCountsRow) (*core.Cue, error) {
		c, err := cueFromRow(&r.Cue)
		if err != nil {
			return nil, err
		}
		d.Counts, err = statusCounts(r.Counts)
		return c, err
	}); err != nil {
		return nil, err
	}
	if p.Offset > 0 {
		n, err := s.q.ExecutionCount(ctx, s.rd, executionFilter(tenant, &core.ExecutionListParams{TenantID: p.TenantID, CueID: &d.Cue.ID}))
		if err != nil {
			return nil, dbErr.Interpret(op, err)
		}
		d.Total = int(n)
	}
	return d, nil
}

// CueList returns a page of the tenant's cues, newest first (ties by id
// descending), optionally of one status, and the total matching count. A
// Limit of 0 or less means no limit.
func (s *Store) CueList(ctx context.Context, p *core.CueListParams) ([]*core.Cue, int, error) {
	const op = "cue list"
	maxRows, skipRows := sqlkit.Page[int32](p.Limit, p.Offset)
	page := sqlkit.NewListing[*core.Cue]().Window(p.Limit, p.Offset)
	return page.Of(s.tenantRead(p.TenantID, func(tx dbsqlc.DBTX, tenant string) error {
		return sqlkit.ReadPage(page, dbErr, op, func() ([]*dbsqlc.Cue, error) {
			return s.q.CueList(ctx, tx, &dbsqlc.CueListParams{
				UserID: tenant, Status: p.Status, MaxRows: maxRows, SkipRows: skipRows,
			})
		}, cueFromRow, func() (int64, error) {
			return s.q.CueCount(ctx, tx, &dbsqlc.CueCountParams{UserID: tenant, Status: p.Status})
		})
	}))
}

// CueUpdate locks the tenant's cue, runs p.Fn on it and saves everything Fn
// leaves except ID, TenantID, Transport, the counters and CreatedAt. Fn's
// error aborts and is returned as is. ErrNotFound when absent or foreign;
// ErrConflict when the new name is taken.
func (s *Store) CueUpdate(ctx context.Context, p *core.CueUpdateParams) (*core.Cue, error) {
	const op = "cue update"
	var out *core.Cue
	return sqlkit.Value(&out, s.tenantTx(ctx, op, pgx.TxOptions{}, p.TenantID, func(tx pgx.Tx, tenant string) (err error) {
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
				LastError:              c.LastError,
				Options:                opts,
				UpdatedAt:              c.UpdatedAt,
			})
			if err != nil || p.CancelUpcomingAfter == nil {
				return row, err
			}
			n, err := s.cancelUpcoming(ctx, tx, row.ID, row.UserID, *p.CancelUpcomingAfter)
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
		n, err := s.q.CueDelete(ctx, s.rd, &dbsqlc.CueDeleteParams{ID: string(p.ID), UserID: tenant})
		return dbErr.Affected(op, n, err)
	})
}

// CueCountByStatus counts the tenant's cues per status; statuses without
// cues are absent from the map.
func (s *Store) CueCountByStatus(ctx context.Context, p *core.CueCountByStatusParams) (map[core.CueStatus]int, error) {
	return sqlkit.Scan(string(p.TenantID), map[core.CueStatus]int{}, func(tenant string) (map[core.CueStatus]int, error) {
		rows, err := s.q.CueCountByStatus(ctx, s.rd, tenant)
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
	var d sqlkit.Decoder
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
			At:       utcPtr(r.ScheduleAt),
			Timezone: r.ScheduleTimezone,
		},
		Callback: core.Callback{
			URL:     r.CallbackURL,
			Method:  r.CallbackMethod,
			Headers: d.Headers(r.CallbackHeaders),
		},
		Payload:                jsonValue(r.Payload),
		Retry:                  core.RetryPolicy{MaxAttempts: int(r.RetryMaxAttempts), BackoffMinutes: d.Backoff(r.RetryBackoffMinutes)},
		OnFailure:              core.OnFailure{Email: r.OnFailureEmail, Webhook: r.OnFailureWebhook, Pause: r.OnFailurePause},
		Verification:           sqlkit.Named[core.VerificationMode](r.VerificationMode),
		CatchUp:                core.CatchUpPolicy(r.CatchUp),
		OutcomeDeadlineSeconds: intPtr(r.OutcomeDeadlineSeconds),
		NextRun:                utcPtr(r.NextRun),
		LastRun:                utcPtr(r.LastRun),
		RunCount:               int(r.RunCount),
		FiredCount:             int(r.FiredCount),
		SkippedCount:           int(r.SkippedCount),
		LastError:              r.LastError,
		CreatedAt:              utc(r.CreatedAt),
		UpdatedAt:              utc(r.UpdatedAt),
	}
	d.CueOptionsOf(c, r.Options)
	if d.Err != nil {
		return nil, d.Err
	}
	return c, nil
}

// CueFireDue fires one batch in one transaction of three statements,
// whatever its size: it locks up to p.Limit active cues due by p.Horizon
// (oldest next_run first, FOR NO KEY UPDATE SKIP LOCKED, so concurrent
// schedulers take disjoint batches), calls p.Plan on each, inserts every
// planned execution in one INSERT … SELECT FROM unnest(…) ON CONFLICT
// (cue_id, scheduled_for) DO NOTHING, and saves every cue in one
// UPDATE … FROM unnest(…), counting into fired_count only the executions
// actually inserted.
func (s *Store) CueFireDue(ctx context.Context, p *core.CueFireDueParams) (*core.CueFireDueResult, error) {
	const op = "cue fire due"
	res := &core.CueFireDueResult{}
	if p.Limit <= 0 {
		return res, nil
	}
	// Pipelined (pipeTx): BEGIN, the commit mode and the selection travel
	// together, then the inserts, then the cues' save with COMMIT.
	return sqlkit.Value(&res, s.inPipeTx(ctx, op, func(tx *pipeTx) error {
		// Firing is idempotent ((cue, scheduled_for) is unique): a batch lost
		// in a crash is fired again, so its commit need not wait for the WAL
		// flush. Anything delivered from it was claimed and recorded later,
		// and a synchronous commit flushes every earlier one.
		if err := s.q.TxAsyncCommit(ctx, tx.Hold()); err != nil {
			return dbErr.Interpret(op, err)
		}
		rows, err := s.q.CueListDue(ctx, tx, &dbsqlc.CueListDueParams{Horizon: p.Horizon, MaxRows: sqlkit.Clamp[int32](p.Limit)})
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		if len(rows) == 0 {
			return nil
		}
		n := len(rows)
		ins := &dbsqlc.ExecutionInsertFiredParams{Now: p.Now}
		save := &dbsqlc.CueSaveFiredParams{
			Now:           p.Now,
			Ids:           make([]string, n),
			NextRuns:      make([]time.Time, n),
			HasNextRuns:   make([]bool, n),
			Statuses:      make([]string, n),
			LastErrors:    make([]string, n),
			HasLastErrors: make([]bool, n),
			Skipped:       make([]int32, n),
			Fired:         make([]int32, n),
		}
		for i, row := range rows {
			c, err := cueFromRow(row)
			if err != nil {
				return dbErr.Op(op, err)
			}
			plan := p.Plan(c)
			dest := c.Destination()
			for _, at := range plan.Occurrences {
				ins.Ids = append(ins.Ids, string(core.NewExecutionID()))
				ins.CueIds = append(ins.CueIds, row.ID)
				ins.UserIds = append(ins.UserIds, row.UserID)
				ins.Transports = append(ins.Transports, row.Transport)
				ins.ScheduledFors = append(ins.ScheduledFors, at)
				ins.Destinations = append(ins.Destinations, dest)
			}
			save.Ids[i] = row.ID
			if plan.NextRun != nil {
				save.NextRuns[i], save.HasNextRuns[i] = *plan.NextRun, true
			}
			save.Statuses[i] = string(plan.Status)
			if plan.LastError != nil {
				save.LastErrors[i], save.HasLastErrors[i] = *plan.LastError, true
			}
			save.Skipped[i] = int32(plan.Skipped)
		}
		if len(ins.Ids) > 0 {
			inserted, err := s.q.ExecutionInsertFired(ctx, tx, ins)
			if err != nil {
				return dbErr.Interpret(op+": insert executions", err)
			}
			perCue := make(map[string]int32, n)
			for _, cueID := range inserted {
				perCue[cueID]++
			}
			for i, id := range save.Ids {
				save.Fired[i] = perCue[id]
			}
			res.Inserted = len(inserted)
		}
		if err := s.q.CueSaveFired(ctx, tx.Hold(), save); err != nil {
			return dbErr.Interpret(op+": save cues", err)
		}
		res.Cues = n
		return nil
	}))
}

// CueNextDueAt returns the earliest next_run of all active cues (UTC).
// ErrNotFound when no active cue has one.
func (s *Store) CueNextDueAt(ctx context.Context) (time.Time, error) {
	const op = "cue next due at"
	next, err := s.q.CueNextDueAt(ctx, s.rd)
	if err != nil {
		return time.Time{}, dbErr.Interpret(op, err)
	}
	if next == nil {
		return time.Time{}, dbErr.Op(op, core.ErrNotFound)
	}
	return utc(*next), nil
}
