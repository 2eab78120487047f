-- One row per message instance and recipient: what finally became of it.
CREATE OR REPLACE VIEW recipients AS
WITH attempts AS (
    SELECT host, queue_id, message_key, recipient, orig_recipient, ts, file_id, line_number,
        status, dsn, response, reason_category
    FROM deliveries
    UNION ALL
    -- a recipient smtpd refused while it accepted the message for others ("QID: reject: RCPT")
    SELECT host, queue_id, message_key, recipient, NULL, ts, file_id, line_number, 'rejected',
        dsn, reason, reason_category(dsn, reason)
    FROM message_events
    WHERE kind IN ('reject', 'milter_reject') AND stage = 'RCPT' AND recipient IS NOT NULL
), last AS (
    SELECT host, queue_id, message_key, recipient,
        max(orig_recipient) AS orig_recipient,
        count(*) FILTER (WHERE status <> 'rejected') AS attempts,
        min(ts) AS first_attempt,
        max(ts) AS last_attempt,
        arg_max(status, (ts, file_id, line_number)) AS last_status,
        arg_max(dsn, (ts, file_id, line_number)) AS dsn,
        arg_max(response, (ts, file_id, line_number)) AS response,
        arg_max(reason_category, (ts, file_id, line_number)) AS last_category
    FROM attempts
    GROUP BY host, queue_id, message_key, recipient
), final AS (
    SELECT l.*, m.message_id, m.sender,
        CASE
            WHEN last_status IN ('sent', 'deliverable') THEN 'sent'
            WHEN last_status IN ('bounced', 'undeliverable') THEN 'bounced'
            WHEN last_status IN ('expired', 'rejected') THEN last_status
            WHEN m.was_expired THEN 'expired'
            WHEN m.was_deleted THEN 'deleted'
            WHEN m.is_held THEN 'held'
            WHEN m.was_discarded THEN 'discarded'
            ELSE 'deferred'
        END AS status
    FROM last AS l
    JOIN message_facts AS m USING (host, queue_id, message_key)
)
SELECT message_key, host, queue_id, message_id, sender, recipient, orig_recipient, status,
    attempts, first_attempt, last_attempt, dsn, response,
    CASE WHEN status = 'expired' THEN 'expired'
         WHEN status IN ('sent', 'held', 'deleted', 'discarded') THEN NULL
         ELSE last_category END AS reason_category
FROM final;

COMMENT ON VIEW recipients IS 'One row per message instance and recipient: the final outcome after all attempts.';
COMMENT ON COLUMN recipients.message_key IS 'The message instance (messages.message_key).';
COMMENT ON COLUMN recipients.host IS 'The Postfix server.';
COMMENT ON COLUMN recipients.queue_id IS 'Queue ID of the message.';
COMMENT ON COLUMN recipients.message_id IS 'Message-ID header of the message.';
COMMENT ON COLUMN recipients.sender IS 'Envelope sender.';
COMMENT ON COLUMN recipients.recipient IS 'The recipient.';
COMMENT ON COLUMN recipients.orig_recipient IS 'The address it was sent to before aliasing, when it differs.';
COMMENT ON COLUMN recipients.status IS 'Final outcome: sent, bounced, expired (deferred until the queue lifetime ran out), deferred (still queued), deleted (postsuper -d), held, discarded, rejected (refused at RCPT while others were accepted).';
COMMENT ON COLUMN recipients.attempts IS 'Delivery attempts (to= lines) for this recipient.';
COMMENT ON COLUMN recipients.first_attempt IS 'Time of the first attempt.';
COMMENT ON COLUMN recipients.last_attempt IS 'Time of the last attempt.';
COMMENT ON COLUMN recipients.dsn IS 'Enhanced status code of the last attempt.';
COMMENT ON COLUMN recipients.response IS 'Reply text of the last attempt.';
COMMENT ON COLUMN recipients.reason_category IS 'Why it was not delivered (reason_categories); NULL when sent, held, deleted or discarded.';
