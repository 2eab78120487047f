-- Recipients that bounced or expired, newest first, with why; `total` counts them all.
SELECT last_attempt AS ts, host, queue_id, sender, recipient, status, dsn, reason_category,
    response, count(*) OVER () AS total
FROM recipients
WHERE status IN ('bounced', 'expired') AND last_attempt >= $since AND last_attempt < $until
  AND ($host IS NULL OR host = $host)
ORDER BY last_attempt DESC, queue_id, recipient
LIMIT $limit
