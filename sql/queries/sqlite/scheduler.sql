-- name: SchedulerHeartbeatPut :exec
INSERT INTO scheduler_heartbeats (instance_id, last_run, cues_last_cycle, cycle_duration_ms)
VALUES (@instance_id, @last_run, @cues_last_cycle, @cycle_duration_ms)
ON CONFLICT (instance_id) DO UPDATE SET
    last_run = excluded.last_run,
    cues_last_cycle = excluded.cues_last_cycle,
    cycle_duration_ms = excluded.cycle_duration_ms;

-- name: SchedulerHeartbeatLatest :one
SELECT * FROM scheduler_heartbeats ORDER BY last_run DESC, instance_id LIMIT 1;
