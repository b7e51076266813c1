package core

import (
	"context"
	"time"
)

// PublishingStore decorates a Store: after each write that changes a cue,
// an execution or the alerts commits, it publishes a Change on the feed.
// Every Store method is atomic, so "after it returned without error" is
// "after commit". A failed publish is logged and never fails the write.
type PublishingStore struct {
	Store
	feed ChangeFeed
	log  Logger
}

// NewPublishingStore wraps store so that its committed changes are
// announced on feed.
func NewPublishingStore(store Store, feed ChangeFeed, log Logger) *PublishingStore {
	return &PublishingStore{Store: store, feed: feed, log: log}
}

// publish announces a batch in one call (one round trip cross-process).
func (s *PublishingStore) publish(ctx context.Context, cs ...Change) {
	if len(cs) == 0 {
		return
	}
	if err := s.feed.Publish(context.WithoutCancel(ctx), cs...); err != nil {
		s.log.Warn("changes not published", "count", len(cs), "err", err)
	}
}

func execChange(e *Execution) Change {
	return Change{Kind: ChangeExecution, TenantID: e.TenantID, EntityID: string(e.ID), CueID: e.CueID}
}

func (s *PublishingStore) execChanged(ctx context.Context, e *Execution) {
	if e != nil {
		s.publish(ctx, execChange(e))
	}
}

func (s *PublishingStore) cueChanged(ctx context.Context, tenant TenantID, id CueID) {
	s.publish(ctx, Change{Kind: ChangeCue, TenantID: tenant, EntityID: string(id), CueID: id})
}

// afterExec runs a store call that returns one execution and announces it.
func afterExec[P any](s *PublishingStore, ctx context.Context, p P, call func(context.Context, P) (*Execution, error)) (*Execution, error) {
	e, err := call(ctx, p)
	if err == nil {
		s.execChanged(ctx, e)
	}
	return e, err
}

// afterDeliveries runs a store call that returns executions (with their
// cues) and announces each.
func afterDeliveries[P any](s *PublishingStore, ctx context.Context, p P, call func(context.Context, P) ([]*Delivery, error)) ([]*Delivery, error) {
	ds, err := call(ctx, p)
	if err == nil {
		cs := make([]Change, 0, len(ds))
		for _, d := range ds {
			cs = append(cs, execChange(d.Execution))
		}
		s.publish(ctx, cs...)
	}
	return ds, err
}

// CueCreate announces the new cue.
func (s *PublishingStore) CueCreate(ctx context.Context, p *CueCreateParams) (*Cue, error) {
	c, err := s.Store.CueCreate(ctx, p)
	if err == nil {
		s.cueChanged(ctx, c.TenantID, c.ID)
	}
	return c, err
}

// CueUpdate announces the changed cue.
func (s *PublishingStore) CueUpdate(ctx context.Context, p *CueUpdateParams) (*Cue, error) {
	c, err := s.Store.CueUpdate(ctx, p)
	if err == nil {
		s.cueChanged(ctx, c.TenantID, c.ID)
	}
	return c, err
}

// CueDelete announces the deleted cue.
func (s *PublishingStore) CueDelete(ctx context.Context, p *CueDeleteParams) error {
	err := s.Store.CueDelete(ctx, p)
	if err == nil {
		s.cueChanged(ctx, p.TenantID, p.ID)
	}
	return err
}

// CueFireDue announces, per cue that got executions, an execution change
// of that cue (the batch result carries no execution ids).
func (s *PublishingStore) CueFireDue(ctx context.Context, p *CueFireDueParams) (*CueFireDueResult, error) {
	type fired struct {
		tenant TenantID
		cue    CueID
		due    time.Time
	}
	var got []fired
	plan := p.Plan
	q := *p
	q.Plan = func(c *Cue) FirePlan {
		fp := plan(c)
		if len(fp.Occurrences) > 0 {
			due := fp.Occurrences[0]
			for _, o := range fp.Occurrences[1:] {
				if o.Before(due) {
					due = o
				}
			}
			got = append(got, fired{c.TenantID, c.ID, due})
		}
		return fp
	}
	r, err := s.Store.CueFireDue(ctx, &q)
	if err == nil && r.Inserted > 0 {
		cs := make([]Change, 0, len(got))
		for _, f := range got {
			cs = append(cs, Change{Kind: ChangeExecution, TenantID: f.tenant, CueID: f.cue, DueAt: &f.due})
		}
		s.publish(ctx, cs...)
	}
	return r, err
}

// ExecutionCreate announces the new execution.
func (s *PublishingStore) ExecutionCreate(ctx context.Context, p *ExecutionCreateParams) (*Execution, error) {
	return afterExec(s, ctx, p, s.Store.ExecutionCreate)
}

// ExecutionClaimDeliveries announces the executions now delivering.
func (s *PublishingStore) ExecutionClaimDeliveries(ctx context.Context, p *ExecutionClaimDeliveriesParams) ([]*Delivery, error) {
	return afterDeliveries(s, ctx, p, s.Store.ExecutionClaimDeliveries)
}

// ExecutionRecordDeliveries announces the results that applied.
func (s *PublishingStore) ExecutionRecordDeliveries(ctx context.Context, p *ExecutionRecordDeliveriesParams) ([]bool, error) {
	applied, err := s.Store.ExecutionRecordDeliveries(ctx, p)
	if err == nil {
		var cs []Change
		for i, r := range p.Results {
			if i < len(applied) && applied[i] {
				cs = append(cs, Change{Kind: ChangeExecution, TenantID: r.TenantID, EntityID: string(r.ExecutionID), CueID: r.CueID})
			}
		}
		s.publish(ctx, cs...)
	}
	return applied, err
}

// ExecutionCancelUpcoming announces the cue whose upcoming runs went away.
func (s *PublishingStore) ExecutionCancelUpcoming(ctx context.Context, p *ExecutionCancelUpcomingParams) (int, error) {
	n, err := s.Store.ExecutionCancelUpcoming(ctx, p)
	if err == nil && n > 0 {
		s.cueChanged(ctx, p.TenantID, p.CueID)
	}
	return n, err
}

// ExecutionClaimWorker announces the claimed execution.
func (s *PublishingStore) ExecutionClaimWorker(ctx context.Context, p *ExecutionClaimWorkerParams) (*Execution, error) {
	return afterExec(s, ctx, p, s.Store.ExecutionClaimWorker)
}

// ExecutionUpdate announces the changed execution (outcomes, evidence,
// verification, worker results).
func (s *PublishingStore) ExecutionUpdate(ctx context.Context, p *ExecutionUpdateParams) (*Execution, error) {
	return afterExec(s, ctx, p, s.Store.ExecutionUpdate)
}

// ExecutionSweepWorkerLeases announces the executions that failed or were
// missed.
func (s *PublishingStore) ExecutionSweepWorkerLeases(ctx context.Context, p *ExecutionSweepWorkerLeasesParams) ([]*Delivery, error) {
	return afterDeliveries(s, ctx, p, s.Store.ExecutionSweepWorkerLeases)
}

// ExecutionSweepOutcomeDeadlines announces the executions that timed out.
func (s *PublishingStore) ExecutionSweepOutcomeDeadlines(ctx context.Context, p *ExecutionSweepOutcomeDeadlinesParams) ([]*Delivery, error) {
	return afterDeliveries(s, ctx, p, s.Store.ExecutionSweepOutcomeDeadlines)
}

// AlertCreate announces a created (not de-duplicated) alert.
func (s *PublishingStore) AlertCreate(ctx context.Context, p *AlertCreateParams) (bool, error) {
	created, err := s.Store.AlertCreate(ctx, p)
	if err == nil && created {
		c := Change{Kind: ChangeAlert, TenantID: p.Alert.TenantID, EntityID: p.Alert.ID}
		if p.Alert.CueID != nil {
			c.CueID = *p.Alert.CueID
		}
		s.publish(ctx, c)
	}
	return created, err
}

// eventsChanged announces, once per recipient agent, that events were
// written.
func (s *PublishingStore) eventsChanged(ctx context.Context, evs []*Event) {
	seen := map[string]bool{}
	var cs []Change
	for _, e := range evs {
		if e != nil && !seen[e.RecipientAgentID] {
			seen[e.RecipientAgentID] = true
			cs = append(cs, Change{Kind: ChangeEvent, TenantID: e.TenantID, EntityID: e.RecipientAgentID})
		}
	}
	s.publish(ctx, cs...)
}

// EventEmit announces the written events.
func (s *PublishingStore) EventEmit(ctx context.Context, p *EventEmitParams) ([]*Event, error) {
	evs, err := s.Store.EventEmit(ctx, p)
	if err == nil {
		s.eventsChanged(ctx, evs)
	}
	return evs, err
}

// EventDigest announces the digest event.
func (s *PublishingStore) EventDigest(ctx context.Context, p *EventDigestParams) (*Event, error) {
	e, err := s.Store.EventDigest(ctx, p)
	if err == nil {
		s.eventsChanged(ctx, []*Event{e})
	}
	return e, err
}

// MessageCreate announces the events written with the new messages.
func (s *PublishingStore) MessageCreate(ctx context.Context, p *MessageCreateParams) ([]*Message, error) {
	ms, err := s.Store.MessageCreate(ctx, p)
	if err == nil && len(p.Events) > 0 {
		evs := make([]*Event, len(p.Events))
		for i, e := range p.Events {
			evs[i] = &Event{TenantID: e.TenantID, RecipientAgentID: e.RecipientAgentID}
		}
		s.eventsChanged(ctx, evs)
	}
	return ms, err
}
