-- Recipient domains with the most recipients sent to from $since to $until on $host.
SELECT lower(split_part(r.recipient, '@', 2)) AS domain, count(*) AS recipients,
    coalesce(sum(m.size), 0) AS bytes
FROM recipients AS r JOIN messages AS m USING (message_key)
WHERE r.status = 'sent'
  AND ($since IS NULL OR r.last_attempt >= $since) AND ($until IS NULL OR r.last_attempt < $until)
  AND ($host IS NULL OR r.host = $host)
GROUP BY 1
ORDER BY recipients DESC, domain
LIMIT $limit
