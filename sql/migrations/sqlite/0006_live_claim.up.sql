-- 0006: live-claim attestation (clients.md §2.4.8, C10) (SQLite).
--
-- The session token that attested the execution (at most 128 characters,
-- never returned by the API) and when it did; both NULL until attested.
ALTER TABLE executions ADD COLUMN live_claim_session_token TEXT
    CHECK (length(live_claim_session_token) <= 128);
ALTER TABLE executions ADD COLUMN live_claimed_at TEXT;
