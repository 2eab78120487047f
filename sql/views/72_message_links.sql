-- What each message instance says about its neighbours: the queue ID it handed a copy to
-- (queued as, forwarded as, a bounce notification) or the queue ID it came from (XFORWARD
-- orig_queue_id=, pickup orig_id=). The flows view resolves the named queue IDs to instances.
CREATE OR REPLACE VIEW message_links_live AS
SELECT *, queue_key(queue_id) AS queue_key, queue_key(named_queue_id) AS named_queue_key
FROM (
    SELECT message_key, host, queue_id, next_queue_id AS named_queue_id, ts,
        CASE WHEN starts_with(response, 'forwarded as ') OR contains(response, ' forwarded as ')
             THEN 'forwarded_as' ELSE 'queued_as' END AS link,
        'out' AS direction
    FROM message_events
    WHERE kind = 'delivery' AND next_queue_id IS NOT NULL AND status = 'sent'
    UNION ALL
    SELECT message_key, host, queue_id, next_queue_id, ts,
        CASE action WHEN 'non_delivery' THEN 'bounce_notification'
                    WHEN 'postmaster_non_delivery' THEN 'bounce_notification'
                    WHEN 'delay' THEN 'delay_notification'
                    WHEN 'postmaster_delay' THEN 'delay_notification'
                    ELSE 'delivery_status_notification' END,
        'out'
    FROM message_events
    WHERE kind = 'notification' AND next_queue_id IS NOT NULL
    UNION ALL
    SELECT message_key, host, queue_id, orig_queue_id, first_seen,
        CASE WHEN origin = 'pickup' THEN 'requeued' ELSE 'queued_as' END, 'in'
    FROM message_facts_live
    WHERE orig_queue_id IS NOT NULL
);

-- stored, and kept current batch by batch (see 40_message_facts.sql)
CREATE OR REPLACE TABLE message_links_cache AS SELECT * FROM message_links_live
    ORDER BY ts;  -- in time order, as batches append rows: time bounds skip row groups
CREATE OR REPLACE VIEW message_links AS SELECT * FROM message_links_cache;

COMMENT ON VIEW message_links IS 'Per message instance: the queue IDs it says it handed a copy to or came from (helper of flows).';
