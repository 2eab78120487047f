-- Rejects per reason category and SMTP stage from $since to $until on $host, with one example.
SELECT reason_category, stage, count(*) AS rejects, any_value(reason) AS example
FROM rejects
WHERE kind IN ('reject', 'milter_reject', 'proxy_reject')
  AND ($since IS NULL OR ts >= $since) AND ($until IS NULL OR ts < $until)
  AND ($host IS NULL OR host = $host)
GROUP BY 1, 2
ORDER BY rejects DESC, reason_category, stage
LIMIT $limit
