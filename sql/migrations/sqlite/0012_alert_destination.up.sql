-- 0012: alert webhooks on the delivery engine (SQLite).
--
-- Every alert queued for delivery records its destination (the lower-cased
-- host[:port] of its tenant's alert webhook URL when it was queued), so
-- alert webhooks share the dispatcher's per-destination limit, fair claims
-- and circuit breaker with every other kind of delivery.
ALTER TABLE alerts ADD COLUMN destination TEXT NOT NULL DEFAULT '';

-- Alerts still to be delivered take their tenant's current destination:
-- the URL after "scheme://", up to the first "/", "?" or "#", without
-- userinfo.
UPDATE alerts
SET destination = (
    SELECT lower(
        CASE WHEN instr(h3, '@') > 0 THEN substr(h3, instr(h3, '@') + 1) ELSE h3 END)
    FROM (
        SELECT CASE WHEN instr(h2, '#') > 0 THEN substr(h2, 1, instr(h2, '#') - 1) ELSE h2 END AS h3
        FROM (
            SELECT CASE WHEN instr(h1, '?') > 0 THEN substr(h1, 1, instr(h1, '?') - 1) ELSE h1 END AS h2
            FROM (
                SELECT CASE WHEN instr(r, '/') > 0 THEN substr(r, 1, instr(r, '/') - 1) ELSE r END AS h1
                FROM (
                    SELECT CASE WHEN instr(u.alert_webhook_url, '://') > 0
                                THEN substr(u.alert_webhook_url, instr(u.alert_webhook_url, '://') + 3) ELSE '' END AS r
                    FROM users AS u WHERE u.id = alerts.user_id AND u.alert_webhook_url IS NOT NULL
                )
            )
        )
    )
)
WHERE delivery_status = 'pending'
  AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = alerts.user_id AND u.alert_webhook_url IS NOT NULL);
