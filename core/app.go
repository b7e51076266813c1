package core

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
)

// Ports are the adapters the application runs on; cmd/cueapi builds them.
type Ports struct {
	Store     Store
	Limiter   RateLimiter
	AuthCache AuthCache
	Deliverer Deliverer
	Box       SecretBox
	Guard     URLGuard
	Clock     Clock
	Log       Logger
	// Mailer sends magic links; nil when no email provider is configured.
	Mailer Mailer
	// Redis is probed by /health; nil when Redis is not configured.
	Redis Pinger
	// Mail relays the service's emails (magic links when Mailer is nil,
	// on_failure, alerts, rotation notices); nil: no email.
	Mail MailSender
	// Observer receives measurements (metrics); nil: none.
	Observer Observer
	// Tracer records spans; nil: none (the trace context still travels).
	Tracer Tracer
	// Changes is the change feed the store publishes on (it wakes held
	// event long-polls on every replica); nil: polls re-read every second.
	Changes ChangeFeed
	// MessageEvents is told when a message becomes delivered; nil: nobody.
	MessageEvents MessageEvents
}

// ApplicationConfig holds every service's policies.
type ApplicationConfig struct {
	Accounts AccountsConfig
	// SessionSecret signs session tokens (SESSION_SECRET).
	SessionSecret string
	Cues          CuesConfig
	Scheduler     SchedulerConfig
	Dispatcher    DispatcherConfig
	Workers       WorkersConfig
	DeviceLogin   DeviceLoginConfig
	Health        HealthConfig
	Notifier      NotifierConfig
	Events        EventsConfig
	Messaging     MessagingConfig
}

// Application is every core service, wired to each other and to the ports.
// The HTTP layer calls the use-case services; Run drives the engine
// (scheduler, dispatcher — every kind of delivery, alert webhooks included —
// and sweeps).
type Application struct {
	Accounts    *Accounts
	Cues        *Cues
	Executions  *Executions
	Workers     *Workers
	Outcomes    *Outcomes
	Alerts      *Alerts
	Usage       *UsageService
	Echo        *Echo
	DeviceLogin *DeviceLogin
	Health      *Health
	// Notifier sends the service's emails; nil without Ports.Mail.
	Notifier   *Notifier
	Scheduler  *Scheduler
	Dispatcher *Dispatcher
	Sweeper    *Sweeper
	// Events is the agent event feed and subscriptions; EventHub wakes its
	// long-polls; EventJobs runs digests and retention.
	Events    *Events
	EventHub  *EventHub
	EventJobs *EventJobs
	// Agents and Messages are the messaging services; MessageSweeper runs
	// the message lifetime jobs.
	Agents         *Agents
	Messages       *Messages
	MessageSweeper *MessageSweeper

	log Logger
}

// sweepEvery is the period of the worker sweep.
const sweepEvery = time.Second

// messageSweepEvery is the period of the message lifetime jobs.
const messageSweepEvery = time.Minute

// NewApplication builds the whole application. This is where the services
// are connected; nothing is set on them afterwards:
//
//   - a cue created, changed or resumed wakes the scheduler;
//   - a tick that fired executions wakes the dispatcher at the earliest due
//     time, and so does a manual execution (fire, replay);
//   - the dispatcher asks usage whether the tenant's monthly limit blocks a
//     scheduled delivery, and tells alerts about every final failure;
//   - the sweeper hands expired worker claims and missed runs to the
//     dispatcher's escalation and to alerts.
func NewApplication(cfg ApplicationConfig, p Ports) (*Application, error) {
	var missing []string
	for name, set := range map[string]bool{
		"Store": p.Store != nil, "Limiter": p.Limiter != nil, "AuthCache": p.AuthCache != nil,
		"Deliverer": p.Deliverer != nil, "Box": p.Box != nil, "Guard": p.Guard != nil, "Clock": p.Clock != nil, "Log": p.Log != nil,
	} {
		if !set {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, errors.New("core.NewApplication: missing ports: " + strings.Join(missing, ", "))
	}
	a := &Application{}
	// Operations: email, measurements, trace context. Each is optional.
	if p.Mail != nil {
		cfg.Notifier.Observer = p.Observer
		a.Notifier = NewNotifier(cfg.Notifier, p.Mail, p.Store, p.Limiter, p.Clock, p.Log)
	}
	traces := NewTraceCarrier(100_000, time.Hour)
	cfg.Accounts.Notifier = a.Notifier
	cfg.Scheduler.Observer = p.Observer
	cfg.Workers.Observer = p.Observer
	cfg.Dispatcher.Notifier, cfg.Dispatcher.Observer, cfg.Dispatcher.Tracer, cfg.Dispatcher.Traces = a.Notifier, p.Observer, p.Tracer, traces
	mailer := p.Mailer // magic links: a test's mailer, else the notifier
	if mailer == nil && a.Notifier != nil {
		mailer = a.Notifier
	}

	a.Usage = NewUsage(p.Store, p.Store, p.Limiter, p.Clock)
	a.Alerts = NewAlerts(p.Store, p.Deliverer, p.Box, p.Clock, p.Log)
	a.Alerts.notifier, a.Alerts.obs = a.Notifier, observerOr(p.Observer)
	a.Dispatcher = NewDispatcher(cfg.Dispatcher, p.Store, p.Deliverer, p.Box, p.Clock, p.Log, DispatcherHooks{
		Blocked:   func(ctx context.Context, d *Delivery) bool { return a.Usage.Blocked(ctx, d.Execution.TenantID) },
		Failed:    func(ctx context.Context, d *Delivery) { a.Alerts.RunFinished(ctx, d.Execution.TenantID, d.Cue) },
		Succeeded: func(ctx context.Context, e *Execution, c *Cue) { a.chain(ctx, e, c) },
	})
	// Alert webhooks are delivered by the same engine, under the same
	// per-destination limits and circuit breaker.
	a.Dispatcher.Register(a.Alerts.Source())
	a.Alerts.wake = a.Dispatcher.Wake
	a.Scheduler = NewScheduler(cfg.Scheduler, p.Store, p.Clock, p.Log, a.Dispatcher.WakeAt)
	a.Accounts = NewAccounts(cfg.Accounts, p.Store, p.AuthCache, p.Box, p.Guard, NewSessions(cfg.SessionSecret), p.Clock, p.Log)
	a.Cues = NewCues(cfg.Cues, p.Store, p.Guard, p.Clock, a.Scheduler.Wake)
	a.Executions = NewExecutions(p.Store, p.Clock, a.Dispatcher.Wake)
	a.Executions.traces = traces
	a.Workers = NewWorkers(cfg.Workers, p.Store, p.Clock)
	a.Outcomes = NewOutcomes(p.Store, a.Alerts, p.Clock, a.chain)
	a.Outcomes.obs = observerOr(p.Observer)
	a.log = p.Log
	a.Echo = NewEcho(p.Store, p.Limiter, p.Clock)
	a.DeviceLogin = NewDeviceLogin(cfg.DeviceLogin, p.Store, p.Store, a.Accounts, p.Limiter, mailer, p.Clock, p.Log)
	a.Sweeper = NewSweeper(p.Store, cfg.Workers, a.Dispatcher, a.Alerts, p.Clock, p.Log)
	a.Health = NewHealth(cfg.Health, p.Store, p.Redis, p.Clock)
	a.Agents = NewAgents(p.Store, p.Store, p.Guard, p.Box, p.Clock)
	changes := p.Changes
	if changes == nil {
		changes = NewLocalFeed()
	}
	a.EventHub = NewEventHub(changes)
	a.Events = NewEvents(cfg.Events, p.Store, func(ctx context.Context, tenant TenantID, ref string) (string, error) {
		ag, err := a.Agents.ResolveOwned(ctx, tenant, ref, false)
		if err != nil {
			return "", err
		}
		return string(ag.ID), nil
	}, p.Guard, p.Box, p.Clock, a.EventHub, p.Log)
	a.EventJobs = NewEventJobs(cfg.Events, p.Store, p.Clock, p.Log)
	// Webhook subscriptions go out through the one delivery engine.
	a.Dispatcher.Register(newSubscriptionSource(p.Store, p.Box, p.Clock, p.Log, cfg.Events.Priority4Debounce, a.Dispatcher.Config().UserAgent))
	cfg.Messaging.Emit = a.Events.MessageEvents
	cfg.Messaging.Events = p.MessageEvents
	a.Messages = NewMessages(cfg.Messaging, p.Store, a.Agents, p.Limiter, p.Clock, p.Log, a.Dispatcher.WakeAt)
	// Message pushes are one more source of the one delivery engine.
	a.Dispatcher.Register(NewMessagePushSource(p.Store, a.Agents, a.Dispatcher.Config(), cfg.Messaging.PushUserCap, p.MessageEvents, p.Log))
	a.MessageSweeper = NewMessageSweeper(p.Store, p.Clock, p.Log)
	return a, nil
}

// chain fires the on_success_fire target of a succeeded execution; a
// failure is logged (the source execution's success stands).
func (a *Application) chain(ctx context.Context, e *Execution, c *Cue) {
	if _, err := a.Executions.Chain(ctx, e, c); err != nil {
		a.log.Error("on_success_fire: chained fire failed", "execution_id", string(e.ID), "cue_id", string(c.ID), "err", err)
	}
}

// Run runs the scheduler, the dispatcher (cue executions and alert
// webhooks) and the worker sweep until ctx ends. wait returns once they all stopped and the
// last escalations finished.
func (a *Application) Run(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	for _, run := range []func(){
		func() { a.Scheduler.Run(ctx) },
		func() { a.Dispatcher.Run(ctx) },
		func() { a.Sweeper.Run(ctx, sweepEvery) },
		func() { a.EventHub.Run(ctx) },
		func() { a.EventJobs.Run(ctx, sweepEvery) },
		func() { a.MessageSweeper.Run(ctx, messageSweepEvery) },
	} {
		wg.Add(1)
		go func() { defer wg.Done(); run() }()
	}
	// The notifier outlives the producers: it stops (sending what is still
	// queued) once the last escalation queued its email.
	nctx, stopNotifier := context.WithCancel(context.WithoutCancel(ctx))
	notified := make(chan struct{})
	go func() { defer close(notified); a.Notifier.Run(nctx) }()
	return func() {
		wg.Wait()
		// Every producer of escalations has stopped: wait for the last ones.
		a.Dispatcher.Wait()
		stopNotifier()
		<-notified
	}
}
