-- 0012: alert webhooks on the delivery engine (PostgreSQL).
--
-- Every alert queued for delivery records its destination (the lower-cased
-- host[:port] of its tenant's alert webhook URL when it was queued), so
-- alert webhooks share the dispatcher's per-destination limit, fair claims
-- and circuit breaker with every other kind of delivery.
ALTER TABLE alerts ADD COLUMN destination text NOT NULL DEFAULT '';

-- Alerts still to be delivered take their tenant's current destination.
UPDATE alerts AS a
SET destination = lower(coalesce(substring(u.alert_webhook_url FROM '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?([^/?#]*)'), ''))
FROM users AS u
WHERE u.id = a.user_id
  AND a.delivery_status = 'pending'
  AND u.alert_webhook_url IS NOT NULL;
