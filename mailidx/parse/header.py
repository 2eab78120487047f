"""The syslog header step: one SELECT cutting each line into time, host, program, pid, the
queue-ID prefix and the body, and picking the body's rule (:mod:`mailidx.parse.classify`).

Parsing runs inside DuckDB (RE2, vectorised, both cores) because a Python loop costs ~10 µs a
line. The input relation (``batch``) has columns file_id, line_number, offset, raw, raw_bytes
and year (one batch may hold lines of several files). The step yields ts, host, program, pid,
service, daemon, queue_id, body, rule (index into RULES, -1 for an unparsed Postfix line, -2
for another program's line).
"""

from __future__ import annotations

from functools import cache

from mailidx.parse.classify import classify_sql, sql_str
from mailidx.parse.rules import POSTFIX_DAEMONS

SYSLOG_HEADER = (
    r"^(?:<\d+>)?(?P<ts>(?:[A-Z][a-z]{2} +\d{1,2} |\d{4}-\d\d-\d\d[T ])\d\d:\d\d:\d\d"
    r"(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?) (?P<host>\S+) (?P<program>[^\s\[:]+)"
    r"(?:\[(?P<pid>\d+)\])?: ?(?P<msg>.*)$"
)
RFC5424_HEADER = (
    r"^<\d+>1 (?P<ts>\S+) (?P<host>\S+) (?P<program>\S+) (?P<pid>\S+) \S+ (?:-|\[.*?\]) ?"
    r"(?P<msg>.*)$"
)
HEADER_NAMES = ["ts", "host", "program", "pid", "msg"]
# The classic header after its 15 characters of time, as nearly every line has it: host,
# program (no ":" or "[" in it), the pid, then a queue ID candidate (up to 25 letters and
# digits before the message's first ": "; QUEUE_ID decides). RE2 runs it in one pass (one way
# through for each character) and its groups are short: 0.34 CPU-s per million lines, where
# cutting the same by position took 0.9, and capturing the message's long tail takes several
# µs a line. A classic header it does not take (empty host or tag, a tag with ":" or "[" in
# it) is cut by position as before.
QUICK_HEADER = r"^.{15} ([^ ]+) ([^ \[:]+)(?:\[([0-9]+)\])?: (?:([0-9A-Za-z]{5,25}): )?"
QUICK_NAMES = ["host", "program", "pid", "qid"]
# Short IDs are upper-case hex, long ones base-52 without vowels; sanitised logs carry
# other tokens (ABC123), so any upper-case or digit-bearing word before ": " counts.
QUEUE_ID = (
    r"NOQUEUE|[0-9A-Z]{5,}|[0-9A-Za-z]*[0-9][0-9A-Za-z]*|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,}"
)
WARNING_QUEUE_ID = r"^warning: ([0-9A-F]{5,}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,}): "
MONTHS = "JanFebMarAprMayJunJulAugSepOctNovDec"


def header_sql(source: str = "batch") -> str:
    """SELECT over ``source`` giving the per-line columns, rule index and body.

    ``source`` also has a ``year`` column: the year of each line if its time has none
    (see :func:`mailidx.ingest.years.years`).
    """
    names = "[" + ", ".join(sql_str(n) for n in HEADER_NAMES) + "]"
    quick_names = "[" + ", ".join(sql_str(n) for n in QUICK_NAMES) + "]"
    daemons = "[" + ", ".join(sql_str(d) for d in POSTFIX_DAEMONS) + "]"
    return f"""
WITH f AS (
    SELECT file_id, line_number, "offset", raw, raw_bytes, year,
        -- the common case, "Mmm dd hh:mm:ss host tag: msg", is cut by position
        substr(raw, 4, 1) = ' ' AND substr(raw, 7, 1) = ' ' AND substr(raw, 10, 1) = ':'
            AND substr(raw, 16, 1) = ' ' AS fast
    FROM {source}
), g AS (
    SELECT *,
        CASE WHEN fast THEN regexp_extract(raw, {sql_str(QUICK_HEADER)}, {quick_names}) END AS g,
        CASE WHEN fast THEN NULL
             WHEN starts_with(raw, '<') AND regexp_matches(raw, '^<\\d+>1 ')
             THEN regexp_extract(raw, {sql_str(RFC5424_HEADER)}, {names})
             ELSE regexp_extract(raw, {sql_str(SYSLOG_HEADER)}, {names}) END AS h
    FROM f
), h AS (
    SELECT *, fast AND g.host <> '' AS quick,
        -- a classic header QUICK_HEADER does not take is cut step by step
        CASE WHEN fast AND g.host = '' THEN substr(raw, 17) END AS rest
    FROM g
), t AS (
    SELECT *,
        CASE WHEN quick THEN g.host WHEN fast THEN substr(rest, 1, strpos(rest, ' ') - 1)
             ELSE nullif(h.host, '') END AS host,
        CASE WHEN fast AND NOT quick THEN substr(rest, strpos(rest, ' ') + 1) END AS after
    FROM h
), u AS (
    SELECT *, CASE WHEN fast AND NOT quick THEN strpos(after, ': ') END AS colon
    FROM t
), v AS (
    SELECT *,
        CASE WHEN quick OR NOT fast THEN NULL
             WHEN colon > 1 AND NOT contains(substr(after, 1, colon - 1), ' ')
             THEN substr(after, 1, colon - 1) END AS tag
    FROM u
), p AS (
    SELECT file_id, line_number, "offset", raw, raw_bytes, year, host,
        CASE WHEN fast THEN substr(raw, 1, 15) ELSE nullif(h.ts, '') END AS ts_text,
        CASE WHEN quick THEN g.program
             WHEN NOT fast THEN nullif(h.program, '')
             WHEN ends_with(tag, ']') AND contains(tag, '[')
             THEN substr(tag, 1, strpos(tag, '[') - 1)
             ELSE tag END AS program,
        CASE WHEN quick THEN TRY_CAST(nullif(g.pid, '') AS INTEGER)
             WHEN NOT fast THEN TRY_CAST(nullif(h.pid, '') AS INTEGER)
             WHEN ends_with(tag, ']') AND contains(tag, '[')
             THEN TRY_CAST(substr(tag, strpos(tag, '[') + 1, length(tag) - strpos(tag, '[') - 1)
                  AS INTEGER) END AS pid,
        CASE WHEN quick
             THEN substr(raw, 20 + length(g.host) + length(g.program)
                              + CASE WHEN g.pid <> '' THEN length(g.pid) + 2 ELSE 0 END)
             WHEN NOT fast THEN h.msg WHEN tag IS NULL THEN after
             ELSE substr(after, colon + 2) END AS msg,
        CASE WHEN quick THEN g.qid END AS quick_qid
    FROM v
), c AS (
    SELECT *,
        string_split(program, '/')[-1] AS daemon,
        CASE WHEN substr(ts_text, 1, 1) BETWEEN 'A' AND 'Z'
             THEN (strpos({sql_str(MONTHS)}, substr(ts_text, 1, 3)) + 2) // 3 END AS month
    FROM p
), q AS (
    SELECT *,
        program IS NOT NULL AND (starts_with(program, 'postfix')
            OR (contains(program, '/') AND list_contains({daemons}, daemon))) AS is_postfix,
        CASE WHEN contains(program, '/')
             THEN left(program, length(program) - length(daemon) - 1) ELSE program END
            AS service,
        CASE WHEN quick_qid IS NOT NULL THEN length(quick_qid) + 1 ELSE strpos(msg, ': ') END
            AS qcolon
    FROM c
), r AS (
    SELECT *,
        CASE WHEN NOT is_postfix THEN NULL
             WHEN quick_qid IS NOT NULL
             THEN CASE WHEN quick_qid <> '' AND regexp_full_match(quick_qid, {sql_str(QUEUE_ID)})
                       THEN quick_qid END
             WHEN qcolon BETWEEN 6 AND 26
                  AND regexp_full_match(substr(msg, 1, qcolon - 1), {sql_str(QUEUE_ID)})
             THEN substr(msg, 1, qcolon - 1) END AS qid,
        -- "warning: QID: text": the queue ID of a warning about one message
        CASE WHEN is_postfix AND starts_with(msg, 'warning: ')
                  AND regexp_matches(msg, {sql_str(WARNING_QUEUE_ID)})
             THEN regexp_extract(msg, {sql_str(WARNING_QUEUE_ID)}, 1) END AS warning_qid
    FROM q
), b AS (
    SELECT file_id, line_number, "offset", raw, raw_bytes, host, program, pid, service, daemon,
        is_postfix, month, year,
        CASE WHEN month > 0 THEN
                 TRY_CAST(try_strptime(year::VARCHAR || ' ' || ts_text,
                     ['%Y %b %d %H:%M:%S', '%Y %b %d %H:%M:%S.%f']) AS TIMESTAMPTZ)
             ELSE TRY_CAST(ts_text AS TIMESTAMPTZ) END AS ts,
        CASE WHEN qid <> 'NOQUEUE' THEN qid ELSE warning_qid END AS queue_id,
        CASE WHEN NOT is_postfix THEN NULL
             WHEN qid IS NOT NULL THEN substr(msg, qcolon + 2)
             WHEN warning_qid IS NOT NULL
             THEN 'warning: ' || substr(msg, length(warning_qid) + 12)
             ELSE msg END AS untrimmed
    FROM r
), trimmed AS (
    -- CRLF: the CR is no part of the last field. The body ends where the line does, so
    -- only a line ending in a space or CR is trimmed (rtrim on every body cost 0.4 CPU-s
    -- per million lines)
    SELECT * EXCLUDE (untrimmed),
        CASE WHEN ends_with(raw, ' ') OR ends_with(raw, chr(13))
             THEN rtrim(untrimmed, ' ' || chr(13)) ELSE untrimmed END AS body
    FROM b
)
SELECT *, {classify_sql()} AS rule,
    CASE WHEN NOT is_postfix THEN 'foreign' ELSE 'unparsed' END AS fallback_kind
FROM trimmed
"""


@cache
def compiled_header() -> str:
    return header_sql()
