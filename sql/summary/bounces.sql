-- Bounces per reason category and DSN from $since to $until on $host, with one example.
SELECT reason_category, dsn, count(*) AS bounces, any_value(response) AS example
FROM deliveries
WHERE status = 'bounced'
  AND ($since IS NULL OR ts >= $since) AND ($until IS NULL OR ts < $until)
  AND ($host IS NULL OR host = $host)
GROUP BY 1, 2
ORDER BY bounces DESC, reason_category, dsn
LIMIT $limit
