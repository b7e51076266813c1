// Package workerd is the pull-worker daemon run by `cueapi worker` (the Go
// counterpart of the reference's Python cueapi-worker). See docs/worker.md
// for the operator's view; the decisions that matter for correctness are:
//
//   - Work is claimed by id (POST /v1/executions/{id}/claim) only for
//     executions whose cue name, or else payload "task", has a handler, and
//     only while a concurrency slot is free, so a claimed execution never
//     waits in this process.
//   - While a job runs, the execution heartbeat renews the claim's lease every
//     lease/3. The lease is the safety net: whatever this process fails to
//     report (crash, kill -9, drain expiry) goes back to the claimable pool
//     when the lease runs out.
//   - Jobs run in their own process group; a timeout or a drain expiry sends
//     SIGTERM to the whole group, then SIGKILL after KillGrace.
//   - Outcomes are retried on transport errors, 429 and 5xx; 409 means one is
//     already recorded (outcomes are write-once), which is final.
//
// Where it lives: workerd is a client of the HTTP API, not a part of the
// server. It talks to a cueapi server only through the generated client
// (api/apiclient) and imports neither core, the server (api) nor any
// adapter, so it could ship as a binary of its own. cmd/cueapi keeps the
// command line: flags, the environment, signals and the logger.
//
// It runs on unix only (jobs run in their own process group); elsewhere
// Run reports that it is unsupported.
package workerd
