-- What the log says about each message instance, before its outcome is worked out.
--
-- Stored per-message views. message_facts, deliveries, recipients, messages and message_links
-- depend only on the events of one (host, queue_id). Each has a *_live view that computes it
-- from the events, a *_cache table that stores its rows, and the public view that reads them.
-- A build recomputes the rows of the queue IDs it touched once, set-based, when it has stored
-- their lines (a watch batch likewise; mailidx/indexer.py refresh_caches): each batch of lines
-- notes its queue IDs in pending_messages, and the refresh empties it in the transaction that
-- stores their rows, so once a build returns a table equals its live view; a change to any
-- view file recomputes them all. Queries then scan stored rows instead of
-- working out every message again.
CREATE OR REPLACE VIEW message_facts_live AS
SELECT
    message_key,
    host,
    queue_id,
    min(ts) AS first_seen,
    max(ts) AS last_seen,
    arg_min(client_host, ts) FILTER (WHERE kind = 'client') AS client_host,
    arg_min(client_ip, ts) FILTER (WHERE kind = 'client') AS client_ip,
    arg_min(sasl_username, ts) FILTER (WHERE kind = 'client') AS sasl_username,
    arg_min(orig_queue_id, ts) FILTER (WHERE kind IN ('client', 'pickup')) AS orig_queue_id,
    arg_min(message_id, ts) FILTER (WHERE kind = 'message_id') AS message_id,
    coalesce(arg_min(sender, ts) FILTER (WHERE kind = 'queued'),
             arg_min(sender, ts) FILTER (WHERE kind IN ('pickup', 'expired')),
             -- held by header_checks and deleted before qmgr saw it: cleanup's from=
             arg_min(sender, ts) FILTER (WHERE kind IN ('hold', 'discard', 'reject',
                                                         'milter_reject'))) AS sender,
    arg_min(size, ts) FILTER (WHERE kind = 'queued') AS size,
    arg_min(nrcpt, ts) FILTER (WHERE kind = 'queued') AS nrcpt,
    CASE
        WHEN count(*) FILTER (WHERE kind = 'client' AND daemon = 'smtpd') > 0 THEN 'smtpd'
        WHEN count(*) FILTER (WHERE kind = 'client') > 0 THEN any_value(daemon) FILTER (WHERE kind = 'client')
        WHEN count(*) FILTER (WHERE kind = 'pickup') > 0 THEN 'pickup'
        WHEN arg_min(sender, ts) FILTER (WHERE kind = 'queued') = '' THEN 'bounce'
        ELSE 'local'
    END AS origin,
    max(ts) FILTER (WHERE kind IN ('removed', 'deleted')) AS removed_at,
    count(*) FILTER (WHERE kind = 'queued') > 0 AS was_queued,
    count(*) FILTER (WHERE kind = 'deleted') > 0 AS was_deleted,
    count(*) FILTER (WHERE kind = 'expired') > 0 AS was_expired,
    -- held now: the last hold/release says hold
    arg_max(kind, ts) FILTER (WHERE kind IN ('held', 'released', 'hold')) IN ('held', 'hold')
        AS is_held,
    count(*) FILTER (WHERE kind = 'discard') > 0 AS was_discarded,
    count(*) FILTER (WHERE kind IN ('reject', 'milter_reject')) AS rejects,
    count(*) FILTER (WHERE kind IN ('warning', 'error', 'fatal', 'panic')) AS problems,
    count(*) FILTER (WHERE kind = 'delivery') AS delivery_attempts,
    queue_key(queue_id) AS queue_key,
    text_key(arg_min(message_id, ts) FILTER (WHERE kind = 'message_id')) AS message_id_key
FROM message_events
GROUP BY host, queue_id, message_key;  -- not any_value(): a filter on queue_id reaches the scan

-- stored, and kept current batch by batch (see 40_message_facts.sql)
CREATE OR REPLACE TABLE message_facts_cache AS SELECT * FROM message_facts_live
    ORDER BY last_seen;  -- in time order, as batches append rows: time bounds skip row groups
CREATE OR REPLACE VIEW message_facts AS SELECT * FROM message_facts_cache;

COMMENT ON VIEW message_facts IS 'Per message instance: who sent it from where, and what happened to it (helper of messages).';
