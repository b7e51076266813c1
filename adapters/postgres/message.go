package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cueapi/cueapi/adapters/postgres/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
)

// MessageCreate inserts p.Messages with their effects in one transaction.
func (s *Store) MessageCreate(ctx context.Context, p *core.MessageCreateParams) ([]*core.Message, error) {
	const op = "message create"
	out := make([]*core.Message, 0, len(p.Messages))
	err := s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		first := p.Messages[0]
		if first.IdempotencyKey != nil {
			if err := s.q.MessageReleaseKey(ctx, tx, &dbsqlc.MessageReleaseKeyParams{
				UserID: string(first.TenantID), IdempotencyKey: first.IdempotencyKey, Before: p.ReleaseKeysBefore,
			}); err != nil {
				return dbErr.Interpret(op, err)
			}
		}
		for _, m := range p.Messages {
			row, err := s.q.MessageInsert(ctx, tx, (*dbsqlc.MessageInsertParams)(sqlkit.MessageInsertOf[int32, bool](m, times)))
			if err != nil {
				return dbErr.Tenant(op, err)
			}
			created, err := messageFromRow(row)
			if err != nil {
				return dbErr.Op(op, err)
			}
			out = append(out, created)
		}
		// The events last: the recipient's lock is held only until commit.
		_, err := s.insertEvents(ctx, tx, op, p.Events)
		return err
	})
	if err != nil {
		return nil, err
	}
	if p.CountUsage {
		first := p.Messages[0]
		if err := s.q.MessageUsageIncrement(ctx, s.rd, &dbsqlc.MessageUsageIncrementParams{UserID: string(first.TenantID), MonthStart: core.MonthStart(p.Month)}); err != nil {
			return nil, dbErr.Interpret(op, err)
		}
	}
	if p.TouchSender != nil {
		if err := s.q.AgentTouch(ctx, s.rd, &dbsqlc.AgentTouchParams{ID: string(*p.TouchSender), Now: &p.Now}); err != nil {
			return nil, dbErr.Interpret(op, err)
		}
	}
	return out, nil
}

// MessageGet returns the message visible to p.Viewer.
func (s *Store) MessageGet(ctx context.Context, p *core.MessageGetParams) (*core.Message, error) {
	const op = "message get"
	viewer, ok := sqlkit.AnyTenant(p.Viewer)
	if !ok {
		return nil, dbErr.Op(op, core.ErrNotFound)
	}
	row, err := s.q.MessageGet(ctx, s.rd, &dbsqlc.MessageGetParams{ID: string(p.ID), Viewer: viewer})
	return sqlkit.Row(dbErr, op, row, err, messageFromRow)
}

// MessageGetByKey returns the tenant's message holding the key.
func (s *Store) MessageGetByKey(ctx context.Context, p *core.MessageGetByKeyParams) (*core.Message, error) {
	const op = "message get by key"
	return sqlkit.Find(dbErr, op, string(p.TenantID), func(tenant string) (*core.Message, error) {
		row, err := s.q.MessageGetByKey(ctx, s.rd, &dbsqlc.MessageGetByKeyParams{UserID: tenant, IdempotencyKey: &p.Key})
		return sqlkit.Row(dbErr, op, row, err, messageFromRow)
	})
}

// MessageList returns a page of an inbox or sent view, delivering first
// when asked.
func (s *Store) MessageList(ctx context.Context, p *core.MessageListParams) (*core.MessageListResult, error) {
	const op = "message list"
	sender, ok := sqlkit.AnyTenant(p.Sender)
	if !ok {
		return &core.MessageListResult{Messages: []*core.Message{}}, nil
	}
	var states []string
	if len(p.States) > 0 {
		states = p.States
	}
	var counterpart *string
	if p.Counterpart != nil {
		counterpart = new(string(*p.Counterpart))
	}
	maxRows, skipRows := sqlkit.Page[int32](p.Limit, p.Offset)
	res := &core.MessageListResult{Messages: []*core.Message{}}
	// A page and its total from one snapshot; an inbox poll that delivers
	// writes, so it runs as an ordinary transaction.
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	if p.Deliver != nil {
		opts = pgx.TxOptions{}
	}
	err := s.inTx(ctx, op, opts, func(tx pgx.Tx) error {
		if d := p.Deliver; d != nil {
			rows, err := s.q.MessageDeliverQueued(ctx, tx, &dbsqlc.MessageDeliverQueuedParams{Now: &d.Now, ToAgentID: string(p.AgentID), FromAgentID: counterpart})
			if err != nil {
				return dbErr.Interpret(op, err)
			}
			if res.Delivered, err = sqlkit.Convert(rows, messageFromRow); err != nil {
				return dbErr.Op(op, err)
			}
			if err := s.q.AgentTouch(ctx, tx, &dbsqlc.AgentTouchParams{ID: string(p.AgentID), Now: &d.Now}); err != nil {
				return dbErr.Interpret(op, err)
			}
		}
		n, err := s.q.MessageCount(ctx, tx, &dbsqlc.MessageCountParams{
			Inbox: p.Inbox, AgentID: string(p.AgentID), Sender: sender, States: states, Since: p.Since,
			ThreadID: p.ThreadID, Counterpart: counterpart, DueBy: p.DueBy,
		})
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		res.Total = int(n)
		if p.CountOnly {
			return nil
		}
		rows, err := s.q.MessageList(ctx, tx, &dbsqlc.MessageListParams{
			Inbox: p.Inbox, AgentID: string(p.AgentID), Sender: sender, States: states, Since: p.Since,
			ThreadID: p.ThreadID, Counterpart: counterpart, DueBy: p.DueBy, MaxRows: maxRows, SkipRows: skipRows,
		})
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		res.Messages, err = sqlkit.Convert(rows, messageFromRow)
		return dbErr.Op(op, err)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// MessageMonthCount returns the sender user's count of the month.
func (s *Store) MessageMonthCount(ctx context.Context, p *core.MessageMonthCountParams) (int, error) {
	const op = "message month count"
	id, ok := sqlkit.UUID(string(p.TenantID))
	if !ok {
		return 0, nil
	}
	n, err := s.q.MessageMonthCount(ctx, s.rd, &dbsqlc.MessageMonthCountParams{UserID: id, MonthStart: core.MonthStart(p.Month)})
	return int(n), dbErr.Interpret(op, err)
}

// MessageSweep expires, purges and releases keys, each up to p.Limit rows.
func (s *Store) MessageSweep(ctx context.Context, p *core.MessageSweepParams) (core.MessageSweepResult, error) {
	const op = "message sweep"
	var r core.MessageSweepResult
	limit := sqlkit.Clamp[int32](p.Limit)
	n, err := s.q.MessageExpire(ctx, s.rd, &dbsqlc.MessageExpireParams{Now: p.Now, MaxRows: limit})
	if err != nil {
		return r, dbErr.Interpret(op, err)
	}
	r.Expired = int(n)
	if n, err = s.q.MessagePurge(ctx, s.rd, &dbsqlc.MessagePurgeParams{Before: &p.PurgeBefore, MaxRows: limit}); err != nil {
		return r, dbErr.Interpret(op, err)
	}
	r.Purged = int(n)
	if n, err = s.q.MessageReleaseKeys(ctx, s.rd, &dbsqlc.MessageReleaseKeysParams{Before: p.ReleaseBefore, MaxRows: limit}); err != nil {
		return r, dbErr.Interpret(op, err)
	}
	r.Released = int(n)
	return r, nil
}

// MessageUpdate locks the visible message, runs p.Fn and saves its state.
func (s *Store) MessageUpdate(ctx context.Context, p *core.MessageUpdateParams) (*core.Message, error) {
	const op = "message update"
	viewer, ok := sqlkit.AnyTenant(p.Viewer)
	if !ok {
		return nil, dbErr.Op(op, core.ErrNotFound)
	}
	var out *core.Message
	return sqlkit.Value(&out, s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) (err error) {
		out, err = sqlkit.Modify(dbErr, op, func() (*dbsqlc.Message, error) {
			return s.q.MessageGetForUpdate(ctx, tx, &dbsqlc.MessageGetForUpdateParams{ID: string(p.ID), Viewer: viewer})
		}, messageFromRow, p.Fn, func(_ *dbsqlc.Message, m *core.Message) (*dbsqlc.Message, error) {
			return s.q.MessageUpdate(ctx, tx, (*dbsqlc.MessageUpdateParams)(sqlkit.MessageUpdateOf[int32](m, times)))
		})
		return err
	}))
}

func messageFromRow(r *dbsqlc.Message) (*core.Message, error) {
	return sqlkit.MessageOf((*sqlkit.MessageRow[int32, bool, time.Time])(r), times)
}

// MessagePushClaim claims due pushes fairly across destinations.
func (s *Store) MessagePushClaim(ctx context.Context, p *core.MessagePushClaimParams) ([]*core.Message, error) {
	const op = "message push claim"
	if p.Limit <= 0 {
		return []*core.Message{}, nil
	}
	room := sqlkit.RoomOf(p)
	rows, err := s.q.MessagePushClaim(ctx, s.rd, &dbsqlc.MessagePushClaimParams{
		Now: p.Now, LeaseUntil: p.LeaseUntil(), MaxRows: sqlkit.Clamp[int32](p.Limit),
		PerDestination: sqlkit.Clamp[int32](room.PerDestination), RoomDestinations: room.Destinations, RoomSizes: room.Sizes,
		SkipDestinations: room.Skip, ScanRows: sqlkit.Clamp[int32](room.ScanRows),
	})
	if err != nil {
		return nil, dbErr.Interpret(op, err)
	}
	out, err := sqlkit.Convert(rows, messageFromRow)
	return out, dbErr.Op(op, err)
}

// MessagePushRecord stores push results in one transaction, fenced on the
// claimed attempt.
func (s *Store) MessagePushRecord(ctx context.Context, p *core.MessagePushRecordParams) ([]*core.Message, error) {
	const op = "message push record"
	out := make([]*core.Message, len(p.Results))
	return sqlkit.Value(&out, s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		clear(out)
		for i, r := range p.Results {
			if r == nil {
				continue
			}
			row, err := s.q.MessagePushRecord(ctx, tx, (*dbsqlc.MessagePushRecordParams)(sqlkit.MessagePushRecordOf[int32](r, p.Now, times)))
			if errors.Is(err, pgx.ErrNoRows) {
				continue
			}
			if err != nil {
				return dbErr.Interpret(op, err)
			}
			if out[i], err = messageFromRow(row); err != nil {
				return dbErr.Op(op, err)
			}
		}
		return nil
	}))
}
