-- help: recipients given up on when the queue lifetime ran out
SELECT last_attempt AS ts, host, queue_id, sender, recipient, attempts, dsn, response
FROM recipients
WHERE status = 'expired'
  AND ($since IS NULL OR last_attempt >= $since)
  AND ($until IS NULL OR last_attempt < $until)
  AND ($sender IS NULL OR sender ILIKE $sender)
  AND ($recipient IS NULL OR recipient ILIKE $recipient)
  AND ($domain IS NULL OR lower(split_part(recipient, '@', 2)) = lower($domain))
  AND ($host IS NULL OR host = $host)
ORDER BY last_attempt DESC, queue_id, recipient
LIMIT $limit
