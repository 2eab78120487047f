-- Recipients delivered to, by messages ($by = 'count') or by bytes ($by = 'size').
SELECT lower(r.recipient) AS name, count(*) AS messages, coalesce(sum(m.size), 0)::BIGINT AS bytes
FROM recipients AS r JOIN messages AS m USING (message_key)
WHERE r.status = 'sent' AND r.last_attempt >= $since AND r.last_attempt < $until
  AND ($host IS NULL OR r.host = $host)
GROUP BY 1
ORDER BY CASE WHEN $by = 'size' THEN sum(m.size) ELSE count(*) END DESC NULLS LAST, count(*) DESC,
    sum(m.size) DESC NULLS LAST, name
LIMIT $limit
