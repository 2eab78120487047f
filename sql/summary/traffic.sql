-- Received, delivered, deferred, bounced and rejected per day (`day`, 'YYYY-MM-DD') and per
-- hour of the day (`hour`, 0-23, all days together), in the session's time zone, from $since
-- to $until (NULL: open ends) on $host (NULL: every host). Counted as the totals count:
-- a content filter's re-injection is not a reception, the hand-off to it not a delivery.
-- A row has `day` or `hour` set, never both.
WITH hops AS (
    SELECT f.from_message_key, m.queue_id AS to_queue_id, f.to_message_key
    FROM flows AS f JOIN messages AS m ON m.message_key = f.to_message_key
    WHERE f.link IN ('queued_as', 'relayed')
),
handoffs AS (
    SELECT DISTINCT from_message_key, to_queue_id FROM hops
),
recv AS (
    SELECT strftime(first_seen, '%Y-%m-%d') AS day, hour(first_seen) AS hour,
        count(*) AS received
    FROM messages
    WHERE origin NOT IN ('bounce', 'local')
      AND message_key NOT IN (SELECT to_message_key FROM hops)
      AND ($since IS NULL OR first_seen >= $since) AND ($until IS NULL OR first_seen < $until)
      AND ($host IS NULL OR host = $host)
    GROUP BY ALL
),
att AS (
    SELECT strftime(d.ts, '%Y-%m-%d') AS day, hour(d.ts) AS hour,
        count(*) FILTER (WHERE d.status = 'sent' AND h.from_message_key IS NULL
            AND NOT starts_with(coalesce(d.response, ''), 'forwarded as')) AS delivered,
        count(*) FILTER (WHERE d.status = 'deferred') AS deferred,
        count(*) FILTER (WHERE d.status = 'bounced') AS bounced
    FROM deliveries AS d
    LEFT JOIN handoffs AS h
        ON h.from_message_key = d.message_key AND h.to_queue_id = d.next_queue_id
    WHERE ($since IS NULL OR d.ts >= $since) AND ($until IS NULL OR d.ts < $until)
      AND ($host IS NULL OR d.host = $host)
    GROUP BY ALL
),
rej AS (
    SELECT strftime(ts, '%Y-%m-%d') AS day, hour(ts) AS hour, count(*) AS rejected
    FROM rejects
    WHERE kind IN ('reject', 'milter_reject', 'proxy_reject')
      AND ($since IS NULL OR ts >= $since) AND ($until IS NULL OR ts < $until)
      AND ($host IS NULL OR host = $host)
    GROUP BY ALL
),
hourly AS (
    SELECT * FROM recv FULL JOIN att USING (day, hour) FULL JOIN rej USING (day, hour)
)
SELECT day, hour,
    coalesce(sum(received), 0)::BIGINT AS received,
    coalesce(sum(delivered), 0)::BIGINT AS delivered,
    coalesce(sum(deferred), 0)::BIGINT AS deferred,
    coalesce(sum(bounced), 0)::BIGINT AS bounced,
    coalesce(sum(rejected), 0)::BIGINT AS rejected
FROM hourly
GROUP BY GROUPING SETS ((day), (hour))
ORDER BY day, hour
