-- One row per message instance: where it came from and what finally became of it.
CREATE OR REPLACE VIEW messages_live AS
WITH outcome AS (
    -- one row per message even without recipients, so that a plain join carries a filter on
    -- queue_id to both sides (a left join would work out every message's recipients)
    SELECT host, queue_id, message_key,
        count(status) AS recipients,
        count(*) FILTER (WHERE status = 'sent') AS sent,
        count(*) FILTER (WHERE status = 'bounced') AS bounced,
        count(*) FILTER (WHERE status = 'expired') AS expired,
        count(*) FILTER (WHERE status = 'deferred') AS deferred,
        count(*) FILTER (WHERE status = 'rejected') AS rejected
    FROM (
        SELECT host, queue_id, message_key, status FROM recipients_live
        UNION ALL
        SELECT host, queue_id, message_key, NULL FROM message_facts_live
    )
    GROUP BY host, queue_id, message_key
)
SELECT f.message_key, f.host, f.queue_id, f.first_seen, f.last_seen, f.client_host,
    f.client_ip, f.sasl_username, f.message_id, f.sender, f.size, f.nrcpt, f.origin,
    f.removed_at,
    CASE
        WHEN f.was_deleted THEN 'deleted'
        WHEN f.was_discarded THEN 'discarded'
        -- a HOLD action parks the message before qmgr ever sees it
        WHEN f.is_held AND f.removed_at IS NULL THEN 'held'
        WHEN NOT f.was_queued AND f.rejects + f.problems > 0 THEN 'rejected'
        WHEN NOT f.was_queued THEN 'aborted'
        WHEN f.removed_at IS NULL THEN 'deferred'
        WHEN o.recipients = 0 THEN 'delivered'
        WHEN o.sent = o.recipients THEN 'delivered'
        WHEN o.sent = 0 AND o.expired > 0 AND o.bounced + o.rejected = 0 THEN 'expired'
        WHEN o.sent = 0 THEN 'bounced'
        ELSE 'mixed'
    END AS final,
    o.recipients, o.sent, o.bounced, o.expired, o.deferred,
    f.orig_queue_id, f.queue_key
FROM message_facts_live AS f
JOIN outcome AS o USING (host, queue_id, message_key);

-- stored, and kept current batch by batch (see 40_message_facts.sql)
CREATE OR REPLACE TABLE messages_cache AS SELECT * FROM messages_live
    ORDER BY last_seen;  -- in time order, as batches append rows: time bounds skip row groups
CREATE OR REPLACE VIEW messages AS SELECT * FROM messages_cache;

COMMENT ON VIEW messages IS 'One row per message instance: a queue ID from first sight to removal (a reused queue ID is a new instance).';
COMMENT ON COLUMN messages.message_key IS 'host:queue_id, with #n for the n-th reuse of a short queue ID; the key of the other views.';
COMMENT ON COLUMN messages.host IS 'The Postfix server.';
COMMENT ON COLUMN messages.queue_id IS 'Queue ID.';
COMMENT ON COLUMN messages.queue_key IS 'queue_key(queue_id): a number to find a queue ID fast, as in WHERE queue_key = queue_key(''4F9D5F4B8C'') AND queue_id = ''4F9D5F4B8C''.';
COMMENT ON COLUMN messages.first_seen IS 'First line about it.';
COMMENT ON COLUMN messages.last_seen IS 'Last line about it.';
COMMENT ON COLUMN messages.client_host IS 'SMTP client host name (smtpd client=).';
COMMENT ON COLUMN messages.client_ip IS 'SMTP client IP address.';
COMMENT ON COLUMN messages.sasl_username IS 'Authenticated submitter.';
COMMENT ON COLUMN messages.message_id IS 'Message-ID header, without <>.';
COMMENT ON COLUMN messages.sender IS 'Envelope sender; '''' is the null sender of bounces.';
COMMENT ON COLUMN messages.size IS 'Size in bytes as queued.';
COMMENT ON COLUMN messages.nrcpt IS 'Number of recipients as queued.';
COMMENT ON COLUMN messages.origin IS 'How it entered the queue: smtpd (or another client daemon such as qmqpd), pickup (sendmail), bounce (a notification Postfix wrote), local (a forward or other internal copy).';
COMMENT ON COLUMN messages.removed_at IS 'When it left the queue (qmgr removed or postsuper -d).';
COMMENT ON COLUMN messages.final IS 'delivered, bounced, expired, mixed (some delivered, some not), deferred (still queued), held, deleted, discarded, rejected (refused before it was queued), aborted (the client gave up first).';
COMMENT ON COLUMN messages.recipients IS 'Recipients with an outcome (see recipients).';
COMMENT ON COLUMN messages.sent IS 'Recipients delivered.';
COMMENT ON COLUMN messages.bounced IS 'Recipients bounced.';
COMMENT ON COLUMN messages.expired IS 'Recipients that expired in the queue.';
COMMENT ON COLUMN messages.deferred IS 'Recipients still deferred.';
COMMENT ON COLUMN messages.orig_queue_id IS 'Queue ID it was re-injected or requeued from (client= orig_queue_id=, pickup orig_id=).';
