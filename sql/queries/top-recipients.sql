-- help: who receives the most, and how much of it failed
SELECT recipient, count(*) AS messages,
    count(*) FILTER (WHERE status = 'sent') AS sent,
    count(*) FILTER (WHERE status = 'bounced') AS bounced,
    count(*) FILTER (WHERE status IN ('deferred', 'expired')) AS delayed
FROM recipients
WHERE ($since IS NULL OR last_attempt >= $since)
  AND ($until IS NULL OR last_attempt < $until)
  AND ($domain IS NULL OR lower(split_part(recipient, '@', 2)) = lower($domain))
  AND ($sender IS NULL OR sender ILIKE $sender)
  AND ($host IS NULL OR host = $host)
GROUP BY recipient
ORDER BY messages DESC, recipient
LIMIT $limit
