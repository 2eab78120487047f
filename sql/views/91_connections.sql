-- SMTP sessions: smtpd from connect to disconnect (by host and process), postscreen from
-- CONNECT to PASS or DISCONNECT (by client address and port).
CREATE OR REPLACE VIEW connections AS
WITH smtpd AS (
    SELECT *,
        sum(CASE WHEN kind = 'connect' THEN 1 ELSE 0 END) OVER (
            PARTITION BY host, service, pid ORDER BY ts, file_id, line_number) AS session
    FROM events
    WHERE daemon = 'smtpd' AND pid IS NOT NULL
), postscreen AS (
    SELECT *,
        sum(CASE WHEN kind = 'connect' THEN 1 ELSE 0 END) OVER (
            PARTITION BY host, client_ip, client_port ORDER BY ts, file_id, line_number) AS session
    FROM events
    WHERE daemon = 'postscreen' AND client_ip IS NOT NULL
), sessions AS (
    SELECT host, service, daemon, pid, session, NULL::INTEGER AS client_port,
        arg_min(client_host, ts) FILTER (WHERE kind = 'connect') AS client_host,
        arg_min(client_ip, ts) FILTER (WHERE kind = 'connect') AS client_ip,
        min(ts) FILTER (WHERE kind = 'connect') AS connect_at,
        max(ts) FILTER (WHERE kind = 'disconnect') AS disconnect_at,
        arg_min(detail, (ts, file_id, line_number)) FILTER (WHERE kind = 'disconnect') AS commands,
        arg_min(count, (ts, file_id, line_number)) FILTER (WHERE kind = 'disconnect') AS command_count,
        arg_min(tls, (ts, file_id, line_number)) FILTER (WHERE kind = 'tls') AS tls,
        arg_min(sasl_username, (ts, file_id, line_number)) FILTER (WHERE kind = 'client') AS sasl_username,
        count(*) FILTER (WHERE kind = 'sasl_failed') AS sasl_failures,
        list(DISTINCT queue_id ORDER BY queue_id) FILTER (WHERE kind = 'client') AS queue_ids,
        count(*) FILTER (WHERE kind IN ('reject', 'milter_reject', 'proxy_reject')) AS rejects,
        arg_min(action || ' after ' || stage, (ts, file_id, line_number)) FILTER (WHERE kind = 'lost_connection') AS lost
    FROM smtpd
    WHERE session > 0
    GROUP BY host, service, daemon, pid, session
    UNION ALL
    SELECT host, service, daemon, min(pid), session, client_port,
        NULL, client_ip,
        min(ts) FILTER (WHERE kind = 'connect'),
        max(ts) FILTER (WHERE kind IN ('disconnect', 'pass_new', 'pass_old', 'hangup')),
        string_agg(DISTINCT kind, ' ' ORDER BY kind) FILTER (WHERE kind NOT IN ('connect', 'disconnect')),
        NULL, NULL, NULL, 0, NULL,
        count(*) FILTER (WHERE kind = 'reject'),
        NULL
    FROM postscreen
    WHERE session > 0
    GROUP BY host, service, daemon, session, client_ip, client_port
)
SELECT host, service, daemon, pid, client_host, client_ip, client_port, connect_at,
    disconnect_at, commands, command_count, tls, sasl_username, sasl_failures, queue_ids,
    rejects,
    CASE
        WHEN len(coalesce(queue_ids, [])) > 0 THEN 'queued'
        WHEN daemon = 'postscreen' AND contains(coalesce(commands, ''), 'pass') THEN 'passed'
        WHEN rejects > 0 THEN 'rejected'
        WHEN lost IS NOT NULL THEN lost
        WHEN disconnect_at IS NULL THEN 'open'
        ELSE 'no mail'
    END AS outcome
FROM sessions;

COMMENT ON VIEW connections IS 'One row per SMTP session: smtpd connect→disconnect, postscreen CONNECT→PASS/DISCONNECT.';
COMMENT ON COLUMN connections.host IS 'The Postfix server.';
COMMENT ON COLUMN connections.service IS 'Syslog name without the daemon (postfix, postfix/submission).';
COMMENT ON COLUMN connections.daemon IS 'smtpd or postscreen.';
COMMENT ON COLUMN connections.pid IS 'Process id of the daemon.';
COMMENT ON COLUMN connections.client_host IS 'Client host name (smtpd).';
COMMENT ON COLUMN connections.client_ip IS 'Client IP address.';
COMMENT ON COLUMN connections.client_port IS 'Client port (postscreen).';
COMMENT ON COLUMN connections.connect_at IS 'When the client connected.';
COMMENT ON COLUMN connections.disconnect_at IS 'When the session ended (NULL while open or when the log stops first).';
COMMENT ON COLUMN connections.commands IS 'smtpd: the command counts of the disconnect line (ehlo=1 mail=1 …); postscreen: what it logged (pass_new, dnsbl, pregreet …).';
COMMENT ON COLUMN connections.command_count IS 'SMTP commands in the session (commands=).';
COMMENT ON COLUMN connections.tls IS 'TLS protocol and cipher, when TLS was used.';
COMMENT ON COLUMN connections.sasl_username IS 'Who authenticated.';
COMMENT ON COLUMN connections.sasl_failures IS 'Failed SASL attempts in the session.';
COMMENT ON COLUMN connections.queue_ids IS 'Queue IDs of the messages the session produced.';
COMMENT ON COLUMN connections.rejects IS 'Refusals in the session.';
COMMENT ON COLUMN connections.outcome IS 'queued, passed (postscreen), rejected, lost connection after …, timeout after …, open, no mail.';

-- Warnings, errors, fatal errors and panics, from every daemon.
CREATE OR REPLACE VIEW problems AS
SELECT ts, host, service, daemon, pid, coalesce(severity, kind) AS severity, queue_id,
    client_ip, coalesce(detail, reason) AS text, kind, file_id, line_number
FROM events
WHERE severity IS NOT NULL OR kind IN ('warning', 'error', 'fatal', 'panic');

COMMENT ON VIEW problems IS 'One row per warning, error, fatal or panic line.';
COMMENT ON COLUMN problems.ts IS 'When it was logged.';
COMMENT ON COLUMN problems.host IS 'The Postfix server.';
COMMENT ON COLUMN problems.service IS 'Syslog name without the daemon.';
COMMENT ON COLUMN problems.daemon IS 'The daemon that complained.';
COMMENT ON COLUMN problems.pid IS 'Its process id.';
COMMENT ON COLUMN problems.severity IS 'warning, error, fatal or panic.';
COMMENT ON COLUMN problems.queue_id IS 'The message it is about, if any.';
COMMENT ON COLUMN problems.client_ip IS 'The client it is about, if any.';
COMMENT ON COLUMN problems.text IS 'What it said.';
COMMENT ON COLUMN problems.kind IS 'Event kind (warning, or a more specific one such as sasl_failed).';
COMMENT ON COLUMN problems.file_id IS 'Log file of the line.';
COMMENT ON COLUMN problems.line_number IS 'Line number in that file.';
