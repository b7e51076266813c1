package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/cueapi/cueapi/adapters/sqlite/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
)

// eventWriter is the statements that write events in tx (see
// sqlkit.EmitEvents). SQLite has one writer, so ids follow commit order
// without a lock.
func (s *Store) eventWriter(ctx context.Context, tx *sql.Tx) sqlkit.EventWriter[*dbsqlc.Event] {
	return sqlkit.EventWriter[*dbsqlc.Event]{
		Insert: func(e *core.EventEmit, payload []byte) ([]*dbsqlc.Event, error) {
			user, ok := sqlkit.UUID(string(e.TenantID))
			if !ok {
				return nil, fmt.Errorf("%w: tenant %q", core.ErrNotFound, e.TenantID)
			}
			var prio *int64
			if e.Priority != nil {
				p := int64(*e.Priority)
				prio = &p
			}
			return s.q.EventInsert(ctx, tx, &dbsqlc.EventInsertParams{
				UserID: user, EventType: e.Type, RecipientAgentID: e.RecipientAgentID, Payload: string(payload),
				EmittedAt: timeArg(e.EmittedAt), IdempotencyKey: sqlkit.OptionalKey(e.IdempotencyKey), Priority: prio,
			})
		},
		ByKey: func(typ, key string) (*dbsqlc.Event, error) {
			return s.q.EventGetByKey(ctx, tx, &dbsqlc.EventGetByKeyParams{EventType: typ, IdempotencyKey: &key})
		},
		Conv: eventFromRow,
	}
}

// insertEvents writes events inside a transaction of another store method
// (the change that causes them).
func (s *Store) insertEvents(ctx context.Context, tx *sql.Tx, op string, evs []*core.EventEmit) ([]*core.Event, error) {
	return sqlkit.EmitEvents(dbErr, op, s.eventWriter(ctx, tx), evs)
}

func eventFromRow(r *dbsqlc.Event) (*core.Event, error) {
	var d decoder
	e := &core.Event{
		ID: r.ID, TenantID: core.TenantID(r.UserID), Type: r.EventType, RecipientAgentID: r.RecipientAgentID,
		Payload: sqlkit.EventPayload([]byte(r.Payload)), EmittedAt: d.time(r.EmittedAt),
	}
	if r.Priority != nil {
		p := int(*r.Priority)
		e.Priority = &p
	}
	return e, d.Err
}

func subscriptionFromRow(r *dbsqlc.Subscription) (*core.Subscription, error) {
	var d decoder
	sub := &core.Subscription{
		ID: r.ID, TenantID: core.TenantID(r.UserID), AgentID: r.SubscriberAgentID, EventType: r.EventType,
		Target: r.DeliveryTarget, WebhookURL: r.WebhookURL, SecretSealed: r.WebhookSecretSealed, InlineBody: r.InlineBody != 0,
		LastDispatchedEventID: r.LastDispatchedEventID, LastDispatchedAt: d.timePtr(r.LastDispatchedAt),
		LastAckedEventID: r.LastAckedEventID, ConsecutiveFailures: int(r.ConsecutiveFailures),
		PausedUntil: d.timePtr(r.PausedUntil), LastP4At: d.timePtr(r.LastP4At), CreatedAt: d.time(r.CreatedAt),
		DetachedAt: d.timePtr(r.DetachedAt),
	}
	return sub, d.Err
}

// EventEmit writes the events in one transaction (see core.EventStore).
func (s *Store) EventEmit(ctx context.Context, p *core.EventEmitParams) ([]*core.Event, error) {
	const op = "event emit"
	var out []*core.Event
	return sqlkit.Value(&out, s.inTx(ctx, op, func(tx *sql.Tx) error {
		var err error
		out, err = s.insertEvents(ctx, tx, op, p.Events)
		return err
	}))
}

// EventList reads the agent's feed after the cursor.
func (s *Store) EventList(ctx context.Context, p *core.EventListParams) ([]*core.Event, error) {
	const op = "event list"
	user, ok := sqlkit.UUID(string(p.TenantID))
	if !ok {
		return []*core.Event{}, nil
	}
	rows, err := s.q.EventList(ctx, s.rdb, &dbsqlc.EventListParams{
		RecipientAgentID: p.AgentID, UserID: user, Since: p.Since, EventType: sqlkit.OptionalText(p.Type),
		MaxRows: sqlkit.Clamp[int64](p.Limit),
	})
	if err != nil {
		return nil, dbErr.Interpret(op, err)
	}
	out, err := sqlkit.Convert(rows, eventFromRow)
	return out, dbErr.Op(op, err)
}

// EventPurge deletes up to p.Limit events emitted before p.Before.
func (s *Store) EventPurge(ctx context.Context, p *core.EventPurgeParams) (int, error) {
	n, err := s.q.EventPurge(ctx, s.wdb, &dbsqlc.EventPurgeParams{Before: timeArg(p.Before), MaxRows: sqlkit.Clamp[int64](p.Limit)})
	if err != nil {
		return 0, dbErr.Interpret("event purge", err)
	}
	return int(n), nil
}

// EventDigestCandidates returns undigested low-priority message events.
func (s *Store) EventDigestCandidates(ctx context.Context, p *core.EventDigestCandidatesParams) ([]*core.Event, error) {
	const op = "event digest candidates"
	rows, err := s.q.EventDigestCandidates(ctx, s.rdb, sqlkit.Clamp[int64](p.Limit))
	if err != nil {
		return nil, dbErr.Interpret(op, err)
	}
	out, err := sqlkit.Convert(rows, eventFromRow)
	return out, dbErr.Op(op, err)
}

// EventDigest writes the digest and marks its sources in one transaction;
// ErrConflict (nothing written) when a source was already digested.
func (s *Store) EventDigest(ctx context.Context, p *core.EventDigestParams) (*core.Event, error) {
	const op = "event digest"
	var out *core.Event
	return sqlkit.Value(&out, s.inTx(ctx, op, func(tx *sql.Tx) error {
		n, err := s.q.EventMarkDigested(ctx, tx, &dbsqlc.EventMarkDigestedParams{Now: new(timeArg(p.Now)), Ids: p.SourceIDs})
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		if int(n) != len(p.SourceIDs) {
			return dbErr.Op(op, core.ErrConflict)
		}
		evs, err := s.insertEvents(ctx, tx, op, []*core.EventEmit{p.Digest})
		if err != nil {
			return err
		}
		out = evs[0]
		return nil
	}))
}

// SubscriptionCreate inserts the subscription; ErrConflict for a second
// active one of (agent, event type, target).
func (s *Store) SubscriptionCreate(ctx context.Context, p *core.Subscription) error {
	const op = "subscription create"
	return sqlkit.Do2(dbErr, op, string(p.TenantID), p.ID, func(user, id string) error {
		var inline int64
		if p.InlineBody {
			inline = 1
		}
		err := s.q.SubscriptionInsert(ctx, s.wdb, &dbsqlc.SubscriptionInsertParams{
			ID: id, UserID: user, SubscriberAgentID: p.AgentID, EventType: p.EventType, DeliveryTarget: p.Target,
			WebhookURL: p.WebhookURL, WebhookSecretSealed: p.SecretSealed, InlineBody: inline, CreatedAt: timeArg(p.CreatedAt),
		})
		return dbErr.Tenant(op, err)
	})
}

// SubscriptionList returns the agent's active subscriptions, oldest first.
func (s *Store) SubscriptionList(ctx context.Context, p *core.SubscriptionListParams) ([]*core.Subscription, error) {
	const op = "subscription list"
	user, ok := sqlkit.UUID(string(p.TenantID))
	if !ok {
		return []*core.Subscription{}, nil
	}
	rows, err := s.q.SubscriptionList(ctx, s.rdb, &dbsqlc.SubscriptionListParams{UserID: user, SubscriberAgentID: p.AgentID})
	if err != nil {
		return nil, dbErr.Interpret(op, err)
	}
	out, err := sqlkit.Convert(rows, subscriptionFromRow)
	return out, dbErr.Op(op, err)
}

// SubscriptionDetach detaches the agent's active subscription (no error
// when there is none).
func (s *Store) SubscriptionDetach(ctx context.Context, p *core.SubscriptionDetachParams) error {
	user, id, ok := sqlkit.TenantRow(p.TenantID, p.ID)
	if !ok {
		return nil
	}
	err := s.q.SubscriptionDetach(ctx, s.wdb, &dbsqlc.SubscriptionDetachParams{Now: new(timeArg(p.Now)), ID: id, UserID: user, SubscriberAgentID: p.AgentID})
	return dbErr.Interpret("subscription detach", err)
}

// SubscriptionAck raises one subscription's acknowledgement watermark.
func (s *Store) SubscriptionAck(ctx context.Context, p *core.SubscriptionAckParams) error {
	user, id, ok := sqlkit.TenantRow(p.TenantID, p.ID)
	if !ok {
		return nil
	}
	err := s.q.SubscriptionAck(ctx, s.wdb, &dbsqlc.SubscriptionAckParams{EventID: &p.EventID, ID: id, UserID: user, SubscriberAgentID: p.AgentID})
	return dbErr.Interpret("subscription ack", err)
}

// SubscriptionAckPulls raises the agent's pull subscriptions' watermark.
func (s *Store) SubscriptionAckPulls(ctx context.Context, p *core.SubscriptionAckPullsParams) error {
	user, ok := sqlkit.UUID(string(p.TenantID))
	if !ok {
		return nil
	}
	err := s.q.SubscriptionAckPulls(ctx, s.wdb, &dbsqlc.SubscriptionAckPullsParams{
		EventID: &p.EventID, UserID: user, SubscriberAgentID: p.AgentID, EventType: sqlkit.OptionalText(p.EventType),
	})
	return dbErr.Interpret("subscription ack pulls", err)
}

// SubscriptionDue lists webhook subscriptions with events to dispatch.
func (s *Store) SubscriptionDue(ctx context.Context, p *core.SubscriptionDueParams) ([]*core.Subscription, error) {
	const op = "subscription due"
	rows, err := s.q.SubscriptionDue(ctx, s.rdb, &dbsqlc.SubscriptionDueParams{Now: timeArg(p.Now), MaxRows: sqlkit.Clamp[int64](p.Limit)})
	if err != nil {
		return nil, dbErr.Interpret(op, err)
	}
	out, err := sqlkit.Convert(rows, subscriptionFromRow)
	return out, dbErr.Op(op, err)
}

// SubscriptionLease leases the free subscriptions among p.IDs (one
// conditional update) and reads each one's pending events, in one
// transaction.
func (s *Store) SubscriptionLease(ctx context.Context, p *core.SubscriptionLeaseParams) ([]*core.SubscriptionBatch, error) {
	const op = "subscription lease"
	var out []*core.SubscriptionBatch
	ids := make([]string, 0, len(p.IDs))
	for _, id := range p.IDs {
		if c, ok := sqlkit.UUID(id); ok {
			ids = append(ids, c)
		}
	}
	if len(ids) == 0 {
		return out, nil
	}
	return sqlkit.Value(&out, s.inTx(ctx, op, func(tx *sql.Tx) error {
		out = out[:0]
		rows, err := s.q.SubscriptionLease(ctx, tx, &dbsqlc.SubscriptionLeaseParams{LeaseUntil: new(timeArg(p.LeaseUntil)), Ids: ids, Now: timeArg(p.Now)})
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		subs, err := sqlkit.Convert(rows, subscriptionFromRow)
		if err != nil {
			return dbErr.Op(op, err)
		}
		for _, sub := range subs {
			rows, err := s.q.SubscriptionPendingEvents(ctx, tx, &dbsqlc.SubscriptionPendingEventsParams{
				RecipientAgentID: sub.AgentID, EventType: sub.EventType, Since: sqlkit.Watermark(sub.LastDispatchedEventID),
				MaxRows: sqlkit.Clamp[int64](p.MaxEvents),
			})
			if err != nil {
				return dbErr.Interpret(op+": events", err)
			}
			evs, err := sqlkit.Convert(rows, eventFromRow)
			if err != nil {
				return dbErr.Op(op, err)
			}
			out = append(out, &core.SubscriptionBatch{Sub: sub, Events: evs, LeaseUntil: p.LeaseUntil})
		}
		return nil
	}))
}

// SubscriptionRecordDispatches stores dispatch results, fenced on their
// leases, in one transaction.
func (s *Store) SubscriptionRecordDispatches(ctx context.Context, p *core.SubscriptionRecordDispatchesParams) ([]bool, error) {
	const op = "subscription record dispatches"
	applied := make([]bool, len(p.Results))
	return sqlkit.Value(&applied, s.inTx(ctx, op, func(tx *sql.Tx) error {
		for i, r := range p.Results {
			id, ok := sqlkit.UUID(r.ID)
			if !ok {
				continue
			}
			n, err := s.q.SubscriptionRecordDispatch(ctx, tx, &dbsqlc.SubscriptionRecordDispatchParams{
				LastDispatchedEventID: r.LastDispatchedEventID, AckedEventID: r.AckedEventID, LastDispatchedAt: timePtrArg(r.LastDispatchedAt),
				ConsecutiveFailures: int64(r.ConsecutiveFailures), PausedUntil: timePtrArg(r.PausedUntil), LastP4At: timePtrArg(r.LastP4At),
				ID: id, ClaimedLease: new(timeArg(r.ClaimedLease)), NextLease: timePtrArg(r.NextLease),
			})
			if err != nil {
				return dbErr.Interpret(op, err)
			}
			applied[i] = n > 0
		}
		return nil
	}))
}
