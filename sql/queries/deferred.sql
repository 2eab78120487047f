-- help: recipients still waiting in the queue after a temporary failure, oldest first
SELECT first_attempt, last_attempt, attempts, host, queue_id, sender, recipient, dsn,
    reason_category, response
FROM recipients
WHERE status = 'deferred'
  AND ($reason IS NULL OR reason_category = $reason)
  AND ($since IS NULL OR last_attempt >= $since)
  AND ($until IS NULL OR last_attempt < $until)
  AND ($sender IS NULL OR sender ILIKE $sender)
  AND ($recipient IS NULL OR recipient ILIKE $recipient)
  AND ($domain IS NULL OR lower(split_part(recipient, '@', 2)) = lower($domain))
  AND ($host IS NULL OR host = $host)
ORDER BY first_attempt, queue_id, recipient
LIMIT $limit
