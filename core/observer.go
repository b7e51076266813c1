package core

import "time"

// Observer receives operational measurements from the services (metrics).
// Every argument is low-cardinality by construction: route templates,
// fixed outcome names, counts and durations — never a tenant, cue or
// execution id. Implementations must be cheap and safe for concurrent use;
// NopObserver is the default.
type Observer interface {
	// HTTPRequest: one API request finished. route is the contract's path
	// template ("/v1/cues/{cue_id}"), "other" when none matched.
	HTTPRequest(method, route string, status int, elapsed time.Duration)
	// CueFired: the scheduler materialized one occurrence lag after it was
	// due (zero when it was materialized ahead of time).
	CueFired(lag time.Duration)
	// DeliveryLag: a scheduled execution's first attempt started lag after
	// the execution was due (end-to-end lateness of the engine).
	DeliveryLag(lag time.Duration)
	// DeliveryStarted and DeliveryFinished bracket one webhook attempt.
	DeliveryStarted()
	DeliveryFinished(outcome DeliveryOutcome, elapsed time.Duration)
	// WorkerClaimed: a worker claimed an execution.
	WorkerClaimed()
	// LeaseExpired: a lease ran out (kind "delivery", "worker" or
	// "unclaimed").
	LeaseExpired(kind string)
	// OutcomeRecorded: an outcome was reported or verified and the
	// execution is now in state.
	OutcomeRecorded(state OutcomeState)
	// AlertDelivered: one alert webhook attempt (ok: 2xx).
	AlertDelivered(ok bool)
	// MailSent: one email left for the relay (ok) or was given up after its
	// retries (!ok). kind is one of the Mail* kinds.
	MailSent(kind string, ok bool)
}

// DeliveryOutcome classifies one webhook attempt.
type DeliveryOutcome string

// Delivery outcomes.
const (
	DeliverySuccess     DeliveryOutcome = "success"      // 2xx
	DeliveryRetry       DeliveryOutcome = "retry"        // failed, another attempt is scheduled
	DeliveryFailed      DeliveryOutcome = "failed"       // failed, no attempt left
	DeliveryTimedOut    DeliveryOutcome = "timeout"      // the receiver did not answer in time
	DeliveryBlockedSSRF DeliveryOutcome = "blocked_ssrf" // the SSRF guard refused the destination
)

// NopObserver discards every measurement.
type NopObserver struct{}

// HTTPRequest implements Observer.
func (NopObserver) HTTPRequest(string, string, int, time.Duration) {}

// CueFired implements Observer.
func (NopObserver) CueFired(time.Duration) {}

// DeliveryLag implements Observer.
func (NopObserver) DeliveryLag(time.Duration) {}

// DeliveryStarted implements Observer.
func (NopObserver) DeliveryStarted() {}

// DeliveryFinished implements Observer.
func (NopObserver) DeliveryFinished(DeliveryOutcome, time.Duration) {}

// WorkerClaimed implements Observer.
func (NopObserver) WorkerClaimed() {}

// LeaseExpired implements Observer.
func (NopObserver) LeaseExpired(string) {}

// OutcomeRecorded implements Observer.
func (NopObserver) OutcomeRecorded(OutcomeState) {}

// AlertDelivered implements Observer.
func (NopObserver) AlertDelivered(bool) {}

// MailSent implements Observer.
func (NopObserver) MailSent(string, bool) {}

// observerOr returns o, or NopObserver when o is nil.
func observerOr(o Observer) Observer {
	if o == nil {
		return NopObserver{}
	}
	return o
}

// PoolStats is one store connection pool at one instant (metrics).
type PoolStats struct {
	// Pool names the pool ("main"; SQLite: "write" and "read").
	Pool             string
	Max, InUse, Idle int
	WaitCount        int64         // acquisitions that had to wait, ever
	WaitDuration     time.Duration // their total wait
}
