-- Recipients (as pflogsumm counts them: the domain in lower case) with the most messages whose
-- last attempt fell from $since to $until on $host, and how many of those were sent.
SELECT CASE WHEN contains(recipient, '@') THEN split_part(recipient, '@', 1) || '@' ||
        lower(substr(recipient, strpos(recipient, '@') + 1)) ELSE recipient END AS recipient,
    count(*) AS messages, count(*) FILTER (WHERE status = 'sent') AS sent
FROM recipients
WHERE ($since IS NULL OR last_attempt >= $since) AND ($until IS NULL OR last_attempt < $until)
  AND ($host IS NULL OR host = $host)
GROUP BY 1
ORDER BY messages DESC, recipient
LIMIT $limit
