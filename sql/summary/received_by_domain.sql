-- Messages and bytes received per sending domain (the client's host name for a sender without
-- a domain, 'local' without one) from $since to $until on $host; a filter's re-injection is not
-- a reception.
WITH hops AS (
    SELECT f.from_message_key, m.queue_id AS to_queue_id, f.to_message_key
    FROM flows AS f JOIN messages AS m ON m.message_key = f.to_message_key
    WHERE f.link IN ('queued_as', 'relayed')
)
SELECT CASE WHEN contains(sender, '@') THEN lower(substr(sender, strpos(sender, '@') + 1))
        ELSE coalesce(client_host, 'local') END AS domain,
    count(*) AS messages, coalesce(sum(size), 0) AS bytes
FROM messages
WHERE origin NOT IN ('bounce', 'local') AND sender IS NOT NULL
  AND message_key NOT IN (SELECT to_message_key FROM hops)
  AND ($since IS NULL OR first_seen >= $since) AND ($until IS NULL OR first_seen < $until)
  AND ($host IS NULL OR host = $host)
GROUP BY 1
ORDER BY messages DESC, bytes DESC, domain
LIMIT $limit
