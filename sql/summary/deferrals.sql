-- Deferrals per reason category from $since to $until on $host, with one example response.
SELECT reason_category, count(*) AS deferrals, count(DISTINCT message_key) AS messages,
    any_value(response) AS example
FROM deliveries
WHERE status = 'deferred'
  AND ($since IS NULL OR ts >= $since) AND ($until IS NULL OR ts < $until)
  AND ($host IS NULL OR host = $host)
GROUP BY 1
ORDER BY deferrals DESC, reason_category
LIMIT $limit
