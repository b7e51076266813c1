package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Event housekeeping limits.
const (
	// eventPurgeBatch bounds one delete statement of the retention job.
	eventPurgeBatch = 5000
	// eventPurgeRounds bounds the batches of one retention run.
	eventPurgeRounds = 100
	// digestCandidates bounds the events one digest run reads.
	digestCandidates = 5000
	// eventPurgeEvery is the retention job's period.
	eventPurgeEvery = time.Hour
)

// EventJobs runs the event work no request triggers: message.digest
// emission every DigestPeriod and the 7-day retention hourly. Both are
// driven by the injected clock (a run does what is due at Clock.Now), off
// the request path; any number of replicas may run them (a digest's sources
// are marked in its transaction, so a source is bundled once). Safe for
// concurrent use.
type EventJobs struct {
	cfg   EventsConfig
	store EventStore
	clock Clock
	log   Logger

	mu         sync.Mutex
	lastDigest time.Time
	lastPurge  time.Time
}

// NewEventJobs wires the event housekeeping.
func NewEventJobs(cfg EventsConfig, store EventStore, clock Clock, log Logger) *EventJobs {
	if cfg.DigestPeriod <= 0 {
		cfg.DigestPeriod = 600 * time.Second
	}
	if cfg.DigestMinBatch <= 0 {
		cfg.DigestMinBatch = 1
	}
	now := clock.Now()
	// The first digest is one period after start: events need a period to
	// gather (a restart does not cut a period short for everyone).
	return &EventJobs{cfg: cfg, store: store, clock: clock, log: log, lastDigest: now}
}

// RunOnce runs what is due at the clock's now; a failing job does not stop
// the other.
func (j *EventJobs) RunOnce(ctx context.Context) error {
	now := j.clock.Now()
	j.mu.Lock()
	digestDue := now.Sub(j.lastDigest) >= j.cfg.DigestPeriod
	purgeDue := j.lastPurge.IsZero() || now.Sub(j.lastPurge) >= eventPurgeEvery
	j.mu.Unlock()
	var errs []error
	if digestDue {
		if _, err := j.Digest(ctx, now); err != nil {
			errs = append(errs, err)
		} else {
			j.mu.Lock()
			j.lastDigest = now
			j.mu.Unlock()
		}
	}
	if purgeDue {
		if _, err := j.Purge(ctx, now); err != nil {
			errs = append(errs, err)
		} else {
			j.mu.Lock()
			j.lastPurge = now
			j.mu.Unlock()
		}
	}
	return errors.Join(errs...)
}

// Run runs the jobs every interval until ctx ends.
func (j *EventJobs) Run(ctx context.Context, every time.Duration) {
	runEvery(ctx, every, j.log, "event jobs failed", j.RunOnce)
}

// Purge deletes the events emitted more than EventRetention before now, in
// bounded batches; it returns how many went.
func (j *EventJobs) Purge(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for range eventPurgeRounds {
		n, err := j.store.EventPurge(ctx, &EventPurgeParams{Before: now.Add(-EventRetention), Limit: eventPurgeBatch})
		total += n
		if err != nil || n < eventPurgeBatch {
			return total, err
		}
	}
	return total, nil
}

// digestItem is one bundled message of a digest payload.
type digestItem struct {
	MessageID     any    `json:"message_id"`
	SenderAgentID any    `json:"sender_agent_id"`
	Subject       any    `json:"subject"`
	Priority      int    `json:"priority"`
	EmittedAt     string `json:"emitted_at"`
}

// Digest emits, per recipient with at least DigestMinBatch undigested
// priority-1/2 message.delivered events, one message.digest event bundling
// them (clients.md §2.15.9), and marks them digested. It returns how many
// digests were written.
func (j *EventJobs) Digest(ctx context.Context, now time.Time) (int, error) {
	cands, err := j.store.EventDigestCandidates(ctx, &EventDigestCandidatesParams{Limit: digestCandidates})
	if err != nil {
		return 0, err
	}
	written := 0
	var errs []error
	for start := 0; start < len(cands); {
		end := start
		for end < len(cands) && cands[end].RecipientAgentID == cands[start].RecipientAgentID {
			end++
		}
		group := cands[start:end]
		start = end
		if len(group) < j.cfg.DigestMinBatch {
			continue
		}
		d, err := digestOf(group, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		srcs := make([]int64, len(group))
		for i, e := range group {
			srcs[i] = e.ID
		}
		_, err = j.store.EventDigest(ctx, &EventDigestParams{Digest: d, SourceIDs: srcs, Now: now})
		switch {
		case errors.Is(err, ErrConflict): // another replica bundled them
		case err != nil:
			errs = append(errs, err)
		default:
			written++
		}
	}
	return written, errors.Join(errs...)
}

// digestOf builds the message.digest event of one recipient's events
// (ascending ids).
func digestOf(group []*Event, now time.Time) (*EventEmit, error) {
	items := make([]digestItem, 0, len(group))
	oldest := group[0].EmittedAt
	for _, e := range group {
		var p map[string]any
		if err := json.Unmarshal(e.Payload, &p); err != nil {
			return nil, fmt.Errorf("digest: event %d payload: %w", e.ID, err)
		}
		items = append(items, digestItem{
			MessageID: p["message_id"], SenderAgentID: p["sender_agent_id"], Subject: p["subject"],
			Priority: PayloadPriority(e.Payload), EmittedAt: PyTime(e.EmittedAt),
		})
		if e.EmittedAt.Before(oldest) {
			oldest = e.EmittedAt
		}
	}
	last := group[len(group)-1]
	payload, err := json.Marshal(map[string]any{
		"recipient_agent_id":  last.RecipientAgentID,
		"digest_period_start": PyTime(oldest),
		"digest_period_end":   PyTime(now),
		"bundle_count":        len(items),
		"bundled_messages":    items,
	})
	if err != nil {
		return nil, err
	}
	return &EventEmit{
		TenantID: last.TenantID, Type: EventMessageDigest, RecipientAgentID: last.RecipientAgentID, Payload: payload,
		EmittedAt: now, IdempotencyKey: fmt.Sprintf("%s:%s:%d", EventMessageDigest, last.RecipientAgentID, last.ID),
	}, nil
}
