package core

import "context"

// Store is the whole persistence port, for wiring: one small port per
// entity, each declared in that entity's file (user.go, cue.go,
// execution.go, worker.go, alert.go, usage.go, echo.go, devicecode.go,
// scheduler.go). Services take only the ports they use.
//
// Every method is safe for concurrent use. Methods that read or change
// tenant data take the tenant explicitly and return ErrNotFound for another
// tenant's rows. Unique violations surface as ErrConflict. Times are UTC
// with microsecond precision. Each method is atomic: multi-row changes
// (create with limit check, read-modify-write) run in one transaction inside
// the adapter. Adapters only persist: every decision (statuses, retry
// times, cue and usage effects, month boundaries, limits) is computed in
// core and handed to the store as data.
type Store interface {
	AgentStore
	AlertStore
	CueStore
	DeviceCodeStore
	EchoStore
	EventStore
	ExecutionStore
	IdempotencyStore
	MessageStore
	SchedulerStore
	UsageStore
	UserStore
	WorkerStore

	// Close releases the store's resources.
	Close() error
	// Ping checks the database is reachable.
	Ping(ctx context.Context) error
}
