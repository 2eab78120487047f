-- One row per message instance and recipient: what finally became of it.
CREATE OR REPLACE VIEW recipients_live AS
WITH attempts AS (
    SELECT host, queue_id, message_key, message_sender, message_message_id, message_expired,
        message_deleted, message_held, message_discarded,
        recipient, orig_recipient, ts, file_id, line_number,
        CASE WHEN kind = 'delivery' THEN status ELSE 'rejected' END AS status,
        dsn, CASE WHEN kind = 'delivery' THEN response ELSE reason END AS response,
        reason_category(dsn, CASE WHEN kind = 'delivery' THEN response ELSE reason END)
            AS category
    FROM message_events
    WHERE kind = 'delivery'
       -- a recipient smtpd refused while it accepted the message for others ("QID: reject: RCPT")
       OR (kind IN ('reject', 'milter_reject') AND stage = 'RCPT' AND recipient IS NOT NULL)
), last AS (
    SELECT host, queue_id, message_key, recipient,
        any_value(message_sender) AS sender,
        any_value(message_message_id) AS message_id,
        max(orig_recipient) AS orig_recipient,
        count(*) FILTER (WHERE status <> 'rejected') AS attempts,
        min(ts) AS first_attempt,
        max(ts) AS last_attempt,
        arg_max(status, (ts, file_id, line_number)) AS last_status,
        arg_max(dsn, (ts, file_id, line_number)) AS dsn,
        arg_max(response, (ts, file_id, line_number)) AS response,
        arg_max(category, (ts, file_id, line_number)) AS last_category,
        bool_or(message_expired) AS expired,
        bool_or(message_deleted) AS deleted,
        bool_or(message_held) AS held,
        bool_or(message_discarded) AS discarded
    FROM attempts
    GROUP BY host, queue_id, message_key, recipient
), final AS (
    SELECT *,
        CASE
            WHEN last_status IN ('sent', 'deliverable') THEN 'sent'
            WHEN last_status IN ('bounced', 'undeliverable') THEN 'bounced'
            WHEN last_status IN ('expired', 'rejected') THEN last_status
            WHEN expired THEN 'expired'
            WHEN deleted THEN 'deleted'
            WHEN held THEN 'held'
            WHEN discarded THEN 'discarded'
            ELSE 'deferred'
        END AS status
    FROM last
)
SELECT message_key, host, queue_id, message_id, sender, recipient, orig_recipient, status,
    attempts, first_attempt, last_attempt, dsn, response,
    CASE WHEN status = 'expired' THEN 'expired'
         WHEN status IN ('sent', 'held', 'deleted', 'discarded') THEN NULL
         ELSE last_category END AS reason_category,
    queue_key(queue_id) AS queue_key
FROM final;

-- stored, and kept current batch by batch (see 40_message_facts.sql)
CREATE OR REPLACE TABLE recipients_cache AS SELECT * FROM recipients_live
    ORDER BY last_attempt;  -- in time order, as batches append rows: time bounds skip row groups
-- the stored category, or worked out again while reason_categories has changed since
CREATE OR REPLACE VIEW recipients AS
SELECT * REPLACE (
    CASE WHEN stored_categories_current() THEN reason_category
         WHEN status = 'expired' THEN 'expired'
         WHEN status IN ('sent', 'held', 'deleted', 'discarded') THEN NULL
         ELSE reason_category(dsn, response)
    END AS reason_category)
FROM recipients_cache;

COMMENT ON VIEW recipients IS 'One row per message instance and recipient: the final outcome after all attempts.';
COMMENT ON COLUMN recipients.message_key IS 'The message instance (messages.message_key).';
COMMENT ON COLUMN recipients.host IS 'The Postfix server.';
COMMENT ON COLUMN recipients.queue_id IS 'Queue ID of the message.';
COMMENT ON COLUMN recipients.queue_key IS 'queue_key(queue_id): a number to find a queue ID fast, as in WHERE queue_key = queue_key(''4F9D5F4B8C'') AND queue_id = ''4F9D5F4B8C''.';
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
