-- Warnings ($severity = 'warning') or errors, fatal errors and panics ($severity = 'fatal'),
-- each distinct text once with how often and when first and last.
SELECT daemon, severity, text, count(*) AS n, min(ts) AS first, max(ts) AS last
FROM problems
WHERE CASE WHEN $severity = 'warning' THEN severity = 'warning'
        ELSE severity IN ('error', 'fatal', 'panic') END
  AND ts >= $since AND ts < $until AND ($host IS NULL OR host = $host)
GROUP BY daemon, severity, text
ORDER BY n DESC, daemon, text
LIMIT $limit
