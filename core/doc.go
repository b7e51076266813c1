// Package core is the domain of cueapi: tenants (users), cues and their
// schedules, executions and their leases, outcomes with evidence, workers and
// alerts, together with the services that implement the use cases and the
// ports (Store, RateLimiter, AuthCache, Deliverer, Dialer, URLGuard,
// SecretBox, Pinger, Mailer, Clock) that adapters implement.
// NewApplication (app.go) builds and connects every service over the ports.
//
// One file per entity holds its type, its rules, its service and its store
// port: user.go (UserStore), cue.go (CueStore), execution.go
// (ExecutionStore: executions and delivery claims), worker.go
// (WorkerStore), alert.go (AlertStore), usage.go (UsageStore), echo.go
// (EchoStore), devicecode.go (DeviceCodeStore), scheduler.go
// (SchedulerStore), agent.go (AgentStore), message.go (MessageStore; push
// delivery in message_push.go); store.go embeds them all in Store for
// wiring.
// adapters/postgres, adapters/sqlite, coretest and api use the same file
// names. Store adapters only persist: every decision is computed here and
// handed to them as data.
//
// Vocabulary:
//
//   - Tenant: a user account. Every stored row belongs to exactly one tenant and
//     every Store method takes the tenant explicitly; another tenant's row is
//     indistinguishable from a missing one (ErrNotFound).
//   - Cue: a schedule (cron in an IANA time zone, or once at an instant), a
//     transport (webhook or worker), a payload and policies (retry, on_failure,
//     verification, catch-up).
//   - Execution: one occurrence of a cue. Its delivery status (pending →
//     delivering → success/failed …) and its outcome (reported by the handler)
//     are tracked separately.
//   - Lease: while an execution is being delivered or is claimed by a worker it
//     carries a lease expiry; an expired lease puts it back in line with the
//     attempt counted.
//   - Agent: an addressable messaging endpoint of a tenant ("agt_…" or
//     "agent_slug@user_slug"); Message: one message between agents, read by
//     polling the recipient's inbox or pushed to its webhook by the same
//     delivery engine as executions.
//
// core imports no adapter, no generated API code, no database driver and not
// net/http. Time always comes from a Clock.
package core
