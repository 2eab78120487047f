-- One row per delivery attempt (a to= line).
CREATE OR REPLACE VIEW deliveries_live AS
SELECT
    ts, host, queue_id, message_key, message_sender AS sender,
    message_message_id AS message_id,
    recipient, orig_recipient, relay, relay_host, relay_ip, relay_port,
    delay, delay_before_qmgr, delay_in_qmgr, delay_conn, delay_xmit,
    dsn, status, response,
    CASE WHEN status NOT IN ('sent', 'deliverable')
         THEN reason_category(dsn, response) END AS reason_category,
    next_queue_id, daemon, tls, file_id, line_number, queue_key(queue_id) AS queue_key
FROM message_events
WHERE kind = 'delivery';

-- stored, and kept current batch by batch (see 40_message_facts.sql)
CREATE OR REPLACE TABLE deliveries_cache AS SELECT * FROM deliveries_live
    ORDER BY ts;  -- in time order, as batches append rows: time bounds skip row groups
-- the stored category, or worked out again while reason_categories has changed since
CREATE OR REPLACE VIEW deliveries AS
SELECT * REPLACE (
    CASE WHEN stored_categories_current() THEN reason_category
         WHEN status NOT IN ('sent', 'deliverable') THEN reason_category(dsn, response)
    END AS reason_category)
FROM deliveries_cache;

COMMENT ON VIEW deliveries IS 'One row per delivery attempt (a to= line of smtp, lmtp, local, virtual, pipe, error, …).';
COMMENT ON COLUMN deliveries.ts IS 'When the attempt was logged.';
COMMENT ON COLUMN deliveries.host IS 'The Postfix server that logged it.';
COMMENT ON COLUMN deliveries.queue_id IS 'Queue ID of the message.';
COMMENT ON COLUMN deliveries.queue_key IS 'queue_key(queue_id): a number to find a queue ID fast, as in WHERE queue_key = queue_key(''4F9D5F4B8C'') AND queue_id = ''4F9D5F4B8C''.';
COMMENT ON COLUMN deliveries.message_key IS 'The message instance (messages.message_key).';
COMMENT ON COLUMN deliveries.sender IS 'Envelope sender of the message ('''' for bounces).';
COMMENT ON COLUMN deliveries.message_id IS 'Message-ID header of the message.';
COMMENT ON COLUMN deliveries.recipient IS 'Recipient of this attempt.';
COMMENT ON COLUMN deliveries.orig_recipient IS 'Recipient before aliasing or rewriting (orig_to=).';
COMMENT ON COLUMN deliveries.relay IS 'Where it went: host[ip]:port, local, none, a transport.';
COMMENT ON COLUMN deliveries.relay_host IS 'Host part of relay.';
COMMENT ON COLUMN deliveries.relay_ip IS 'IP part of relay.';
COMMENT ON COLUMN deliveries.relay_port IS 'Port part of relay.';
COMMENT ON COLUMN deliveries.delay IS 'Seconds from arrival to this attempt.';
COMMENT ON COLUMN deliveries.delay_before_qmgr IS 'delays=a: before the queue manager.';
COMMENT ON COLUMN deliveries.delay_in_qmgr IS 'delays=b: waiting in the queue manager.';
COMMENT ON COLUMN deliveries.delay_conn IS 'delays=c: connection set-up.';
COMMENT ON COLUMN deliveries.delay_xmit IS 'delays=d: transmission.';
COMMENT ON COLUMN deliveries.dsn IS 'Enhanced status code.';
COMMENT ON COLUMN deliveries.status IS 'sent, deferred, bounced, expired, deliverable, undeliverable, SOFTBOUNCE, …';
COMMENT ON COLUMN deliveries.response IS 'The remote reply or Postfix''s reason, as logged in parentheses.';
COMMENT ON COLUMN deliveries.reason_category IS 'Category of a failed attempt (reason_categories); NULL for a success.';
COMMENT ON COLUMN deliveries.next_queue_id IS 'Queue ID the message got on the next hop (queued as / forwarded as), when logged.';
COMMENT ON COLUMN deliveries.daemon IS 'Delivery agent: smtp, lmtp, local, virtual, pipe, error, …';
COMMENT ON COLUMN deliveries.tls IS 'TLS level of the delivery (Postfix 3.11 tls=).';
COMMENT ON COLUMN deliveries.file_id IS 'Log file of the line (files.file_id).';
COMMENT ON COLUMN deliveries.line_number IS 'Line number in that file.';
