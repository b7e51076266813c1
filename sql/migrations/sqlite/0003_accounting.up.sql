-- 0003: indexes of the accounting store (SQLite).
--
-- The hourly purge deletes device codes and echo entries by expiry; both
-- tables otherwise are only read by key.
CREATE INDEX device_codes_expires_at_idx ON device_codes (expires_at);
CREATE INDEX echo_entries_expires_at_idx ON echo_entries (expires_at);
