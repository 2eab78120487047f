-- One row per message instance and recipient: what finally became of it.
CREATE OR REPLACE VIEW recipients_live AS
WITH attempts AS (
    -- Postfix logs one to= line per original recipient: an alias expanded to two mailboxes
    -- gives two lines with the same orig_to=, and a mailbox also named directly a third line
    -- without one, so a recipient is (recipient, orig_recipient), '' when there is none.
    SELECT host, queue_id, message_key, message_sender, message_message_id, message_expired,
        message_deleted, message_held, message_discarded,
        recipient, coalesce(orig_recipient, '') AS orig_recipient, ts, file_id, line_number,
        CASE WHEN kind = 'delivery' THEN 'delivery'
             WHEN daemon = 'cleanup' THEN 'cleanup'
             ELSE 'smtpd' END AS known_from,
        CASE WHEN kind = 'delivery' THEN status
             WHEN kind = 'hold' THEN 'held'
             WHEN kind = 'discard' THEN 'discarded'
             ELSE 'rejected' END AS status,
        dsn, CASE WHEN kind = 'delivery' THEN response ELSE reason END AS response,
        reason_category(dsn, CASE WHEN kind = 'delivery' THEN response ELSE reason END)
            AS category
    FROM message_events
    WHERE kind = 'delivery'
       -- a recipient smtpd refused while it accepted the message for others ("QID: reject: RCPT")
       OR (kind IN ('reject', 'milter_reject') AND stage = 'RCPT' AND recipient IS NOT NULL)
       -- a message cleanup (header/body checks, a milter) or smtpd held, discarded or
       -- rejected: the line names the envelope (cleanup: one recipient only, the last one given)
       OR (kind IN ('hold', 'discard') AND recipient IS NOT NULL)
       OR (kind IN ('reject', 'milter_reject') AND daemon = 'cleanup' AND recipient IS NOT NULL)
), delivered AS (
    -- what qmgr delivered or tried: once it did, its to= lines name every recipient, so the
    -- recipient a hold/discard line named is one of them (held, released, then delivered)
    SELECT *,
        list(lower(recipient)) FILTER (WHERE known_from = 'delivery')
            OVER (PARTITION BY host, queue_id, message_key) AS tried,
        list(lower(orig_recipient)) FILTER (WHERE known_from = 'delivery')
            OVER (PARTITION BY host, queue_id, message_key) AS tried_orig
    FROM attempts
), last AS (
    SELECT host, queue_id, message_key, recipient, orig_recipient,
        any_value(message_sender) AS sender,
        any_value(message_message_id) AS message_id,
        CASE WHEN bool_or(known_from = 'delivery') THEN 'delivery'
             WHEN bool_or(known_from = 'smtpd') THEN 'smtpd'
             ELSE 'cleanup' END AS recipient_known_from,
        count(*) FILTER (WHERE known_from = 'delivery') AS attempts,
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
    FROM delivered
    WHERE known_from <> 'cleanup' AND NOT (known_from = 'smtpd' AND status IN ('held', 'discarded'))
       OR NOT (list_contains(coalesce(tried, []), lower(recipient))
               OR list_contains(coalesce(tried_orig, []), lower(recipient)))
    GROUP BY host, queue_id, message_key, recipient, orig_recipient
), final AS (
    SELECT *,
        CASE
            WHEN last_status IN ('sent', 'deliverable') THEN 'sent'
            WHEN last_status IN ('bounced', 'undeliverable') THEN 'bounced'
            WHEN last_status IN ('expired', 'rejected') THEN last_status
            WHEN expired THEN 'expired'
            WHEN deleted THEN 'deleted'
            WHEN held THEN 'held'
            WHEN discarded OR last_status = 'discarded' THEN 'discarded'
            ELSE 'deferred'
        END AS status
    FROM last
)
SELECT message_key, host, queue_id, message_id, sender, recipient, orig_recipient, status,
    attempts, first_attempt, last_attempt, dsn, response,
    CASE WHEN status = 'expired' THEN 'expired'
         WHEN status IN ('sent', 'held', 'deleted', 'discarded') THEN NULL
         ELSE last_category END AS reason_category,
    recipient_known_from,
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

COMMENT ON VIEW recipients IS 'One row per message instance and original recipient (recipient, orig_recipient): the final outcome after all attempts. An alias expanded to two mailboxes is two rows.';
COMMENT ON COLUMN recipients.message_key IS 'The message instance (messages.message_key).';
COMMENT ON COLUMN recipients.host IS 'The Postfix server.';
COMMENT ON COLUMN recipients.queue_id IS 'Queue ID of the message.';
COMMENT ON COLUMN recipients.queue_key IS 'queue_key(queue_id): a number to find a queue ID fast, as in WHERE queue_key = queue_key(''4F9D5F4B8C'') AND queue_id = ''4F9D5F4B8C''.';
COMMENT ON COLUMN recipients.message_id IS 'Message-ID header of the message.';
COMMENT ON COLUMN recipients.sender IS 'Envelope sender.';
COMMENT ON COLUMN recipients.recipient IS 'The recipient.';
COMMENT ON COLUMN recipients.orig_recipient IS 'The address it was sent to before aliasing (orig_to=), or the empty string when Postfix logged none; with recipient the key of the row.';
COMMENT ON COLUMN recipients.status IS 'Final outcome: sent, bounced, expired (deferred until the queue lifetime ran out), deferred (still queued), deleted (postsuper -d), held (in the hold queue: postsuper -h or a HOLD action), discarded (a DISCARD action), rejected (refused at RCPT while others were accepted, or by a header/body check or milter).';
COMMENT ON COLUMN recipients.attempts IS 'Delivery attempts (to= lines) for this recipient.';
COMMENT ON COLUMN recipients.first_attempt IS 'Time of the first attempt.';
COMMENT ON COLUMN recipients.last_attempt IS 'Time of the last attempt.';
COMMENT ON COLUMN recipients.dsn IS 'Enhanced status code of the last attempt.';
COMMENT ON COLUMN recipients.response IS 'Reply text of the last attempt.';
COMMENT ON COLUMN recipients.recipient_known_from IS 'Which line names the recipient: delivery (qmgr''s delivery lines, which name every recipient), smtpd (a RCPT refusal or HOLD/DISCARD action), cleanup (a header/body check or milter HOLD, DISCARD or REJECT of a message qmgr never delivered: cleanup names only ONE recipient (Postfix 3.7: the last one given), so the others of such a message have no row).';
COMMENT ON COLUMN recipients.reason_category IS 'Why it was not delivered (reason_categories); NULL when sent, held, deleted or discarded.';
