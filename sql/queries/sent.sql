-- help: recipients delivered, newest first
SELECT d.ts, d.host, d.queue_id, d.sender, d.recipient, d.relay, d.delay, d.response
FROM deliveries AS d
WHERE d.status = 'sent'
  AND ($since IS NULL OR d.ts >= $since)
  AND ($until IS NULL OR d.ts < $until)
  AND ($sender IS NULL OR d.sender ILIKE $sender)
  AND ($recipient IS NULL OR d.recipient ILIKE $recipient)
  AND ($domain IS NULL OR lower(split_part(d.recipient, '@', 2)) = lower($domain))
  AND ($relay IS NULL OR d.relay_host ILIKE $relay OR d.relay_ip = $relay)
  AND ($host IS NULL OR d.host = $host)
ORDER BY d.ts DESC, d.queue_id, d.recipient
LIMIT $limit
