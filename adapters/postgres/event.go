package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/cueapi/cueapi/adapters/postgres/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
)

// eventWriter is the statements that write events in tx (see
// sqlkit.EmitEvents); the recipient's advisory lock orders ids by commit.
func (s *Store) eventWriter(ctx context.Context, tx pgx.Tx) sqlkit.EventWriter[*dbsqlc.Event] {
	return sqlkit.EventWriter[*dbsqlc.Event]{
		Lock: func(agent string) error { return s.q.EventLockRecipient(ctx, tx, agent) },
		Insert: func(e *core.EventEmit, payload []byte) ([]*dbsqlc.Event, error) {
			user, ok := sqlkit.UUID(string(e.TenantID))
			if !ok {
				return nil, fmt.Errorf("%w: tenant %q", core.ErrNotFound, e.TenantID)
			}
			var prio *int16
			if e.Priority != nil {
				p := int16(*e.Priority)
				prio = &p
			}
			return s.q.EventInsert(ctx, tx, &dbsqlc.EventInsertParams{
				UserID: user, EventType: e.Type, RecipientAgentID: e.RecipientAgentID, Payload: payload,
				EmittedAt: e.EmittedAt, IdempotencyKey: sqlkit.OptionalKey(e.IdempotencyKey), Priority: prio,
			})
		},
		ByKey: func(typ, key string) (*dbsqlc.Event, error) {
			return s.q.EventGetByKey(ctx, tx, &dbsqlc.EventGetByKeyParams{EventType: typ, IdempotencyKey: &key})
		},
		Conv: func(r *dbsqlc.Event) (*core.Event, error) { return eventFromRow(r), nil },
	}
}

// insertEvents writes events inside a transaction of another store method
// (the change that causes them).
func (s *Store) insertEvents(ctx context.Context, tx pgx.Tx, op string, evs []*core.EventEmit) ([]*core.Event, error) {
	return sqlkit.EmitEvents(dbErr, op, s.eventWriter(ctx, tx), evs)
}

func eventFromRow(r *dbsqlc.Event) *core.Event {
	e := &core.Event{
		ID: r.ID, TenantID: core.TenantID(r.UserID), Type: r.EventType, RecipientAgentID: r.RecipientAgentID,
		Payload: sqlkit.EventPayload(r.Payload), EmittedAt: utc(r.EmittedAt),
	}
	if r.Priority != nil {
		p := int(*r.Priority)
		e.Priority = &p
	}
	return e
}

func subscriptionFromRow(r *dbsqlc.Subscription) *core.Subscription {
	return &core.Subscription{
		ID: r.ID, TenantID: core.TenantID(r.UserID), AgentID: r.SubscriberAgentID, EventType: r.EventType,
		Target: r.DeliveryTarget, WebhookURL: r.WebhookURL, SecretSealed: r.WebhookSecretSealed, InlineBody: r.InlineBody,
		LastDispatchedEventID: r.LastDispatchedEventID, LastDispatchedAt: utcPtr(r.LastDispatchedAt),
		LastAckedEventID: r.LastAckedEventID, ConsecutiveFailures: int(r.ConsecutiveFailures),
		PausedUntil: utcPtr(r.PausedUntil), LastP4At: utcPtr(r.LastP4At), CreatedAt: utc(r.CreatedAt),
		DetachedAt: utcPtr(r.DetachedAt),
	}
}

// EventEmit writes the events in one transaction (see core.EventStore).
func (s *Store) EventEmit(ctx context.Context, p *core.EventEmitParams) ([]*core.Event, error) {
	const op = "event emit"
	var out []*core.Event
	return sqlkit.Value(&out, s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var err error
		out, err = s.insertEvents(ctx, tx, op, p.Events)
		return err
	}))
}

// EventList reads the agent's feed after the cursor.
func (s *Store) EventList(ctx context.Context, p *core.EventListParams) ([]*core.Event, error) {
	const op = "event list"
	out := []*core.Event{}
	user, ok := sqlkit.UUID(string(p.TenantID))
	if !ok {
		return out, nil
	}
	rows, err := s.q.EventList(ctx, s.rd, &dbsqlc.EventListParams{
		RecipientAgentID: p.AgentID, UserID: user, Since: p.Since, EventType: sqlkit.OptionalText(p.Type),
		MaxRows: sqlkit.Clamp[int32](p.Limit),
	})
	if err != nil {
		return nil, dbErr.Interpret(op, err)
	}
	for _, r := range rows {
		out = append(out, eventFromRow(r))
	}
	return out, nil
}

// EventPurge deletes up to p.Limit events emitted before p.Before.
func (s *Store) EventPurge(ctx context.Context, p *core.EventPurgeParams) (int, error) {
	n, err := s.q.EventPurge(ctx, s.rd, &dbsqlc.EventPurgeParams{Before: p.Before, MaxRows: sqlkit.Clamp[int32](p.Limit)})
	if err != nil {
		return 0, dbErr.Interpret("event purge", err)
	}
	return int(n), nil
}

// EventDigestCandidates returns undigested low-priority message events.
func (s *Store) EventDigestCandidates(ctx context.Context, p *core.EventDigestCandidatesParams) ([]*core.Event, error) {
	rows, err := s.q.EventDigestCandidates(ctx, s.rd, sqlkit.Clamp[int32](p.Limit))
	if err != nil {
		return nil, dbErr.Interpret("event digest candidates", err)
	}
	out := make([]*core.Event, 0, len(rows))
	for _, r := range rows {
		out = append(out, eventFromRow(r))
	}
	return out, nil
}

// EventDigest writes the digest and marks its sources in one transaction;
// ErrConflict (nothing written) when a source was already digested.
func (s *Store) EventDigest(ctx context.Context, p *core.EventDigestParams) (*core.Event, error) {
	const op = "event digest"
	var out *core.Event
	return sqlkit.Value(&out, s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		n, err := s.q.EventMarkDigested(ctx, tx, &dbsqlc.EventMarkDigestedParams{Now: &p.Now, Ids: p.SourceIDs})
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
		err := s.q.SubscriptionInsert(ctx, s.rd, &dbsqlc.SubscriptionInsertParams{
			ID: id, UserID: user, SubscriberAgentID: p.AgentID, EventType: p.EventType, DeliveryTarget: p.Target,
			WebhookURL: p.WebhookURL, WebhookSecretSealed: p.SecretSealed, InlineBody: p.InlineBody, CreatedAt: p.CreatedAt,
		})
		return dbErr.Tenant(op, err)
	})
}

// SubscriptionList returns the agent's active subscriptions, oldest first.
func (s *Store) SubscriptionList(ctx context.Context, p *core.SubscriptionListParams) ([]*core.Subscription, error) {
	out := []*core.Subscription{}
	user, ok := sqlkit.UUID(string(p.TenantID))
	if !ok {
		return out, nil
	}
	rows, err := s.q.SubscriptionList(ctx, s.rd, &dbsqlc.SubscriptionListParams{UserID: user, SubscriberAgentID: p.AgentID})
	if err != nil {
		return nil, dbErr.Interpret("subscription list", err)
	}
	for _, r := range rows {
		out = append(out, subscriptionFromRow(r))
	}
	return out, nil
}

// SubscriptionDetach detaches the agent's active subscription (no error
// when there is none).
func (s *Store) SubscriptionDetach(ctx context.Context, p *core.SubscriptionDetachParams) error {
	user, id, ok := sqlkit.TenantRow(p.TenantID, p.ID)
	if !ok {
		return nil
	}
	err := s.q.SubscriptionDetach(ctx, s.rd, &dbsqlc.SubscriptionDetachParams{Now: &p.Now, ID: id, UserID: user, SubscriberAgentID: p.AgentID})
	return dbErr.Interpret("subscription detach", err)
}

// SubscriptionAck raises one subscription's acknowledgement watermark.
func (s *Store) SubscriptionAck(ctx context.Context, p *core.SubscriptionAckParams) error {
	user, id, ok := sqlkit.TenantRow(p.TenantID, p.ID)
	if !ok {
		return nil
	}
	err := s.q.SubscriptionAck(ctx, s.rd, &dbsqlc.SubscriptionAckParams{EventID: &p.EventID, ID: id, UserID: user, SubscriberAgentID: p.AgentID})
	return dbErr.Interpret("subscription ack", err)
}

// SubscriptionAckPulls raises the agent's pull subscriptions' watermark.
func (s *Store) SubscriptionAckPulls(ctx context.Context, p *core.SubscriptionAckPullsParams) error {
	user, ok := sqlkit.UUID(string(p.TenantID))
	if !ok {
		return nil
	}
	err := s.q.SubscriptionAckPulls(ctx, s.rd, &dbsqlc.SubscriptionAckPullsParams{
		EventID: &p.EventID, UserID: user, SubscriberAgentID: p.AgentID, EventType: sqlkit.OptionalText(p.EventType),
	})
	return dbErr.Interpret("subscription ack pulls", err)
}

// SubscriptionDue lists webhook subscriptions with events to dispatch.
func (s *Store) SubscriptionDue(ctx context.Context, p *core.SubscriptionDueParams) ([]*core.Subscription, error) {
	rows, err := s.q.SubscriptionDue(ctx, s.rd, &dbsqlc.SubscriptionDueParams{Now: p.Now, MaxRows: sqlkit.Clamp[int32](p.Limit)})
	if err != nil {
		return nil, dbErr.Interpret("subscription due", err)
	}
	out := make([]*core.Subscription, 0, len(rows))
	for _, r := range rows {
		out = append(out, subscriptionFromRow(r))
	}
	return out, nil
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
	return sqlkit.Value(&out, s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		out = out[:0]
		rows, err := s.q.SubscriptionLease(ctx, tx, &dbsqlc.SubscriptionLeaseParams{LeaseUntil: &p.LeaseUntil, Ids: ids, Now: p.Now})
		if err != nil {
			return dbErr.Interpret(op, err)
		}
		for _, r := range rows {
			sub := subscriptionFromRow(r)
			evs, err := s.q.SubscriptionPendingEvents(ctx, tx, &dbsqlc.SubscriptionPendingEventsParams{
				RecipientAgentID: sub.AgentID, EventType: sub.EventType, Since: sqlkit.Watermark(sub.LastDispatchedEventID),
				MaxRows: sqlkit.Clamp[int32](p.MaxEvents),
			})
			if err != nil {
				return dbErr.Interpret(op+": events", err)
			}
			b := &core.SubscriptionBatch{Sub: sub, LeaseUntil: p.LeaseUntil}
			for _, e := range evs {
				b.Events = append(b.Events, eventFromRow(e))
			}
			out = append(out, b)
		}
		return nil
	}))
}

// SubscriptionRecordDispatches stores dispatch results, fenced on their
// leases, in one transaction.
func (s *Store) SubscriptionRecordDispatches(ctx context.Context, p *core.SubscriptionRecordDispatchesParams) ([]bool, error) {
	const op = "subscription record dispatches"
	applied := make([]bool, len(p.Results))
	return sqlkit.Value(&applied, s.inTx(ctx, op, pgx.TxOptions{}, func(tx pgx.Tx) error {
		for i, r := range p.Results {
			id, ok := sqlkit.UUID(r.ID)
			if !ok {
				applied[i] = false
				continue
			}
			n, err := s.q.SubscriptionRecordDispatch(ctx, tx, &dbsqlc.SubscriptionRecordDispatchParams{
				LastDispatchedEventID: r.LastDispatchedEventID, AckedEventID: r.AckedEventID, LastDispatchedAt: r.LastDispatchedAt,
				ConsecutiveFailures: sqlkit.Clamp[int32](r.ConsecutiveFailures), PausedUntil: r.PausedUntil, LastP4At: r.LastP4At,
				ID: id, ClaimedLease: &r.ClaimedLease, NextLease: r.NextLease,
			})
			if err != nil {
				return dbErr.Interpret(op, err)
			}
			applied[i] = n > 0
		}
		return nil
	}))
}
