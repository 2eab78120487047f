-- Events about one message instance: a queue ID from first sight to removal (a short queue ID
-- that Postfix reuses later starts a new instance).
CREATE OR REPLACE VIEW message_events AS
SELECT *,
    host || ':' || queue_id || CASE WHEN instance > 0 THEN '#' || instance ELSE '' END
        AS message_key
FROM (
    SELECT *,
        coalesce(sum(CASE WHEN kind IN ('removed', 'deleted') THEN 1 ELSE 0 END) OVER (
            PARTITION BY host, queue_id ORDER BY ts, file_id, line_number
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS instance
    FROM events
    WHERE queue_id IS NOT NULL
);

COMMENT ON VIEW message_events IS 'events that carry a queue ID, with the message instance (message_key) they belong to.';
COMMENT ON COLUMN message_events.instance IS 'How many times this queue ID was removed before: 0 for the first message that used it.';
COMMENT ON COLUMN message_events.message_key IS 'host:queue_id, with #n for the n-th reuse of a short queue ID.';
