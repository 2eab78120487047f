-- Postfix's own warnings ($severities ['warning']) or errors (['fatal', 'panic', 'error']) per
-- daemon and text from $since to $until on $host.
SELECT daemon, text, count(*) AS n
FROM problems
WHERE list_contains($severities, severity)
  AND ($since IS NULL OR ts >= $since) AND ($until IS NULL OR ts < $until)
  AND ($host IS NULL OR host = $host)
GROUP BY 1, 2
ORDER BY n DESC, daemon, text
LIMIT $limit
