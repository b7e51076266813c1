package core

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DispatcherConfig tunes outbound delivery (every DeliverySource).
type DispatcherConfig struct {
	// Concurrency bounds deliveries in flight in this process.
	Concurrency int
	// BatchSize bounds one claim transaction.
	BatchSize int
	// PerDestination bounds deliveries in flight to one destination
	// (host[:port]) in this process, and the jobs of one destination one
	// claim takes; 0: DefaultPerDestination(Concurrency).
	PerDestination int
	// BreakerFailures consecutive failures of one destination (timeouts,
	// connection errors, 429, 5xx) open its circuit breaker; 0: 5.
	BreakerFailures int
	// BreakerCooldown is how long an open breaker parks its destination;
	// each reopening after a failed probe doubles it, up to
	// BreakerMaxCooldown. A longer Retry-After wins (up to MaxRetryAfter).
	BreakerCooldown    time.Duration
	BreakerMaxCooldown time.Duration
	// WebhookTimeout is the total deadline of one attempt.
	WebhookTimeout time.Duration
	// Lease is how long a claimed attempt may run before another process
	// may take the execution over (it must exceed WebhookTimeout).
	Lease time.Duration
	// IdlePoll bounds how long an idle dispatcher sleeps without looking.
	IdlePoll time.Duration
	// ClaimAhead lets the engine claim executions waiting for their first
	// attempt or a retry up to this long before they are due and send each
	// at its due time from memory (the wait runs on the real clock): the
	// claim's round trips are then off the delivery's path, and a burst due
	// at one instant goes out at that instant. A claimed job holds its slot
	// while it waits, and a process that dies meanwhile leaves it to lease
	// expiry, so keep it short. 0 disables it.
	ClaimAhead time.Duration
	// MaxRetryAfter caps a receiver's Retry-After.
	MaxRetryAfter time.Duration
	// FailureWebhookTimeout bounds on_failure webhooks.
	FailureWebhookTimeout time.Duration
	// UserAgent of every outbound request.
	UserAgent string
	// Notifier sends on_failure emails (nil: none are sent).
	Notifier *Notifier
	// Observer receives delivery measurements (nil: none).
	Observer Observer
	// Tracer records a span per attempt (nil: none).
	Tracer Tracer
	// Traces holds the trace context of request-created executions (nil:
	// every execution traces under its own id).
	Traces *TraceCarrier
	// ShutdownGrace is how long Run, once its context ends, lets attempts
	// in flight finish before it cancels them and releases their leases.
	ShutdownGrace time.Duration
	// ResultBuffer bounds the results kept for another try after their
	// store write failed; beyond it the oldest are dropped to lease expiry.
	ResultBuffer int
}

// DefaultDispatcherConfig returns production defaults.
func DefaultDispatcherConfig() DispatcherConfig {
	return DispatcherConfig{
		Concurrency: 256, BatchSize: 256, WebhookTimeout: 30 * time.Second, Lease: 60 * time.Second,
		IdlePoll: 250 * time.Millisecond, ClaimAhead: 100 * time.Millisecond, MaxRetryAfter: 6 * time.Hour, FailureWebhookTimeout: 10 * time.Second,
		UserAgent: DefaultUserAgent, ShutdownGrace: 10 * time.Second,
		ResultBuffer:    4096,
		BreakerFailures: 5, BreakerCooldown: 30 * time.Second, BreakerMaxCooldown: 10 * time.Minute,
	}
}

// DefaultPerDestination is the per-destination limit for a concurrency:
// an eighth of it, at least 4 (all of it when smaller: with so few slots
// a share would only slow a single destination down).
func DefaultPerDestination(concurrency int) int {
	return max(concurrency/8, min(concurrency, 4), 1)
}

// Dispatcher is the one delivery engine: it runs every registered
// DeliverySource (cue executions first) through one pool of Concurrency
// slots. It claims due jobs in batches under a lease, fairly: at most
// PerDestination in flight per destination, round-robin across
// destinations within a claim, saturated destinations skipped; free slots
// are refilled as soon as they free up while work is due. A circuit breaker
// per destination parks a failing destination's jobs (each parked job
// counts as a failed attempt, due again when the cool-down ends) so they
// hold no slot. Results are recorded in batches, kept across store blips.
// Delivery is at-least-once: a process that dies mid-attempt leaves a
// lease that expires, and the job is claimed again. Safe for concurrent use.
type Dispatcher struct {
	cfg       DispatcherConfig
	deliverer Deliverer
	clock     Clock
	log       Logger
	wake      chan struct{}

	mu      sync.Mutex
	wakeAt  time.Time // earliest due time announced by the scheduler
	due     *DueWaker // wakes at every announced due time
	sources []DeliverySource
	turn    int // the source that claims first in the next round

	dests *destinations
	exec  *executionSource
}

// DispatcherHooks connect the dispatcher to the rest of core; NewApplication
// sets them. A nil hook does nothing.
type DispatcherHooks struct {
	// Blocked says whether a scheduled delivery is blocked by the tenant's
	// monthly limit (UsageService.Blocked).
	Blocked func(ctx context.Context, d *Delivery) bool
	// Failed runs after a final failure was recorded (Alerts.RunFinished).
	Failed func(ctx context.Context, d *Delivery)
	// Succeeded runs, in the background, after a successful delivery was
	// recorded for an execution that needs no outcome check (verification
	// mode none and no required assertions): on-success chaining.
	Succeeded func(ctx context.Context, e *Execution, c *Cue)
}

// NewDispatcher wires the engine with cue executions as its first source.
func NewDispatcher(cfg DispatcherConfig, store ExecutionStore, deliverer Deliverer, box SecretBox, clock Clock, log Logger, hooks DispatcherHooks) *Dispatcher {
	def := DefaultDispatcherConfig()
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = def.Concurrency
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = def.BatchSize
	}
	if cfg.PerDestination <= 0 {
		cfg.PerDestination = DefaultPerDestination(cfg.Concurrency)
	}
	if cfg.PerDestination > cfg.Concurrency {
		cfg.PerDestination = cfg.Concurrency
	}
	if cfg.BreakerFailures <= 0 {
		cfg.BreakerFailures = def.BreakerFailures
	}
	if cfg.BreakerCooldown <= 0 {
		cfg.BreakerCooldown = def.BreakerCooldown
	}
	if cfg.BreakerMaxCooldown < cfg.BreakerCooldown {
		cfg.BreakerMaxCooldown = max(def.BreakerMaxCooldown, cfg.BreakerCooldown)
	}
	if cfg.WebhookTimeout <= 0 {
		cfg.WebhookTimeout = def.WebhookTimeout
	}
	if cfg.Lease <= cfg.WebhookTimeout {
		cfg.Lease = cfg.WebhookTimeout + 30*time.Second
	}
	if cfg.IdlePoll <= 0 {
		cfg.IdlePoll = def.IdlePoll
	}
	cfg.ClaimAhead = max(cfg.ClaimAhead, 0)
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = def.MaxRetryAfter
	}
	if cfg.FailureWebhookTimeout <= 0 {
		cfg.FailureWebhookTimeout = def.FailureWebhookTimeout
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = def.UserAgent
	}
	cfg.Observer = observerOr(cfg.Observer)
	cfg.Tracer = tracerOr(cfg.Tracer)
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = def.ShutdownGrace
	}
	if cfg.ResultBuffer <= 0 {
		cfg.ResultBuffer = def.ResultBuffer
	}
	d := &Dispatcher{cfg: cfg, deliverer: deliverer, clock: clock, log: log, wake: make(chan struct{}, 1)}
	d.dests = newDestinations(cfg)
	d.due = NewDueWaker(clock, d.Wake)
	d.exec = newExecutionSource(cfg, store, deliverer, box, clock, log, hooks)
	d.sources = []DeliverySource{d.exec}
	return d
}

// Register adds a kind of delivery to the engine; call it before Run
// (NewApplication registers the built-in sources).
func (d *Dispatcher) Register(src DeliverySource) {
	d.mu.Lock()
	d.sources = append(d.sources, src)
	d.mu.Unlock()
}

// Config is the effective configuration (defaults applied).
func (d *Dispatcher) Config() DispatcherConfig { return d.cfg }

// Wake makes an idle dispatcher look for work now.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// WakeAt asks the dispatcher to look for work at t: the scheduler
// announces every instant it materialized executions for (ahead of time),
// fires and message sends theirs, other replicas theirs over the change
// feed. Every announced instant wakes it (DueWaker), not only the earliest,
// so work due later than the next claim is not left to the idle poll.
func (d *Dispatcher) WakeAt(t time.Time) {
	d.mu.Lock()
	if d.wakeAt.IsZero() || t.Before(d.wakeAt) {
		d.wakeAt = t
	}
	d.mu.Unlock()
	if at := t.Add(-d.cfg.ClaimAhead); at.After(d.clock.Now()) {
		d.due.At(at)
	}
	d.Wake()
}

// Escalate runs the on_failure policy of a delivery that failed for good
// outside the dispatcher (worker leases, missed runs), in the background.
func (d *Dispatcher) Escalate(dl *Delivery, errorMessage string) { d.exec.Escalate(dl, errorMessage) }

// Wait blocks until background escalations finished (tests, shutdown).
func (d *Dispatcher) Wait() { d.exec.escalWG.Wait() }

// rotation returns the sources, starting with the one whose turn it is.
func (d *Dispatcher) rotation() []DeliverySource {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := len(d.sources)
	out := make([]DeliverySource, 0, n)
	for i := range n {
		out = append(out, d.sources[(d.turn+i)%n])
	}
	d.turn = (d.turn + 1) % n
	return out
}

// claim asks src for up to limit jobs under the current per-destination
// room; roomLimited reports whether some destination may have been held
// back (its room was below PerDestination, or the claim took all of it):
// a slot freeing up may then let more be claimed. again asks for the next
// claim at once: this one skipped parked destinations, whose jobs the next
// parks, or found a destination alone, which may then take more slots.
// alternate is false for RunOnce (every claim parks).
func (d *Dispatcher) claim(ctx context.Context, src DeliverySource, limit, free int, alternate bool) (jobs []*DeliveryJob, roomLimited, again bool, err error) {
	now := d.clock.Now()
	room, again := d.dests.room(now, free, alternate)
	c := &DeliveryClaim{Now: now, Lease: d.cfg.Lease, Limit: limit, PerDestination: d.cfg.PerDestination, Room: room}
	if alternate && d.cfg.ClaimAhead > 0 {
		c.DueBy = now.Add(d.cfg.ClaimAhead)
	}
	for _, r := range c.Room {
		if r != c.PerDestination {
			roomLimited = true
			break
		}
	}
	jobs, err = src.Claim(ctx, c)
	if err != nil {
		return nil, roomLimited, again, fmt.Errorf("dispatcher: claim %s: %w", src.Kind(), err)
	}
	for _, j := range jobs {
		j.source = src
	}
	per := d.dests.admit(c, jobs)
	for dest, n := range per {
		if n >= c.RoomFor(dest) {
			roomLimited = true
			break
		}
	}
	if d.dests.observe(per, c.RoomFor) {
		again = true // alone now: it may use more slots at once
	}
	return jobs, roomLimited, again, nil
}

// RunOnce claims one batch of due jobs from every source, delivers them and
// records the results; it returns how many were claimed. Tests drive it
// with a stub clock; Run uses the same steps continuously.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	total := 0
	for _, src := range d.rotation() {
		jobs, _, _, err := d.claim(ctx, src, d.cfg.BatchSize, d.cfg.Concurrency, false)
		if err != nil {
			return total, err
		}
		total += len(jobs)
		done := make([]*DeliveryAttempt, len(jobs))
		var wg sync.WaitGroup
		sem := make(chan struct{}, d.cfg.Concurrency)
		for i, j := range jobs {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				done[i] = d.attempt(ctx, j)
			}()
		}
		wg.Wait()
		if err := d.recordSource(ctx, src, done); err != nil {
			return total, err
		}
	}
	return total, nil
}

// shutdownMessage is the message of an attempt cut short by shutdown.
const shutdownMessage = "Delivery interrupted by shutdown; retried at once"

// errShutdown cancels the attempts still in flight when the shutdown grace
// ran out.
var errShutdown = errors.New("dispatcher: shutdown grace elapsed")

// refillWindow is how long a claim waits for more slots to free up once
// one did (so a busy engine claims a few at a time, not one per finished
// attempt); never longer while work is due.
const refillWindow = 5 * time.Millisecond

// Run delivers until ctx ends. A claimer keeps up to Concurrency attempts in
// flight, refilling slots as they free up; a recorder writes results in
// batches. When ctx ends Run stops claiming, lets attempts in flight finish
// for up to ShutdownGrace, then cancels the rest and releases their leases
// (AttemptReleased), records what it has and returns.
func (d *Dispatcher) Run(ctx context.Context) {
	resCh := make(chan *DeliveryAttempt, d.cfg.Concurrency)
	var busy atomic.Int64
	var inflight sync.WaitGroup
	recDone := make(chan struct{})
	go func() {
		defer close(recDone)
		d.recordLoop(resCh)
	}()
	defer d.due.Stop()
	attemptCtx, cancelAttempts := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelAttempts(nil)
	defer func() {
		done := make(chan struct{})
		go func() {
			inflight.Wait()
			close(done)
		}()
		grace := time.NewTimer(d.cfg.ShutdownGrace)
		defer grace.Stop()
		select {
		case <-done:
		case <-grace.C:
			d.log.Warn("dispatcher shutdown grace elapsed; cancelling attempts in flight and releasing their leases", "grace", d.cfg.ShutdownGrace.String())
			cancelAttempts(errShutdown)
			<-done
		}
		close(resCh)
		<-recDone
		// Escalations started by other components (the sweeper) may still
		// be added; the owner waits for them with Wait once every producer
		// has stopped.
	}()
	threshold := max(min(d.cfg.BatchSize, d.cfg.Concurrency)/4, 1)
	freed := make(chan struct{}, 1)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		free := d.cfg.Concurrency - int(busy.Load())
		if free <= 0 {
			select {
			case <-freed:
			case <-ctx.Done():
				return
			}
			continue
		}
		if free < threshold && busy.Load() > 0 {
			// Let a few more attempts finish, briefly, before claiming.
			t := time.NewTimer(refillWindow)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
			free = d.cfg.Concurrency - int(busy.Load())
		}
		more, roomLimited := false, false
		var claimErr error
		for _, src := range d.rotation() {
			if free <= 0 {
				more = true
				break
			}
			limit := min(free, d.cfg.BatchSize)
			jobs, limited, again, err := d.claim(ctx, src, limit, free, true)
			if err != nil {
				claimErr = err
				continue
			}
			roomLimited = roomLimited || limited
			if len(jobs) == limit || again {
				more = true
			}
			free -= len(jobs)
			for _, j := range jobs {
				busy.Add(1)
				inflight.Add(1)
				go func() {
					defer inflight.Done()
					// Attempts outlive a shutdown request by at most the
					// shutdown grace, so results are recorded rather than
					// left to lease expiry.
					resCh <- d.attempt(attemptCtx, j)
					busy.Add(-1)
					select {
					case freed <- struct{}{}:
					default:
					}
				}()
			}
		}
		if claimErr != nil {
			if ctx.Err() != nil {
				return
			}
			d.log.Error("dispatcher claim failed", "err", claimErr)
			d.sleep(ctx, backoff, nil)
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		if more {
			continue // more may be due
		}
		// Nothing more is due, except for destinations held back: a slot
		// freeing up may make room for them.
		var wakeOnFree <-chan struct{}
		if roomLimited {
			wakeOnFree = freed
		}
		d.sleep(ctx, d.idleWait(), wakeOnFree)
	}
}

// idleWait is how long to sleep when nothing is due: until the earliest
// announced due time, at most IdlePoll.
func (d *Dispatcher) idleWait() time.Duration {
	wait := d.cfg.IdlePoll
	d.mu.Lock()
	if !d.wakeAt.IsZero() {
		if w := d.wakeAt.Add(-d.cfg.ClaimAhead).Sub(d.clock.Now()); w < wait {
			wait = w
		}
		if wait <= 0 {
			d.wakeAt = time.Time{}
		}
	}
	d.mu.Unlock()
	if open := d.dests.nextReopen(d.clock.Now()); open > 0 && open < wait {
		wait = open
	}
	return wait
}

func (d *Dispatcher) sleep(ctx context.Context, wait time.Duration, freed <-chan struct{}) {
	if wait <= 0 {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-d.wake:
	case <-freed:
	case <-t.C:
	}
}

// attempt makes one attempt of a claimed job (or parks or hands it back
// without sending) and settles it with its source.
func (d *Dispatcher) attempt(ctx context.Context, j *DeliveryJob) *DeliveryAttempt {
	src := j.source
	if wait := j.NotBefore.Sub(d.clock.Now()); wait > 0 {
		// Claimed ahead: sent at its due time. A shutdown lets it wait
		// (within the grace); a cancelled ctx ends the wait and the send
		// below fails as interrupted.
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	now := d.clock.Now()
	a := &DeliveryAttempt{Job: j, Started: now}
	gate, until := d.dests.begin(j.Destination, j.admitted, now)
	switch gate {
	case gatePark:
		a.Outcome, a.NotBefore, a.At = AttemptParked, until, now
		a.Message = "Destination unavailable: circuit breaker open after repeated failures"
		src.Settle(a)
		return a
	case gateBusy:
		a.Outcome, a.At = AttemptReleased, now
		a.Message = "Destination busy; handed back"
		src.Settle(a)
		return a
	}
	health := healthNeutral
	defer func() { d.dests.end(j.Destination, gate == gateProbe, health, a.NotBefore, d.clock.Now()) }()
	req, err := src.Request(ctx, j, now)
	if err != nil {
		d.log.Error("delivery request not built", "kind", src.Kind(), "id", j.ID, "err", err)
		a.Outcome, a.Err, a.Message, a.At = AttemptFailed, err, "Webhook delivery failed", d.clock.Now()
		src.Settle(a)
		return a
	}
	if req == nil {
		a.Outcome, a.At = AttemptSkipped, d.clock.Now()
		src.Settle(a)
		return a
	}
	sctx, endSpan := ctx, func(error) {}
	if j.Span != "" {
		sctx, endSpan = d.cfg.Tracer.Start(WithTrace(ctx, j.Trace), j.Span, SpanClient,
			SpanAttr{"http.request.method", req.Method}, SpanAttr{"cueapi.attempt", strconv.Itoa(j.Attempt)})
		req.Header = withTraceHeaders(sctx, req.Header)
	}
	resp, err := d.deliverer.Send(sctx, req)
	switch {
	case err != nil && errors.Is(context.Cause(ctx), errShutdown):
		a.Outcome, a.Err = AttemptReleased, err
		a.Message = shutdownMessage
		endSpan(errors.New("interrupted by shutdown"))
	case err != nil:
		a.Outcome, a.Err, a.Message = AttemptFailed, err, "Webhook delivery failed"
		var de *DeliveryError
		if errors.As(err, &de) {
			a.Message = de.Message
			if de.Kind != DeliveryBlocked {
				health = healthSick
			}
		} else {
			health = healthSick
		}
		endSpan(errors.New(a.Message))
	case resp.Status >= 200 && resp.Status < 300:
		a.Outcome, a.Status, a.Body = AttemptDelivered, resp.Status, resp.Body
		health = healthOK
		endSpan(nil)
	default:
		a.Outcome, a.Status, a.Body = AttemptFailed, resp.Status, resp.Body
		a.Message = httpErrorMessage(resp.Status)
		if (resp.Status == 429 || resp.Status == 503) && resp.RetryAfter > 0 {
			a.NotBefore = d.clock.Now().Add(min(resp.RetryAfter, d.cfg.MaxRetryAfter))
		}
		health = healthOK // it answered
		if resp.Status == 429 || resp.Status >= 500 {
			health = healthSick
		}
		endSpan(errors.New(a.Message))
	}
	a.At = d.clock.Now()
	src.Settle(a)
	return a
}

// recordSource records one source's attempts.
func (d *Dispatcher) recordSource(ctx context.Context, src DeliverySource, done []*DeliveryAttempt) error {
	if len(done) == 0 {
		return nil
	}
	if _, err := src.Record(ctx, d.clock.Now(), done); err != nil {
		return fmt.Errorf("dispatcher: record %s: %w", src.Kind(), err)
	}
	return nil
}

// recordLoop batches results: it flushes when 256 are waiting or 5 ms after
// the first of a batch arrived, one Record per source. Up to two flushes
// run at once (each locks its rows in a fixed order, so concurrent flushes
// cannot deadlock). Results whose write failed are kept in order (at most
// ResultBuffer) and written again with backoff while their leases last, so
// a store outage shorter than the lease sends nothing twice; what is
// dropped, or lost in a crash, is retried after lease expiry
// (at-least-once).
func (d *Dispatcher) recordLoop(in <-chan *DeliveryAttempt) {
	const maxBatch = 256
	var (
		buf     []*DeliveryAttempt
		timer   *time.Timer
		tick    <-chan time.Time
		retryT  *time.Timer
		retryC  <-chan time.Time
		flushes sync.WaitGroup
		sem     = make(chan struct{}, 2)
		kept    = &keptResults{max: d.cfg.ResultBuffer, kick: make(chan struct{}, 1)}
	)
	write := func(batch []*DeliveryAttempt, retry bool, timeout time.Duration) {
		sem <- struct{}{}
		flushes.Add(1)
		go func() {
			defer flushes.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			var failed []*DeliveryAttempt
			for _, g := range bySource(batch) {
				if err := d.recordSource(ctx, g[0].Job.source, g); err != nil {
					d.log.Error("dispatcher record failed; keeping the results to write again", "err", err, "count", len(g))
					failed = append(failed, g...)
				}
			}
			if len(failed) > 0 {
				d.keep(kept, failed, retry)
				return
			}
			kept.succeeded()
			if handedBack(batch) {
				d.Wake() // due again at once: claim it now, not at the idle poll
			}
		}()
	}
	flush := func() {
		if len(buf) == 0 {
			return
		}
		batch := buf
		buf = nil
		if timer != nil {
			timer.Stop()
			timer, tick = nil, nil
		}
		write(batch, false, 30*time.Second)
	}
	for {
		select {
		case r, ok := <-in:
			if !ok {
				flush()
				flushes.Wait()
				if retryT != nil {
					retryT.Stop()
				}
				// Shutdown: one last try within the grace, then lease expiry.
				if batch := d.takeKept(kept, d.cfg.ResultBuffer); len(batch) > 0 {
					ctx, cancel := context.WithTimeout(context.Background(), d.cfg.ShutdownGrace)
					for _, g := range bySource(batch) {
						if err := d.recordSource(ctx, g[0].Job.source, g); err != nil {
							d.log.Warn("dispatcher results not written at shutdown; their jobs are retried after lease expiry", "err", err, "count", len(g))
						}
					}
					cancel()
				}
				return
			}
			buf = append(buf, r)
			if len(buf) >= maxBatch {
				flush()
			} else if timer == nil {
				timer = time.NewTimer(5 * time.Millisecond)
				tick = timer.C
			}
		case <-tick:
			timer, tick = nil, nil
			flush()
		case <-kept.kick:
			if retryT == nil {
				retryT = time.NewTimer(kept.wait())
				retryC = retryT.C
			}
		case <-retryC:
			retryT, retryC = nil, nil
			if batch := d.takeKept(kept, maxBatch); len(batch) > 0 {
				write(batch, true, 30*time.Second)
			}
		}
	}
}

// handedBack reports whether a batch holds an attempt handed back without
// a result (AttemptReleased), which is due again at once.
func handedBack(batch []*DeliveryAttempt) bool {
	for _, a := range batch {
		if a.Outcome == AttemptReleased {
			return true
		}
	}
	return false
}

// bySource splits attempts by source, keeping their order.
func bySource(batch []*DeliveryAttempt) [][]*DeliveryAttempt {
	var groups [][]*DeliveryAttempt
	idx := map[DeliverySource]int{}
	for _, a := range batch {
		i, ok := idx[a.Job.source]
		if !ok {
			i = len(groups)
			idx[a.Job.source] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], a)
	}
	return groups
}

// keptResults holds attempts whose store write failed, oldest first.
type keptResults struct {
	mu      sync.Mutex
	q       []*DeliveryAttempt
	max     int
	backoff time.Duration
	kick    chan struct{}
}

// keep stores a batch that failed to be written: a retried batch goes back
// to the front (it is the oldest), a new one to the back. Beyond the bound
// the oldest are dropped to lease expiry.
func (d *Dispatcher) keep(k *keptResults, batch []*DeliveryAttempt, retry bool) {
	k.mu.Lock()
	if retry {
		k.q = append(append([]*DeliveryAttempt{}, batch...), k.q...)
	} else {
		k.q = append(k.q, batch...)
	}
	dropped := 0
	if over := len(k.q) - k.max; over > 0 {
		dropped = over
		k.q = append([]*DeliveryAttempt{}, k.q[over:]...)
	}
	switch {
	case k.backoff == 0:
		k.backoff = 100 * time.Millisecond
	case k.backoff < 5*time.Second:
		k.backoff *= 2
	}
	k.mu.Unlock()
	if dropped > 0 {
		d.log.Warn("dispatcher result buffer full; dropped the oldest results, their jobs are retried after lease expiry", "dropped", dropped, "buffer", k.max)
	}
	k.signal()
}

// succeeded resets the backoff after a write and asks for the next kept
// batch, if any.
func (k *keptResults) succeeded() {
	k.mu.Lock()
	k.backoff = 0
	more := len(k.q) > 0
	k.mu.Unlock()
	if more {
		k.signal()
	}
}

func (k *keptResults) signal() {
	select {
	case k.kick <- struct{}{}:
	default:
	}
}

func (k *keptResults) wait() time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.backoff
}

// takeKept takes up to n kept results, with a WARN for those whose lease
// expired meanwhile.
func (d *Dispatcher) takeKept(k *keptResults, n int) []*DeliveryAttempt {
	batch, expired := k.take(d.clock.Now(), n)
	if expired > 0 {
		d.log.Warn("dispatcher results not written before their leases expired; their jobs are retried", "count", expired)
	}
	return batch
}

// take removes up to n of the oldest kept results whose lease has not yet
// expired at now (an expired one may already be claimed by another
// process: writing it would be fenced off anyway).
func (k *keptResults) take(now time.Time, n int) (batch []*DeliveryAttempt, expired int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	live := k.q[:0]
	for _, r := range k.q {
		if lu := r.Job.LeaseUntil; lu.IsZero() || now.Before(lu) {
			live = append(live, r)
		}
	}
	expired = len(k.q) - len(live)
	clear(k.q[len(live):])
	k.q = live
	if n > len(k.q) {
		n = len(k.q)
	}
	batch = append([]*DeliveryAttempt{}, k.q[:n]...)
	k.q = append([]*DeliveryAttempt{}, k.q[n:]...)
	return batch, expired
}
