-- 0004: hosted cue fields, fire options, on-success chaining and durable
-- idempotency keys (PostgreSQL).
--
-- cues.options holds the hosted cue fields (require_payload_override,
-- required_payload_keys, delivery, alerts, verification.required_assertions,
-- on_success_fire) as one JSON object; executions.payload is the effective
-- payload snapshotted at fire time (NULL: the cue's payload) and
-- executions.options the fire options, chain position and outcome
-- assertions.
ALTER TABLE cues ADD COLUMN options jsonb NOT NULL DEFAULT '{}';
ALTER TABLE executions ADD COLUMN payload jsonb;
ALTER TABLE executions ADD COLUMN options jsonb NOT NULL DEFAULT '{}';

-- One row per (user, scope, key): scope is 'cues.create', 'fire:<cue id>'
-- or 'chain:<source execution id>'. A row older than the 24 h window is
-- replaced by the next request that uses its key. cue_id is the created or
-- fired cue, so deleting the cue deletes its keys.
CREATE TABLE idempotency_keys (
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope        text        NOT NULL,
    key          text        NOT NULL,
    fingerprint  text        NOT NULL,
    cue_id       text        NOT NULL REFERENCES cues (id) ON DELETE CASCADE,
    execution_id uuid,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (user_id, scope, key)
);
CREATE INDEX idempotency_keys_cue_id_idx ON idempotency_keys (cue_id);
