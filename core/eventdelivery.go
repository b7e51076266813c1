package core

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/cueapi/cueapi/core/canonjson"
)

// subscriptionSource is the DeliverySource of webhook subscriptions: each
// job is one leased subscription and its batch of events. It goes through
// the dispatcher's engine like cue executions (slots, fairness and the
// breaker per destination, leases, batched result writes, shutdown grace);
// its own policy is the batch body, the p=4 debounce, and the
// subscription's failure counter and pause.
type subscriptionSource struct {
	store    EventStore
	box      SecretBox
	clock    Clock
	log      Logger
	debounce time.Duration
	agent    string
}

// subscriptionJob is a claimed batch and, once settled, its result.
type subscriptionJob struct {
	batch *SubscriptionBatch
	// sent are the events of the request (after the p=4 policy).
	sent   []*Event
	hasP4  bool
	result *SubscriptionDispatch
}

func newSubscriptionSource(store EventStore, box SecretBox, clock Clock, log Logger, debounce time.Duration, userAgent string) *subscriptionSource {
	if debounce == 0 {
		debounce = DefaultPriority4Debounce
	}
	return &subscriptionSource{store: store, box: box, clock: clock, log: log, debounce: debounce, agent: userAgent}
}

// Kind implements DeliverySource.
func (s *subscriptionSource) Kind() string { return "subscription" }

// Claim leases due subscriptions, at most the room of each destination.
func (s *subscriptionSource) Claim(ctx context.Context, c *DeliveryClaim) ([]*DeliveryJob, error) {
	if c.Limit <= 0 {
		return nil, nil
	}
	due, err := s.store.SubscriptionDue(ctx, &SubscriptionDueParams{Now: c.Now, Limit: max(c.Limit, subscriptionDueScan)})
	if err != nil {
		return nil, err
	}
	taken := map[string]int{}
	var ids []string
	for _, sub := range due {
		if len(ids) == c.Limit {
			break
		}
		d := DestinationOf(deref(sub.WebhookURL))
		if taken[d] >= c.RoomFor(d) {
			continue
		}
		taken[d]++
		ids = append(ids, sub.ID)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	batches, err := s.store.SubscriptionLease(ctx, &SubscriptionLeaseParams{IDs: ids, Now: c.Now, LeaseUntil: c.LeaseUntil(), MaxEvents: SubscriptionBatchMax})
	if err != nil {
		return nil, err
	}
	jobs := make([]*DeliveryJob, 0, len(batches))
	for _, b := range batches {
		jobs = append(jobs, &DeliveryJob{
			ID: b.Sub.ID, Destination: DestinationOf(deref(b.Sub.WebhookURL)), Attempt: b.Sub.ConsecutiveFailures + 1,
			LeaseUntil: b.LeaseUntil, Item: &subscriptionJob{batch: b},
		})
	}
	return jobs, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// holdBack applies the priority policy: priority-4 events are held while
// the debounce since the last delivered p=4 batch runs; the batch is then
// cut before the first held event (the watermark never skips a held one).
func holdBack(evs []*Event, lastP4 *time.Time, debounce time.Duration, now time.Time) (sent []*Event, hasP4 bool) {
	hold := lastP4 != nil && now.Sub(*lastP4) < debounce
	for _, e := range evs {
		p := PayloadPriority(e.Payload)
		if p == 4 && hold {
			break
		}
		if p == 4 {
			hasP4 = true
		}
		sent = append(sent, e)
	}
	return sent, hasP4
}

// subscriptionBatchBody is the webhook body of a batch.
type subscriptionBatchBody struct {
	DeliveryID     string                 `json:"delivery_id"`
	SubscriptionID string                 `json:"subscription_id"`
	Events         []subscriptionBodyItem `json:"events"`
}

type subscriptionBodyItem struct {
	ID        int64           `json:"id"`
	EventType string          `json:"event_type"`
	Payload   json.RawMessage `json:"payload"`
	EmittedAt string          `json:"emitted_at"`
}

// SubscriptionWebhook builds the canonical body and signature headers of a
// batch (clients.md §2.15.8): the signed bytes are the sent bytes.
func SubscriptionWebhook(subID string, evs []*Event, secret string, now time.Time) ([]byte, []HeaderField, error) {
	b := subscriptionBatchBody{
		DeliveryID:     fmt.Sprintf("dlv_%s_%d_%d", subID, evs[0].ID, evs[len(evs)-1].ID),
		SubscriptionID: subID, Events: make([]subscriptionBodyItem, 0, len(evs)),
	}
	for _, e := range evs {
		b.Events = append(b.Events, subscriptionBodyItem{ID: e.ID, EventType: e.Type, Payload: e.Payload, EmittedAt: PyTime(e.EmittedAt)})
	}
	raw, err := json.Marshal(b)
	if err != nil {
		return nil, nil, err
	}
	body, err := canonjson.Canonical(raw)
	if err != nil {
		return nil, nil, err
	}
	ts := now.Unix()
	return body, []HeaderField{
		{"Content-Type", "application/json"},
		{"X-CueAPI-Signature", canonjson.Sign(secret, ts, body)},
		{"X-CueAPI-Timestamp", strconv.FormatInt(ts, 10)},
		{"X-CueAPI-Event-Count", strconv.Itoa(len(evs))},
	}, nil
}

// Request builds the signed batch; nil (skipped, not a failure) when every
// event is held back or there is nothing to send.
func (s *subscriptionSource) Request(_ context.Context, j *DeliveryJob, now time.Time) (*OutboundRequest, error) {
	sj := j.Item.(*subscriptionJob)
	sub := sj.batch.Sub
	sj.sent, sj.hasP4 = holdBack(sj.batch.Events, sub.LastP4At, s.debounce, now)
	if len(sj.sent) == 0 || sub.WebhookURL == nil || sub.SecretSealed == nil {
		return nil, nil
	}
	secret, err := s.box.Open(*sub.SecretSealed)
	if err != nil {
		return nil, fmt.Errorf("open subscription secret: %w", err)
	}
	body, headers, err := SubscriptionWebhook(sub.ID, sj.sent, secret, now)
	if err != nil {
		return nil, err
	}
	headers = append(headers, HeaderField{"User-Agent", s.agent})
	return &OutboundRequest{Method: "POST", URL: *sub.WebhookURL, Header: headers, Body: body, Timeout: subscriptionWebhookTimeout}, nil
}

// Settle decides the subscription's new state: delivered advances both
// watermarks and clears the failure count; a failure (or a parked attempt)
// counts, and the tenth in a row pauses the subscription for an hour;
// skipped and released attempts leave it as it was.
func (s *subscriptionSource) Settle(a *DeliveryAttempt) {
	sj := a.Job.Item.(*subscriptionJob)
	sub := sj.batch.Sub
	r := &SubscriptionDispatch{
		ID: sub.ID, ClaimedLease: sj.batch.LeaseUntil, LastDispatchedEventID: sub.LastDispatchedEventID,
		LastDispatchedAt: sub.LastDispatchedAt, ConsecutiveFailures: sub.ConsecutiveFailures, PausedUntil: sub.PausedUntil,
		LastP4At: sub.LastP4At,
	}
	switch a.Outcome {
	case AttemptDelivered:
		last := sj.sent[len(sj.sent)-1].ID
		at := a.At
		r.LastDispatchedEventID, r.AckedEventID, r.LastDispatchedAt = &last, &last, &at
		r.ConsecutiveFailures, r.PausedUntil = 0, nil
		if sj.hasP4 {
			r.LastP4At = &at
		}
	case AttemptSkipped:
		if len(sj.sent) == 0 && sub.LastP4At != nil {
			// Everything was held back: wait out the debounce.
			until := sub.LastP4At.Add(s.debounce)
			r.NextLease = &until
		}
	case AttemptFailed, AttemptParked:
		r.ConsecutiveFailures++
		if r.ConsecutiveFailures >= SubscriptionPauseAfter {
			until := a.At.Add(SubscriptionPause)
			r.PausedUntil = &until
			break
		}
		// The same events are retried after a short wait (or the
		// receiver's Retry-After, or the breaker's cool-down).
		next := a.At.Add(subscriptionRetryAfter)
		if a.NotBefore.After(next) {
			next = a.NotBefore
		}
		r.NextLease = &next
	}
	sj.result = r
}

// Record stores the settled batches, fenced on their leases.
func (s *subscriptionSource) Record(ctx context.Context, _ time.Time, done []*DeliveryAttempt) ([]bool, error) {
	rs := make([]*SubscriptionDispatch, len(done))
	for i, a := range done {
		rs[i] = a.Job.Item.(*subscriptionJob).result
	}
	return s.store.SubscriptionRecordDispatches(ctx, &SubscriptionRecordDispatchesParams{Results: rs})
}
