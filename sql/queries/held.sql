-- help: messages sitting in the hold queue
SELECT first_seen, host, queue_id, sender, message_id, client_ip, size
FROM messages
WHERE final = 'held'
  AND ($since IS NULL OR first_seen >= $since)
  AND ($until IS NULL OR first_seen < $until)
  AND ($sender IS NULL OR sender ILIKE $sender)
  AND ($client IS NULL OR client_ip = $client OR client_host ILIKE $client)
  AND ($host IS NULL OR host = $host)
ORDER BY first_seen, queue_id
LIMIT $limit
