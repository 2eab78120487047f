-- help: who sends the most: messages and bytes per envelope sender
SELECT sender, count(*) AS messages, sum(size) AS bytes,
    count(*) FILTER (WHERE final IN ('bounced', 'mixed', 'expired')) AS with_failures
FROM messages
WHERE origin <> 'bounce'
  AND ($since IS NULL OR first_seen >= $since)
  AND ($until IS NULL OR first_seen < $until)
  AND ($domain IS NULL OR lower(split_part(sender, '@', 2)) = lower($domain))
  AND ($client IS NULL OR client_ip = $client OR client_host ILIKE $client)
  AND ($host IS NULL OR host = $host)
GROUP BY sender
ORDER BY messages DESC, bytes DESC, sender
LIMIT $limit
