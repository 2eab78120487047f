-- help: recipient domains by traffic, with sent, bounced and deferred counts
SELECT lower(split_part(recipient, '@', 2)) AS domain, count(*) AS recipients,
    count(*) FILTER (WHERE status = 'sent') AS sent,
    count(*) FILTER (WHERE status = 'bounced') AS bounced,
    count(*) FILTER (WHERE status = 'deferred') AS deferred,
    count(*) FILTER (WHERE status = 'expired') AS expired
FROM recipients
WHERE ($since IS NULL OR last_attempt >= $since)
  AND ($until IS NULL OR last_attempt < $until)
  AND ($sender IS NULL OR sender ILIKE $sender)
  AND ($reason IS NULL OR reason_category = $reason)
  AND ($host IS NULL OR host = $host)
GROUP BY domain
ORDER BY recipients DESC, domain
LIMIT $limit
