-- Delivery delays (seconds) per recipient domain for mail sent from $since to $until on $host.
SELECT lower(split_part(recipient, '@', 2)) AS domain, count(*) AS deliveries,
    round(avg(delay), 2) AS avg_s, round(quantile_cont(delay, 0.5), 2) AS p50_s,
    round(quantile_cont(delay, 0.95), 2) AS p95_s, max(delay) AS max_s
FROM deliveries
WHERE status = 'sent'
  AND ($since IS NULL OR ts >= $since) AND ($until IS NULL OR ts < $until)
  AND ($host IS NULL OR host = $host)
GROUP BY 1
ORDER BY deliveries DESC, domain
LIMIT $limit
