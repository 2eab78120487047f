-- Every understood Postfix line with its typed fields: the narrow ev_* tables, united.
CREATE OR REPLACE VIEW events AS
SELECT file_id, line_number, ts, host, service, daemon, pid, queue_id, kind,
    client_host, client_ip, client_port, sender, recipient, orig_recipient, size, nrcpt,
    message_id, relay, relay_host, relay_ip, relay_port, conn_use, delay, delay_before_qmgr,
    delay_in_qmgr, delay_conn, delay_xmit, tls, dsn, status, response, next_queue_id,
    orig_queue_id, orig_client, sasl_method, sasl_username, sasl_sender, proto, helo, stage,
    code, reason, action, severity, uid, count, detail
FROM (
    SELECT * FROM ev_delivery
    UNION ALL BY NAME SELECT * FROM ev_message
    UNION ALL BY NAME SELECT * FROM ev_session
    UNION ALL BY NAME SELECT * FROM ev_reject
    UNION ALL BY NAME SELECT * FROM ev_other
);

COMMENT ON VIEW events IS 'One row per understood Postfix line, with the fields its kind carries (docs/event-kinds.md); the rest are NULL.';
COMMENT ON COLUMN events.file_id IS 'The log file (files.file_id); with line_number it points at the line in log_lines.';
COMMENT ON COLUMN events.line_number IS 'Line number in the file.';
COMMENT ON COLUMN events.ts IS 'When the line was logged.';
COMMENT ON COLUMN events.host IS 'Host name from the syslog header (the Postfix server).';
COMMENT ON COLUMN events.service IS 'Syslog name without the daemon: postfix, postfix/submission, postfix-out.';
COMMENT ON COLUMN events.daemon IS 'Postfix daemon: smtpd, smtp, qmgr, cleanup, …';
COMMENT ON COLUMN events.pid IS 'Process id of the daemon.';
COMMENT ON COLUMN events.queue_id IS 'Queue ID the line is about (NULL for NOQUEUE).';
COMMENT ON COLUMN events.kind IS 'What the line says: connect, client, queued, delivery, reject, removed, … (docs/event-kinds.md).';
COMMENT ON COLUMN events.client_host IS 'Client host name as smtpd logged it (unknown when it did not resolve).';
COMMENT ON COLUMN events.client_ip IS 'Client IP address (IPv4 or IPv6).';
COMMENT ON COLUMN events.client_port IS 'Client port, when logged.';
COMMENT ON COLUMN events.sender IS 'Envelope sender (from=), without <>; the null sender is the empty string.';
COMMENT ON COLUMN events.recipient IS 'Envelope recipient (to=), without <>.';
COMMENT ON COLUMN events.orig_recipient IS 'Recipient before rewriting (orig_to=).';
COMMENT ON COLUMN events.size IS 'Message size in bytes (qmgr size=).';
COMMENT ON COLUMN events.nrcpt IS 'Number of recipients (qmgr nrcpt=).';
COMMENT ON COLUMN events.message_id IS 'Message-ID header, without <>.';
COMMENT ON COLUMN events.relay IS 'Where delivery went: host[ip]:port, local, none, a pipe transport …';
COMMENT ON COLUMN events.relay_host IS 'Host part of relay.';
COMMENT ON COLUMN events.relay_ip IS 'IP part of relay.';
COMMENT ON COLUMN events.relay_port IS 'Port part of relay.';
COMMENT ON COLUMN events.conn_use IS 'How many times the SMTP connection was reused (conn_use=).';
COMMENT ON COLUMN events.delay IS 'Seconds from arrival to this delivery attempt (delay=).';
COMMENT ON COLUMN events.delay_before_qmgr IS 'delays=a: seconds before the queue manager (incl. arrival).';
COMMENT ON COLUMN events.delay_in_qmgr IS 'delays=b: seconds in the queue manager (queue wait).';
COMMENT ON COLUMN events.delay_conn IS 'delays=c: seconds for connection set-up (DNS, HELO, TLS).';
COMMENT ON COLUMN events.delay_xmit IS 'delays=d: seconds transmitting the message.';
COMMENT ON COLUMN events.tls IS 'TLS details: the protocol and cipher of a TLS line, or 3.11 tls= of a delivery.';
COMMENT ON COLUMN events.dsn IS 'Enhanced status code (dsn=, or of a reject reply): 2.0.0, 5.1.1, …';
COMMENT ON COLUMN events.status IS 'Delivery status: sent, deferred, bounced, expired, deliverable, undeliverable, …';
COMMENT ON COLUMN events.response IS 'Text in the parentheses after status= (the remote reply or Postfix''s reason).';
COMMENT ON COLUMN events.next_queue_id IS 'Queue ID this one led to: queued as / forwarded as / the notification''s ID.';
COMMENT ON COLUMN events.orig_queue_id IS 'Queue ID this one came from (client=… orig_queue_id=, pickup orig_id=).';
COMMENT ON COLUMN events.orig_client IS 'Original client of a re-injected message (XFORWARD).';
COMMENT ON COLUMN events.sasl_method IS 'SASL mechanism (PLAIN, LOGIN, …).';
COMMENT ON COLUMN events.sasl_username IS 'SASL user name.';
COMMENT ON COLUMN events.sasl_sender IS 'SASL sender (sasl_sender=).';
COMMENT ON COLUMN events.proto IS 'SMTP or ESMTP, from a reject line.';
COMMENT ON COLUMN events.helo IS 'HELO/EHLO name, from a reject line.';
COMMENT ON COLUMN events.stage IS 'SMTP stage or check: CONNECT, EHLO, MAIL, RCPT, DATA, END-OF-MESSAGE, header, body; the command after which a session was lost.';
COMMENT ON COLUMN events.code IS 'SMTP reply code (554, 450, …).';
COMMENT ON COLUMN events.reason IS 'Why: the reject reply text, a TLS or SASL failure, a connection error.';
COMMENT ON COLUMN events.action IS 'The action word Postfix logged (reject, reject_warning, hold, discard, milter-reject, PASS NEW, …).';
COMMENT ON COLUMN events.severity IS 'warning, error, fatal or panic for problem lines.';
COMMENT ON COLUMN events.uid IS 'User id of a local submission (pickup uid=).';
COMMENT ON COLUMN events.count IS 'A number the line carries: SMTP commands of a session, DNSBL rank, messages postsuper touched, anvil maxima.';
COMMENT ON COLUMN events.detail IS 'The rest of the line worth keeping: disconnect command stats, a warning''s text, a header that matched.';
