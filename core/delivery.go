package core

import (
	"context"
	"net/url"
	"strings"
	"time"
)

// DeliverySource is one kind of outbound delivery — cue executions, alert
// webhooks, messaging pushes, event-subscription webhooks — that the
// Dispatcher runs. Every kind goes through the same engine and obeys the
// same rules: one pool of slots per process, a concurrency limit and fair
// (round-robin) claiming per destination, a circuit breaker per destination,
// leases, batched result writes kept across store blips, and the shutdown
// grace. A source owns its rows and its policy (what to send, how often to
// retry, what a result changes); the engine owns when and how much is sent.
//
// Register a source with Dispatcher.Register before Run (NewApplication
// does it for the built-in ones). Methods are called concurrently.
type DeliverySource interface {
	// Kind names the source in logs: "execution", "alert", "message", ….
	Kind() string

	// Claim leases up to c.Limit due jobs until c.LeaseUntil() and returns
	// them. Fair: at most c.RoomFor(d) jobs per destination d (none for a
	// destination whose room is 0), oldest due first within a destination
	// and round-robin across destinations (every destination's oldest job
	// before any destination's second). A job whose lease expired is due
	// again (at-least-once). Two claimers, in this process or another
	// sharing the store, never hold the same job (PostgreSQL: FOR UPDATE
	// SKIP LOCKED; SQLite: one writer). Counting the attempt at claim time
	// is the source's choice (executions do, so a crash still counts).
	Claim(ctx context.Context, c *DeliveryClaim) ([]*DeliveryJob, error)

	// Request builds the signed outbound request of a claimed job at now.
	// A nil request and nil error means the source decided without sending
	// (e.g. no attempt left, a tenant limit): the attempt is settled as
	// AttemptSkipped. An error is logged and settled as AttemptFailed.
	Request(ctx context.Context, job *DeliveryJob, now time.Time) (*OutboundRequest, error)

	// Settle decides what a finished attempt means — delivered, retry at
	// a time (never before a.NotBefore), failed for good, handed back — and
	// keeps the decision in the job (DeliveryJob.Item). It runs exactly once
	// per attempt, right after it finished, so times derive from a.At and
	// measurements may be taken here. It must not block or touch the store.
	Settle(a *DeliveryAttempt)

	// Record stores a batch of settled attempts, in one transaction, each
	// fenced on its claim (applied[i] is false when attempt i's claim was
	// lost, e.g. its lease expired and another claimer took the job).
	// Follow-ups of applied attempts (escalations, hooks) are the source's
	// to start, in the background. On an error nothing must have been
	// stored: the engine keeps the batch and records it again, with
	// backoff, while the jobs' leases last.
	Record(ctx context.Context, now time.Time, done []*DeliveryAttempt) (applied []bool, err error)
}

// DeliveryClaim asks a source for due jobs.
type DeliveryClaim struct {
	Now   time.Time
	Lease time.Duration
	// Limit bounds the jobs returned (free slots of this process).
	Limit int
	// PerDestination bounds the jobs of one destination (0: no bound).
	PerDestination int
	// Room overrides the bound for some destinations: the engine's free
	// per-destination slots for destinations with attempts in flight, 1
	// for a destination whose breaker lets one probe through, 0 for one
	// to skip (saturated, or its probe is in flight), more than
	// PerDestination for a destination that is alone (no other had work
	// due), which may use the slots nobody else needs.
	Room map[string]int
	// DueBy, when after Now, lets a source claim jobs that become due by
	// then (claiming ahead; a lease still running at Now is never taken):
	// each comes with its due time as DeliveryJob.NotBefore, and the engine
	// sends it then, not before. Sources may ignore it.
	DueBy time.Time
}

// DueLimit is the latest due time the claim takes: DueBy, or Now when
// DueBy is not after it.
func (c *DeliveryClaim) DueLimit() time.Time {
	if c.DueBy.After(c.Now) {
		return c.DueBy
	}
	return c.Now
}

// LeaseUntil is when the claimed jobs may be claimed again.
func (c *DeliveryClaim) LeaseUntil() time.Time { return c.Now.Add(c.Lease) }

// RoomFor is how many jobs of destination d the claim may take.
func (c *DeliveryClaim) RoomFor(d string) int {
	if r, ok := c.Room[d]; ok {
		return max(r, 0)
	}
	if c.PerDestination > 0 {
		return c.PerDestination
	}
	return c.Limit
}

// DeliveryJob is one claimed delivery.
type DeliveryJob struct {
	// ID identifies the job within its source (logs).
	ID string
	// Destination is the fairness and breaker key: DestinationOf the URL
	// the job is sent to (as stored when the job was created).
	Destination string
	// Attempt is the attempt number this claim holds (1-based).
	Attempt int
	// LeaseUntil is when another claimer may take the job over; a result
	// not recorded by then is dropped (the job is retried).
	LeaseUntil time.Time
	// NotBefore, when set, is the job's due time, after the claim
	// (claimed ahead, DeliveryClaim.DueBy): the engine waits for it.
	NotBefore time.Time
	// Span, when set, names the client span the engine records around the
	// send, under Trace (the zero TraceContext: a new trace).
	Span  string
	Trace TraceContext
	// Item is the source's own state: its claimed row and, once settled,
	// its decision.
	Item any

	source   DeliverySource
	admitted bool // within its destination's limit when claimed (see destinations.reserve)
}

// AttemptOutcome is what happened to one attempt.
type AttemptOutcome string

// Attempt outcomes.
const (
	// AttemptDelivered: the receiver answered 2xx.
	AttemptDelivered AttemptOutcome = "delivered"
	// AttemptFailed: a non-2xx answer (Status), a transport failure (Err,
	// a *DeliveryError) or a request that could not be built.
	AttemptFailed AttemptOutcome = "failed"
	// AttemptParked: not sent because the destination's circuit breaker
	// is open; it counts as a failed attempt and the next one is due no
	// earlier than NotBefore (the end of the cool-down).
	AttemptParked AttemptOutcome = "parked"
	// AttemptReleased: cut short by shutdown; hand the job back at once
	// without counting the attempt (the receiver may have seen it).
	AttemptReleased AttemptOutcome = "released"
	// AttemptSkipped: Request decided without sending.
	AttemptSkipped AttemptOutcome = "skipped"
)

// DeliveryAttempt is one finished attempt of a job.
type DeliveryAttempt struct {
	Job     *DeliveryJob
	Outcome AttemptOutcome
	// Status and Body are the receiver's answer (0 and nil without one);
	// Body holds at most MaxResponseBytes.
	Status int
	Body   []byte
	// Err is the transport failure (*DeliveryError) or the build error.
	Err error
	// Message is the protocol's text for a failed or parked attempt
	// ("Webhook endpoint server error (502)", "Webhook delivery timed
	// out", …): safe to show users.
	Message string
	// NotBefore, when set, is the earliest the next attempt may start: the
	// receiver's Retry-After on 429/503 (capped by MaxRetryAfter) or the
	// end of the breaker's cool-down. Sources honour it over shorter
	// backoffs.
	NotBefore time.Time
	// Started and At bracket the attempt (At: when it finished).
	Started, At time.Time
}

// DestinationOf is the fairness and breaker key of a delivery URL: its
// lower-cased host[:port] (userinfo dropped), "" when raw has none.
func DestinationOf(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return ""
	}
	return strings.ToLower(u.Host)
}

// Destination is where the cue's executions are delivered, for fairness:
// DestinationOf its callback URL; "" for worker transport.
func (c *Cue) Destination() string {
	if c == nil || c.Transport == TransportWorker || c.Callback.URL == nil {
		return ""
	}
	return DestinationOf(*c.Callback.URL)
}
