-- Delivery delay (seconds from reception to delivery) per destination domain, the $limit
-- domains with the most deliveries.
SELECT lower(split_part(recipient, '@', 2)) AS domain, count(*) AS deliveries,
    quantile_cont(delay, 0.5) AS p50, quantile_cont(delay, 0.95) AS p95, max(delay) AS max
FROM deliveries
WHERE status = 'sent' AND delay IS NOT NULL AND ts >= $since AND ts < $until
  AND ($host IS NULL OR host = $host)
GROUP BY domain
ORDER BY deliveries DESC, domain
LIMIT $limit
