-- Senders with the most messages (or, with $by_size, the most bytes) received from $since to
-- $until on $host.
SELECT sender, count(*) AS messages, coalesce(sum(size), 0) AS bytes
FROM messages
WHERE origin NOT IN ('bounce', 'local')
  AND ($since IS NULL OR first_seen >= $since) AND ($until IS NULL OR first_seen < $until)
  AND ($host IS NULL OR host = $host)
GROUP BY sender
ORDER BY CASE WHEN $by_size THEN coalesce(sum(size), 0) ELSE count(*) END DESC,
    CASE WHEN $by_size THEN count(*) ELSE coalesce(sum(size), 0) END DESC, sender
LIMIT $limit
