-- Events about one message instance: a queue ID from first sight to removal (a short queue ID
-- that Postfix reuses later starts a new instance), each with what the log says about its
-- whole message. Everything here is keyed by (host, queue_id): the removals number the
-- instances, a GROUP BY sums each up and an equi-join hands that back to its events, so that
-- `WHERE queue_id = …` on any view built on it reaches the stored tables (a single pass of
-- windowed aggregates cost twice the CPU, a window numbering every event 0.45 CPU-s more
-- per million lines than comparing with the one removal most queue IDs have).
CREATE OR REPLACE VIEW message_events AS
-- NOT MATERIALIZED: read three times, the events are scanned again each time (with just
-- the columns each read needs) rather than held in memory whole
WITH queued AS NOT MATERIALIZED (
    SELECT * FROM (
        SELECT * FROM ev_delivery
        UNION ALL BY NAME SELECT * FROM ev_message
        UNION ALL BY NAME SELECT * FROM ev_reject
        UNION ALL BY NAME SELECT * FROM ev_other
    )
    WHERE queue_id IS NOT NULL
), queues AS NOT MATERIALIZED (
    -- each queue ID's removals; a struct compares field by field, a NULL time after every
    -- other, as ORDER BY sorts
    SELECT host, queue_id,
        count(*) FILTER (WHERE kind IN ('removed', 'deleted')) AS removals,
        min({'ts': ts, 'file_id': file_id, 'line_number': line_number})
            FILTER (WHERE kind IN ('removed', 'deleted')) AS first_removal
    FROM queued
    GROUP BY host, queue_id
), numbered AS (
    -- the instance is the number of removals before the event: for a queue ID removed at
    -- most once (nearly all) a comparison with that removal, for a reused one a window
    SELECT q.*,
        CASE WHEN r.removals = 0 THEN 0
             ELSE ({'ts': q.ts, 'file_id': q.file_id, 'line_number': q.line_number}
                   > r.first_removal)::INTEGER END AS instance
    FROM queued AS q
    JOIN queues AS r ON q.host IS NOT DISTINCT FROM r.host AND q.queue_id = r.queue_id
    WHERE r.removals <= 1
    UNION ALL BY NAME
    SELECT q.*,
        coalesce(sum(CASE WHEN kind IN ('removed', 'deleted') THEN 1 ELSE 0 END) OVER (
            PARTITION BY q.host, q.queue_id ORDER BY q.ts, q.file_id, q.line_number
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS instance
    FROM queued AS q
    JOIN queues AS r ON q.host IS NOT DISTINCT FROM r.host AND q.queue_id = r.queue_id
    WHERE r.removals > 1
), instances AS (  -- what the log says about each whole message instance
    SELECT host, queue_id, instance,
        coalesce(arg_min(sender, ts) FILTER (WHERE kind = 'queued'),
                 arg_min(sender, ts) FILTER (WHERE kind IN ('pickup', 'expired')),
                 -- a message cleanup held, discarded or rejected may never reach qmgr: the
                 -- check's own line names the sender
                 arg_min(sender, ts) FILTER (WHERE kind IN ('hold', 'discard', 'reject',
                                                             'milter_reject')))
            AS message_sender,
        arg_min(message_id, ts) FILTER (WHERE kind = 'message_id') AS message_message_id,
        count(*) FILTER (WHERE kind = 'expired') > 0 AS message_expired,
        count(*) FILTER (WHERE kind = 'deleted') > 0 AS message_deleted,
        count(*) FILTER (WHERE kind = 'discard') > 0 AS message_discarded,
        coalesce(arg_max(kind, ts) FILTER (WHERE kind IN ('held', 'released', 'hold'))
                 IN ('held', 'hold'), false) AS message_held
    FROM numbered
    GROUP BY host, queue_id, instance
)
SELECT n.*,
    n.host || ':' || n.queue_id || CASE WHEN n.instance > 0 THEN '#' || n.instance ELSE '' END
        AS message_key,
    i.message_sender, i.message_message_id, i.message_expired, i.message_deleted,
    i.message_discarded, i.message_held
FROM numbered AS n
JOIN instances AS i
  ON n.host IS NOT DISTINCT FROM i.host AND n.queue_id = i.queue_id
 AND n.instance = i.instance;

COMMENT ON VIEW message_events IS 'events that carry a queue ID, with the message instance (message_key) they belong to and what the log says about that message.';
COMMENT ON COLUMN message_events.instance IS 'How many times this queue ID was removed before: 0 for the first message that used it.';
COMMENT ON COLUMN message_events.message_key IS 'host:queue_id, with #n for the n-th reuse of a short queue ID.';
COMMENT ON COLUMN message_events.message_sender IS 'Envelope sender of the message (qmgr from=; else pickup, or the from= of a hold, discard or reject line).';
COMMENT ON COLUMN message_events.message_message_id IS 'Message-ID of the message.';
COMMENT ON COLUMN message_events.message_expired IS 'The message expired in the queue (qmgr status=expired).';
COMMENT ON COLUMN message_events.message_deleted IS 'postsuper -d removed the message.';
COMMENT ON COLUMN message_events.message_discarded IS 'A DISCARD action dropped the message.';
COMMENT ON COLUMN message_events.message_held IS 'The message sits in the hold queue now.';
