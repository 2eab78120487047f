-- The grand totals from $since to $until (NULL: open ends) on $host (NULL: every host): what
-- happened to mail, counted once. A content filter's re-injection (or a relay hop between two
-- indexed hosts) is not a new reception, and the hand-off to the filter is not a delivery;
-- pflogsumm counts both, and the last columns give those numbers so the two reports can be
-- reconciled (see docs/summary.md).
WITH hops AS (
    -- message instances that re-entered the queue from a filter or a hop between indexed hosts
    SELECT f.from_message_key, m.queue_id AS to_queue_id, f.to_message_key
    FROM flows AS f JOIN messages AS m ON m.message_key = f.to_message_key
    WHERE f.link IN ('queued_as', 'relayed')
),
handoffs AS (
    -- one row per (message, next queue ID), even when the link resolved to two instances of a
    -- reused queue ID, so that no delivery is counted twice
    SELECT DISTINCT from_message_key, to_queue_id FROM hops
),
received AS (
    SELECT * FROM messages
    WHERE origin NOT IN ('bounce', 'local')
      AND message_key NOT IN (SELECT to_message_key FROM hops)
      AND ($since IS NULL OR first_seen >= $since) AND ($until IS NULL OR first_seen < $until)
      AND ($host IS NULL OR host = $host)
),
attempts AS (
    SELECT d.*, h.from_message_key IS NOT NULL AS handoff,
        d.status = 'sent' AND starts_with(coalesce(d.response, ''), 'forwarded as') AS forward
    FROM deliveries AS d
    LEFT JOIN handoffs AS h
        ON h.from_message_key = d.message_key AND h.to_queue_id = d.next_queue_id
    WHERE ($since IS NULL OR d.ts >= $since) AND ($until IS NULL OR d.ts < $until)
      AND ($host IS NULL OR d.host = $host)
),
sizes AS (SELECT message_key, size FROM messages),
delivered AS (
    SELECT a.*, s.size FROM attempts AS a LEFT JOIN sizes AS s USING (message_key)
    WHERE a.status = 'sent' AND NOT a.handoff AND NOT a.forward
),
handed AS (
    SELECT * FROM attempts WHERE status = 'sent' AND handoff
),
refused AS (
    SELECT * FROM rejects
    WHERE ($since IS NULL OR ts >= $since) AND ($until IS NULL OR ts < $until)
      AND ($host IS NULL OR host = $host)
),
-- addresses as pflogsumm counts them: the local part as logged, the domain in lower case
-- (a domain is all after the first @, or the whole address when it has none)
received_senders AS (
    SELECT CASE WHEN contains(sender, '@') THEN split_part(sender, '@', 1) || '@' ||
            lower(substr(sender, strpos(sender, '@') + 1)) ELSE sender END AS address
    FROM received
    -- as pflogsumm: a sender counts once qmgr logged the message (from=, size=); a message
    -- cut off before that (aborted after pickup, or by a rotation) has none yet
    WHERE size IS NOT NULL
),
delivered_to AS (
    SELECT CASE WHEN contains(recipient, '@') THEN split_part(recipient, '@', 1) || '@' ||
            lower(substr(recipient, strpos(recipient, '@') + 1)) ELSE recipient END AS address,
        lower(substr(recipient, strpos(recipient, '@') + 1)) AS domain
    FROM delivered
),
handed_to AS (
    SELECT CASE WHEN contains(recipient, '@') THEN split_part(recipient, '@', 1) || '@' ||
            lower(substr(recipient, strpos(recipient, '@') + 1)) ELSE recipient END AS address,
        lower(substr(recipient, strpos(recipient, '@') + 1)) AS domain
    FROM handed
),
reinjected AS (
    -- what pflogsumm counts as well: re-injections as receptions
    SELECT * FROM messages
    WHERE origin NOT IN ('bounce', 'local')
      AND message_key IN (SELECT to_message_key FROM hops)
      AND ($since IS NULL OR first_seen >= $since) AND ($until IS NULL OR first_seen < $until)
      AND ($host IS NULL OR host = $host)
)
SELECT
    (SELECT count(*) FROM received) AS received,
    (SELECT count(*) FROM delivered) AS delivered,
    (SELECT count(*) FROM attempts WHERE forward) AS forwarded,
    (SELECT count(DISTINCT message_key) FROM attempts WHERE status = 'deferred') AS deferred,
    (SELECT count(*) FROM attempts WHERE status = 'deferred') AS deferrals,
    (SELECT count(*) FROM attempts WHERE status = 'bounced') AS bounced,
    (SELECT count(*) FROM refused WHERE kind IN ('reject', 'milter_reject', 'proxy_reject'))
        AS rejected,
    (SELECT count(*) FROM refused WHERE kind IN ('reject_warning', 'header_warning'))
        AS reject_warnings,
    (SELECT count(*) FROM refused WHERE kind = 'hold') AS held,
    (SELECT count(*) FROM refused WHERE kind = 'discard') AS discarded,
    (SELECT coalesce(sum(size), 0) FROM received) AS bytes_received,
    (SELECT coalesce(sum(size), 0) FROM delivered) AS bytes_delivered,
    (SELECT count(DISTINCT address) FROM received_senders) AS senders,
    (SELECT count(DISTINCT CASE WHEN contains(sender, '@')
            THEN lower(substr(sender, strpos(sender, '@') + 1))
            ELSE coalesce(client_host, 'local') END)
        FROM received WHERE sender IS NOT NULL AND size IS NOT NULL) AS sending_hosts,
    (SELECT count(DISTINCT address) FROM delivered_to) AS recipients,
    (SELECT count(DISTINCT domain) FROM delivered_to) AS recipient_domains,
    (SELECT count(*) FROM messages WHERE final = 'held' AND ($host IS NULL OR host = $host))
        AS held_now,
    -- what pflogsumm counts as well: re-injections as receptions, hand-offs as deliveries
    (SELECT count(*) FROM reinjected) AS filter_reinjections,
    (SELECT coalesce(sum(size), 0) FROM reinjected) AS filter_reinjected_bytes,
    (SELECT count(*) FROM handed) AS filter_handoffs,
    (SELECT coalesce(sum(s.size), 0) FROM handed AS a LEFT JOIN sizes AS s USING (message_key))
        AS filter_handoff_bytes,
    -- recipients (and their domains) that got no further than the filter: its copy bounced,
    -- is still deferred or is outside the time range
    (SELECT count(*) FROM (SELECT address FROM handed_to EXCEPT SELECT address FROM delivered_to))
        AS filter_only_recipients,
    (SELECT count(*) FROM (SELECT domain FROM handed_to EXCEPT SELECT domain FROM delivered_to))
        AS filter_only_recipient_domains
