-- help: why mail fails: bounces, deferrals and rejects counted by category and reply
SELECT what, reason_category, dsn, count(*) AS n, min(example) AS example
FROM (
    SELECT status AS what, reason_category, dsn, response AS example, last_attempt AS ts,
        recipient, host
    FROM recipients
    WHERE status IN ('bounced', 'deferred', 'expired')
    UNION ALL
    SELECT 'rejected', reason_category, dsn, reason, ts, recipient, host
    FROM rejects
    WHERE action IN ('reject', 'milter-reject', 'proxy-reject')
)
WHERE ($reason IS NULL OR reason_category = $reason)
  AND ($since IS NULL OR ts >= $since)
  AND ($until IS NULL OR ts < $until)
  AND ($domain IS NULL OR lower(split_part(recipient, '@', 2)) = lower($domain))
  AND ($host IS NULL OR host = $host)
GROUP BY what, reason_category, dsn
ORDER BY n DESC, what, reason_category, dsn
LIMIT $limit
