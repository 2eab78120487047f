-- help: clients and recipients refused (smtpd, postscreen, milters, header/body checks)
SELECT ts, host, daemon, stage, client_host, client_ip, sender, recipient, code, dsn,
    reason_category, reason
FROM rejects
WHERE action IN ('reject', 'milter-reject', 'proxy-reject')
  AND ($reason IS NULL OR reason_category = $reason)
  AND ($since IS NULL OR ts >= $since)
  AND ($until IS NULL OR ts < $until)
  AND ($sender IS NULL OR sender ILIKE $sender)
  AND ($recipient IS NULL OR recipient ILIKE $recipient)
  AND ($domain IS NULL OR lower(split_part(recipient, '@', 2)) = lower($domain))
  AND ($client IS NULL OR client_ip = $client OR client_host ILIKE $client)
  AND ($host IS NULL OR host = $host)
ORDER BY ts DESC, client_ip
LIMIT $limit
