-- Every input line, parsed or not, with where it came from.
CREATE OR REPLACE VIEW log_lines AS
SELECT f.path AS file, l."offset", l.line_number, l.ts, l.host, l.program, l.pid,
       l.queue_id, l.kind, l.raw, l.raw_bytes
FROM lines AS l JOIN files AS f USING (file_id);

COMMENT ON VIEW log_lines IS 'One row per input line: parsed, unparsed (a Postfix line no rule understood) or foreign (another program''s line).';
COMMENT ON COLUMN log_lines.file IS 'Path of the log file, as given to mailidx build (the latest name after rotation).';
COMMENT ON COLUMN log_lines."offset" IS 'Byte offset of the line in the decompressed file.';
COMMENT ON COLUMN log_lines.line_number IS 'Line number in the file, from 1.';
COMMENT ON COLUMN log_lines.ts IS 'When the line was logged; year-less syslog times get their year from the file (see README).';
COMMENT ON COLUMN log_lines.host IS 'Host name from the syslog header.';
COMMENT ON COLUMN log_lines.program IS 'Syslog program name, e.g. postfix/smtpd or postfix/submission/smtpd.';
COMMENT ON COLUMN log_lines.pid IS 'Process id from the syslog header.';
COMMENT ON COLUMN log_lines.queue_id IS 'Postfix queue ID the line is about (NULL for NOQUEUE and lines without one).';
COMMENT ON COLUMN log_lines.kind IS 'Event kind (see events.kind), or unparsed, or foreign.';
COMMENT ON COLUMN log_lines.raw IS 'The line as read, without its newline (bytes that are not UTF-8 shown as \xNN).';
COMMENT ON COLUMN log_lines.raw_bytes IS 'The exact bytes of the line when it is not valid UTF-8, else NULL.';
