-- Refusals before or while a message is queued: smtpd access checks, postscreen, milters,
-- cleanup header/body checks, before-queue filters; and the warnings that are refusals too.
CREATE OR REPLACE VIEW rejects_live AS
SELECT ts, host, service, daemon, queue_id,
    CASE WHEN kind IN ('header_warning', 'replace', 'prepend', 'info', 'milter_header')
              AND stage IS NULL THEN 'header' ELSE stage END AS stage,
    client_host, client_ip, sender, recipient, helo, proto, code, dsn, reason,
    reason_category(dsn, reason) AS reason_category,
    coalesce(action, kind) AS action, kind, file_id, line_number
FROM events
WHERE kind IN ('reject', 'reject_warning', 'milter_reject', 'proxy_reject', 'hold', 'discard',
               'redirect', 'filter', 'header_warning')
UNION ALL
-- smtpd refuses with a 4xx/5xx reply but logs only a warning for these two
SELECT ts, host, service, daemon, queue_id, NULL, client_host, client_ip, NULL, NULL, NULL,
    NULL, NULL, NULL, detail,
    CASE WHEN contains(detail, 'rate limit') THEN 'rate_limit' ELSE 'size' END,
    'reject', kind, file_id, line_number
FROM events
WHERE kind = 'warning' AND daemon = 'smtpd'  -- cleanup repeats the size one
  AND (contains(detail, 'rate limit exceeded') OR contains(detail, 'size limit exceeded'));

-- stored: each row comes from one line, so a batch appends the rows of its own lines
CREATE OR REPLACE TABLE rejects_cache AS SELECT * FROM rejects_live
    ORDER BY ts;  -- in time order, as batches append rows: time bounds skip row groups
-- the stored category, or worked out again while reason_categories has changed since
CREATE OR REPLACE VIEW rejects AS
SELECT * REPLACE (
    CASE WHEN stored_categories_current() OR kind = 'warning' THEN reason_category
         ELSE reason_category(dsn, reason)
    END AS reason_category)
FROM rejects_cache;

COMMENT ON VIEW rejects IS 'One row per refusal: NOQUEUE and queued rejects, postscreen, milter, before-queue filter, header/body checks, rate and size limits.';
COMMENT ON COLUMN rejects.ts IS 'When it was logged.';
COMMENT ON COLUMN rejects.host IS 'The Postfix server.';
COMMENT ON COLUMN rejects.service IS 'Syslog name without the daemon (postfix, postfix/submission).';
COMMENT ON COLUMN rejects.daemon IS 'smtpd, postscreen, cleanup.';
COMMENT ON COLUMN rejects.queue_id IS 'Queue ID when the message was already queued; NULL for NOQUEUE.';
COMMENT ON COLUMN rejects.stage IS 'CONNECT, HELO/EHLO, MAIL, RCPT, DATA, END-OF-MESSAGE, header, body.';
COMMENT ON COLUMN rejects.client_host IS 'Client host name.';
COMMENT ON COLUMN rejects.client_ip IS 'Client IP address.';
COMMENT ON COLUMN rejects.sender IS 'Envelope sender, when logged.';
COMMENT ON COLUMN rejects.recipient IS 'Envelope recipient, when logged.';
COMMENT ON COLUMN rejects.helo IS 'HELO name, when logged.';
COMMENT ON COLUMN rejects.proto IS 'SMTP or ESMTP.';
COMMENT ON COLUMN rejects.code IS 'SMTP reply code.';
COMMENT ON COLUMN rejects.dsn IS 'Enhanced status code.';
COMMENT ON COLUMN rejects.reason IS 'The reply text (or the header that matched).';
COMMENT ON COLUMN rejects.reason_category IS 'Category of the reason (reason_categories).';
COMMENT ON COLUMN rejects.action IS 'reject, reject_warning (would have rejected), milter-reject, proxy-reject, hold, discard, redirect, filter, warning (a header/body WARN).';
COMMENT ON COLUMN rejects.kind IS 'The event kind of the line.';
COMMENT ON COLUMN rejects.file_id IS 'Log file of the line.';
COMMENT ON COLUMN rejects.line_number IS 'Line number in that file.';
