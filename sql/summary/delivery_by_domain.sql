-- Per recipient domain from $since to $until on $host: final deliveries (not hand-offs to a
-- content filter, not forwards), their bytes and delays, deferrals and bounces.
WITH hops AS (
    SELECT f.from_message_key, m.queue_id AS to_queue_id, f.to_message_key
    FROM flows AS f JOIN messages AS m ON m.message_key = f.to_message_key
    WHERE f.link IN ('queued_as', 'relayed')
),
handoffs AS (
    SELECT DISTINCT from_message_key, to_queue_id FROM hops
),
attempts AS (
    SELECT lower(substr(d.recipient, strpos(d.recipient, '@') + 1)) AS domain, d.status,
        d.delay, m.size,
        d.status = 'sent' AND h.from_message_key IS NULL
            AND NOT starts_with(coalesce(d.response, ''), 'forwarded as') AS final
    FROM deliveries AS d
    LEFT JOIN handoffs AS h
        ON h.from_message_key = d.message_key AND h.to_queue_id = d.next_queue_id
    LEFT JOIN messages AS m ON m.message_key = d.message_key
    WHERE ($since IS NULL OR d.ts >= $since) AND ($until IS NULL OR d.ts < $until)
      AND ($host IS NULL OR d.host = $host)
)
SELECT domain, count(*) FILTER (WHERE final) AS delivered,
    coalesce(sum(size) FILTER (WHERE final), 0) AS bytes,
    count(*) FILTER (WHERE status = 'deferred') AS deferrals,
    count(*) FILTER (WHERE status = 'bounced') AS bounced,
    round(avg(delay) FILTER (WHERE final), 1) AS avg_delay,
    max(delay) FILTER (WHERE final) AS max_delay
FROM attempts
GROUP BY domain
HAVING delivered + deferrals + bounced > 0
ORDER BY delivered DESC, bytes DESC, domain
LIMIT $limit
