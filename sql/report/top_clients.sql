-- SMTP clients by messages received ($by = 'count') or by bytes ($by = 'size').
SELECT coalesce(client_host, '') || '[' || client_ip || ']' AS name, client_ip AS term,
    count(*) AS messages, coalesce(sum(size), 0)::BIGINT AS bytes
FROM messages
WHERE origin NOT IN ('bounce', 'local') AND client_ip IS NOT NULL
  AND first_seen >= $since AND first_seen < $until AND ($host IS NULL OR host = $host)
GROUP BY client_host, client_ip
ORDER BY CASE WHEN $by = 'size' THEN sum(size) ELSE count(*) END DESC NULLS LAST, count(*) DESC,
    sum(size) DESC NULLS LAST, name
LIMIT $limit
