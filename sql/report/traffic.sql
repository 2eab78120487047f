-- Received, delivered, deferred, bounced and rejected per $unit ('hour' or 'day') from $since to
-- $until on $host (NULL: every host), counted as `mailidx summary` counts them: a content filter's
-- re-injection is not a reception, the hand-off to it not a delivery.
WITH hops AS (
    SELECT f.from_message_key, m.queue_id AS to_queue_id, f.to_message_key
    FROM flows AS f JOIN messages AS m ON m.message_key = f.to_message_key
    WHERE f.link IN ('queued_as', 'relayed')
),
recv AS (
    SELECT date_trunc($unit, first_seen) AS bucket, count(*) AS received
    FROM messages
    WHERE origin NOT IN ('bounce', 'local')
      AND message_key NOT IN (SELECT to_message_key FROM hops)
      AND first_seen >= $since AND first_seen < $until
      AND ($host IS NULL OR host = $host)
    GROUP BY bucket
),
att AS (
    SELECT date_trunc($unit, d.ts) AS bucket,
        count(*) FILTER (WHERE d.status = 'sent' AND h.to_message_key IS NULL
            AND NOT starts_with(coalesce(d.response, ''), 'forwarded as')) AS delivered,
        count(*) FILTER (WHERE d.status = 'deferred') AS deferred,
        count(*) FILTER (WHERE d.status = 'bounced') AS bounced
    FROM deliveries AS d
    LEFT JOIN hops AS h ON h.from_message_key = d.message_key AND h.to_queue_id = d.next_queue_id
    WHERE d.ts >= $since AND d.ts < $until AND ($host IS NULL OR d.host = $host)
    GROUP BY bucket
),
rej AS (
    SELECT date_trunc($unit, ts) AS bucket, count(*) AS rejected
    FROM rejects
    WHERE kind IN ('reject', 'milter_reject', 'proxy_reject')
      AND ts >= $since AND ts < $until AND ($host IS NULL OR host = $host)
    GROUP BY bucket
)
SELECT bucket, coalesce(received, 0) AS received, coalesce(delivered, 0) AS delivered,
    coalesce(deferred, 0) AS deferred, coalesce(bounced, 0) AS bounced,
    coalesce(rejected, 0) AS rejected
FROM recv FULL JOIN att USING (bucket) FULL JOIN rej USING (bucket)
ORDER BY bucket
