-- Links between message instances: one message became another (content filter, forward,
-- bounce notification, next hop on another indexed host, requeue).
CREATE OR REPLACE VIEW flows AS
WITH facts AS MATERIALIZED (
    SELECT message_key, host, queue_id, first_seen FROM message_facts
), said AS (
    SELECT message_key AS known_key, host, named_queue_id AS queue_id, ts, link, direction
    FROM message_links
), resolved AS (
    -- the named queue ID is the instance nearest in time, on the same host if it is there
    SELECT s.*, i.message_key AS other_key, i.host AS other_host,
        row_number() OVER (
            PARTITION BY s.known_key, s.queue_id, s.direction
            ORDER BY (i.host = s.host) DESC, abs(epoch(i.first_seen) - epoch(s.ts))) AS nearest
    FROM said AS s
    JOIN facts AS i
      ON i.queue_id = s.queue_id AND i.message_key <> s.known_key
     AND i.first_seen BETWEEN s.ts - INTERVAL 1 DAY AND s.ts + INTERVAL 1 DAY
), links AS (
    SELECT
        CASE direction WHEN 'out' THEN known_key ELSE other_key END AS from_message_key,
        CASE direction WHEN 'out' THEN other_key ELSE known_key END AS to_message_key,
        CASE WHEN link = 'queued_as' AND host <> other_host THEN 'relayed' ELSE link END AS link,
        CASE direction WHEN 'out' THEN host ELSE other_host END AS host,
        CASE direction WHEN 'out' THEN other_host ELSE host END AS to_host,
        ts, direction
    FROM resolved
    WHERE nearest = 1
)
SELECT from_message_key, to_message_key, arg_min(link, direction) AS link,
    any_value(host) AS host, any_value(to_host) AS to_host, min(ts) AS ts
FROM links
GROUP BY from_message_key, to_message_key;

COMMENT ON VIEW flows IS 'One row per link between two message instances; follow them to see a message''s whole journey (message_flows gives each chain an id).';
COMMENT ON COLUMN flows.from_message_key IS 'The earlier message instance.';
COMMENT ON COLUMN flows.to_message_key IS 'The message instance it became or caused.';
COMMENT ON COLUMN flows.link IS 'queued_as (content filter or relay re-injection), forwarded_as (.forward/alias to a new queue file), relayed (next hop on another indexed host), bounce_notification, delay_notification, delivery_status_notification, requeued (postsuper -r).';
COMMENT ON COLUMN flows.host IS 'Host of the earlier instance.';
COMMENT ON COLUMN flows.to_host IS 'Host of the later instance.';
COMMENT ON COLUMN flows.ts IS 'When the link was logged.';

-- Every message instance with the chain (flow) it belongs to, and what became of the flow's
-- recipients at its end: the content filter's hand-off or a forward is not the answer, the
-- delivery (or bounce) of the copy it led to is.
CREATE OR REPLACE VIEW message_flows AS
WITH RECURSIVE links AS MATERIALIZED (
    SELECT from_message_key, to_message_key, link FROM flows
), walk(message_key, flow_id, depth) AS (
    SELECT m.message_key, m.message_key, 0
    FROM message_facts AS m
    WHERE m.message_key NOT IN (SELECT to_message_key FROM links)
    UNION ALL
    SELECT l.to_message_key, w.flow_id, w.depth + 1
    FROM walk AS w
    JOIN links AS l ON l.from_message_key = w.message_key
    WHERE w.depth < 20
), member AS (
    SELECT message_key, min(flow_id) AS flow_id, min(depth) AS depth
    FROM walk
    GROUP BY message_key
), handed_on AS (
    -- a recipient whose delivery passed the message on to a later instance of the flow
    SELECT DISTINCT d.message_key AS message_key, d.recipient AS recipient,
        coalesce(d.orig_recipient, '') AS orig_recipient
    FROM deliveries AS d
    JOIN links AS l ON l.from_message_key = d.message_key
     AND l.link IN ('queued_as', 'forwarded_as', 'relayed')
    JOIN message_facts AS n ON n.message_key = l.to_message_key AND n.queue_id = d.next_queue_id
    WHERE d.next_queue_id IS NOT NULL AND d.status = 'sent'
), ends AS (
    -- the recipients at the end of the flow; notifications Postfix wrote (origin bounce) are
    -- not the answer to "what became of the mail"
    SELECT mb.flow_id, r.status
    FROM recipients AS r
    JOIN member AS mb USING (message_key)
    JOIN messages AS m USING (message_key)
    ANTI JOIN handed_on AS h USING (message_key, recipient, orig_recipient)
    WHERE m.origin <> 'bounce' OR mb.depth = 0
), outcome AS (
    SELECT flow_id, count(*) AS n,
        count(*) FILTER (WHERE status = 'sent') AS sent,
        count(DISTINCT status) AS statuses, min(status) AS only_status
    FROM ends
    GROUP BY flow_id
)
SELECT mb.message_key AS message_key, mb.flow_id AS flow_id, mb.depth AS depth,
    CASE
        WHEN o.n IS NULL THEN root.final
        WHEN o.sent = o.n THEN 'delivered'
        WHEN o.sent > 0 THEN 'mixed'
        WHEN o.statuses = 1 THEN o.only_status
        ELSE 'undelivered'
    END AS flow_final
FROM member AS mb
LEFT JOIN outcome AS o USING (flow_id)
LEFT JOIN messages AS root ON root.message_key = mb.flow_id;

COMMENT ON VIEW message_flows IS 'Each message instance with the flow (chain of linked instances) it belongs to, and the outcome of the whole flow.';
COMMENT ON COLUMN message_flows.message_key IS 'The message instance.';
COMMENT ON COLUMN message_flows.flow_id IS 'message_key of the first instance of the chain: the same for every instance of one journey.';
COMMENT ON COLUMN message_flows.depth IS 'Hops from the first instance (0 for it).';
COMMENT ON COLUMN message_flows.flow_final IS 'What became of the flow''s recipients at its end (the copy after the content filter, a forward, the next indexed host; not the bounce notifications Postfix wrote): delivered, mixed, or the one status they all have (bounced, expired, deferred, held, deleted, discarded, rejected), undelivered for several; without recipients, messages.final of the first instance. mailidx trace shows each recipient''s end.';
