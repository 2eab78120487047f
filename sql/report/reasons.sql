-- Bounces and deferrals (delivery attempts) and rejects per $unit and reason category.
SELECT what, date_trunc($unit, ts) AS bucket, reason_category, count(*) AS n
FROM (
    SELECT CASE status WHEN 'bounced' THEN 'bounces' ELSE 'deferrals' END AS what, ts,
        reason_category, host
    FROM deliveries
    WHERE status IN ('bounced', 'deferred') AND ts >= $since AND ts < $until
    UNION ALL
    SELECT 'rejects', ts, reason_category, host
    FROM rejects
    WHERE kind IN ('reject', 'milter_reject', 'proxy_reject') AND ts >= $since AND ts < $until
)
WHERE $host IS NULL OR host = $host
GROUP BY ALL
ORDER BY what, bucket, reason_category
