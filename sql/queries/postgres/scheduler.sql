-- name: SchedulerHeartbeatPut :exec
INSERT INTO scheduler_heartbeats (instance_id, last_run, cues_last_cycle, cycle_duration_ms)
VALUES (@instance_id, @last_run, @cues_last_cycle, @cycle_duration_ms)
ON CONFLICT (instance_id) DO UPDATE SET
    last_run = excluded.last_run,
    cues_last_cycle = excluded.cues_last_cycle,
    cycle_duration_ms = excluded.cycle_duration_ms;

-- name: SchedulerHeartbeatLatest :one
SELECT * FROM scheduler_heartbeats ORDER BY last_run DESC, instance_id LIMIT 1;

-- name: TxAsyncCommit :exec
-- Makes the current transaction's commit asynchronous (no WAL flush wait).
-- Used only where losing the commit in a crash is harmless: claims (the
-- execution is simply claimed again) and firing (re-fired idempotently).
SELECT set_config('synchronous_commit', 'off', true);
