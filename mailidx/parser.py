"""Turn raw log lines into typed rows: the syslog header, then the rules of :mod:`mailidx.rules`.

Parsing runs inside DuckDB (RE2, vectorised, both cores) because a Python loop costs ~10 µs a
line. This module only *writes* that SQL, as pure functions of the rule table; the store runs it
on each batch, and :func:`parse_lines` runs the very same SQL in a throw-away in-memory DuckDB,
which is how the tests call the parser.

The input relation (``batch``) has columns line_number, offset, raw, raw_bytes. The header
step yields ts, host, program, pid, service, daemon, queue_id, body, rule (index into RULES,
-1 for an unparsed Postfix line, -2 for another program's line) and kind.
"""

from __future__ import annotations

import re
from functools import lru_cache

from mailidx.rules import (
    DELAYS_COLUMNS,
    DELAYS_PATTERN,
    KEY_FIELDS,
    POSTFIX_DAEMONS,
    RULES,
    Rule,
)

# Column types of events that are not VARCHAR.
TYPES = {
    "client_port": "INTEGER",
    "relay_port": "INTEGER",
    "size": "BIGINT",
    "nrcpt": "INTEGER",
    "conn_use": "INTEGER",
    "delay": "DOUBLE",
    "code": "INTEGER",
    "uid": "INTEGER",
    "count": "INTEGER",
}

EVENT_FIELDS = (
    "client_host client_ip client_port sender recipient orig_recipient size nrcpt message_id "
    "relay relay_host relay_ip relay_port conn_use delay delay_before_qmgr delay_in_qmgr "
    "delay_conn delay_xmit tls dsn status response next_queue_id orig_queue_id orig_client "
    "sasl_method sasl_username sasl_sender proto helo stage code reason action severity uid "
    "count detail"
).split()

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
BSD_TS = r"^(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<h>\d\d):(?P<m>\d\d):(?P<s>[\d.]+)$"
QUEUE_PREFIX = (
    r"^(?:(?P<qid>NOQUEUE|[0-9A-F]{5,}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,}): )?(?P<body>.*)$"
)
MONTHS = "JanFebMarAprMayJunJulAugSepOctNovDec"
UNPARSED, FOREIGN = -1, -2


def sql_str(text: str) -> str:
    """A SQL string literal (the rule table is ours, but quote it properly all the same)."""
    return "'" + text.replace("'", "''") + "'"


def group_names(pattern: str) -> list[str]:
    """Names of a pattern's capture groups in order; unnamed groups get placeholders."""
    compiled = re.compile(pattern)
    by_index = {index: name for name, index in compiled.groupindex.items()}
    return [by_index.get(i, f"_g{i}") for i in range(1, compiled.groups + 1)]


def literal_prefix(pattern: str) -> str:
    """The literal text a pattern must start with, for a cheap ``starts_with`` pre-check."""
    out = []
    for ch in pattern:
        if ch in "\\.[](){}*+?|^$":
            break
        out.append(ch)
    if out and pattern[len(out) : len(out) + 1] in ("?", "*", "{"):
        out.pop()  # the last literal is optional
    return "".join(out)


def rule_condition(rule: Rule) -> str:
    regex = f"regexp_matches(body, {sql_str('^' + rule.pattern)})"
    prefix = literal_prefix(rule.pattern)
    if prefix:
        return f"starts_with(body, {sql_str(prefix)}) AND {regex}"
    return regex


def classify_sql() -> str:
    """CASE expression giving the index of the first matching rule, per daemon."""
    daemons = sorted({d for r in RULES if r.daemons for d in r.daemons})

    def inner(daemon: str | None) -> str:
        whens = [
            f"WHEN {rule_condition(r)} THEN {i}"
            for i, r in enumerate(RULES)
            if r.daemons is None or (daemon is not None and daemon in r.daemons)
        ]
        return "CASE " + " ".join(whens) + f" ELSE {UNPARSED} END"

    branches = " ".join(f"WHEN {sql_str(d)} THEN ({inner(d)})" for d in daemons)
    return (
        f"CASE WHEN NOT is_postfix THEN {FOREIGN} "
        f"ELSE (CASE daemon {branches} ELSE ({inner(None)}) END) END"
    )


def kinds() -> list[str]:
    return [r.kind for r in RULES]


def header_sql(source: str = "batch") -> str:
    """SELECT over ``source`` giving the per-line columns, rule index and body.

    Parameters: $tz_year (year of the first year-less line) and $start_month (month of the
    line before this batch, or NULL).
    """
    names = "[" + ", ".join(sql_str(n) for n in HEADER_NAMES) + "]"
    daemons = "[" + ", ".join(sql_str(d) for d in POSTFIX_DAEMONS) + "]"
    return f"""
WITH h AS (
    SELECT line_number, "offset", raw, raw_bytes,
        CASE WHEN starts_with(raw, '<') AND regexp_matches(raw, '^<\\d+>1 ')
             THEN regexp_extract(raw, {sql_str(RFC5424_HEADER)}, {names})
             ELSE regexp_extract(raw, {sql_str(SYSLOG_HEADER)}, {names}) END AS h
    FROM {source}
), p AS (
    SELECT line_number, "offset", raw, raw_bytes,
        nullif(h.ts, '') AS ts_text, nullif(h.host, '') AS host,
        nullif(h.program, '') AS program, TRY_CAST(nullif(h.pid, '') AS INTEGER) AS pid,
        h.msg AS msg,
        string_split(nullif(h.program, ''), '/')[-1] AS daemon
    FROM h
), c AS (
    SELECT *,
        program IS NOT NULL AND (starts_with(program, 'postfix')
            OR (contains(program, '/') AND list_contains({daemons}, daemon))) AS is_postfix,
        CASE WHEN contains(program, '/')
             THEN left(program, length(program) - length(daemon) - 1) ELSE program END
            AS service,
        CASE WHEN ts_text SIMILAR TO '[A-Z].*'
             THEN regexp_extract(ts_text, {sql_str(BSD_TS)}, ['mon', 'day', 'h', 'm', 's'])
             END AS bsd
    FROM p
), q AS (
    SELECT *,
        CASE WHEN is_postfix THEN regexp_extract(msg, {sql_str(QUEUE_PREFIX)}, ['qid', 'body'])
             END AS qb,
        (strpos({sql_str(MONTHS)}, bsd.mon) + 2) // 3 AS month
    FROM c
), y AS (
    SELECT *,
        coalesce(last_value(month IGNORE NULLS) OVER w_before, $start_month) AS prev_month
    FROM q
    WINDOW w_before AS (ORDER BY line_number ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
), z AS (
    SELECT *,
        CAST($first_year + sum(CASE WHEN prev_month - month >= 6 THEN 1 ELSE 0 END)
            OVER (ORDER BY line_number ROWS UNBOUNDED PRECEDING) AS BIGINT) AS year
    FROM y
), b AS (
    SELECT line_number, "offset", raw, raw_bytes, host, program, pid, service, daemon,
        is_postfix, month, year,
        CASE WHEN bsd IS NOT NULL AND month > 0 THEN
                 TRY_CAST(try(make_timestamp(year, month, TRY_CAST(bsd.day AS INTEGER),
                     TRY_CAST(bsd.h AS INTEGER), TRY_CAST(bsd.m AS INTEGER),
                     TRY_CAST(bsd.s AS DOUBLE))) AS TIMESTAMPTZ)
             ELSE TRY_CAST(ts_text AS TIMESTAMPTZ) END AS ts,
        CASE WHEN is_postfix AND qb.qid <> 'NOQUEUE' THEN nullif(qb.qid, '') END AS queue_id,
        CASE WHEN is_postfix THEN qb.body END AS body
    FROM z
)
SELECT *, {classify_sql()} AS rule,
    CASE WHEN NOT is_postfix THEN 'foreign' ELSE 'unparsed' END AS fallback_kind
FROM b
"""


def _field_sources() -> dict[str, list[tuple[int, str]]]:
    """For each event column, the rules that capture it (rule index, struct field)."""
    sources: dict[str, list[tuple[int, str]]] = {}
    for i, rule in enumerate(RULES):
        for name in group_names(rule.pattern):
            if not name.startswith("_g"):
                sources.setdefault(name, []).append((i, name))
    return sources


def _typed(expr: str, column: str) -> str:
    kind = TYPES.get(column)
    return f"TRY_CAST({expr} AS {kind})" if kind else expr


def events_sql(source: str = "parsed") -> str:
    """SELECT over the header step's rows that are events, giving every events column."""
    matches = []
    for i, rule in enumerate(RULES):
        names = group_names(rule.pattern)
        if names:
            name_list = "[" + ", ".join(sql_str(n) for n in names) + "]"
            matches.append(
                f"CASE WHEN rule = {i} THEN regexp_extract(body, "
                f"{sql_str('^' + rule.pattern)}, {name_list}) END AS m{i}"
            )
    sources = _field_sources()
    consts: dict[str, list[tuple[int, str]]] = {}
    for i, rule in enumerate(RULES):
        for column, value in rule.const.items():
            consts.setdefault(column, []).append((i, value))
    key_fields = {k.column: k for k in KEY_FIELDS}
    kind_list = "[" + ", ".join(sql_str(k) for k in kinds()) + "]"

    columns = []
    for column in EVENT_FIELDS:
        parts = [f"nullif(m{i}.{name}, '')" for i, name in sources.get(column, [])]
        if column in consts:
            whens = " ".join(f"WHEN {i} THEN {sql_str(v)}" for i, v in consts[column])
            parts.append(f"CASE rule {whens} END")
        if column in key_fields:
            k = key_fields[column]
            value = f"regexp_extract(body, {sql_str(k.pattern)}, 1)"
            if k.keep_empty:
                value = f"trim({value}, '<>')"
            else:
                value = f"nullif({value}, '')"
            parts.append(f"CASE WHEN contains(body, {sql_str(k.gate)}) THEN {value} END")
        if column in DELAYS_COLUMNS:
            parts.append(f"delays.{column}")
        if column in ("relay_host", "relay_ip", "relay_port"):
            parts.append(f"relay_parts.{column}")
        if not parts:
            expr = "NULL"
        elif len(parts) == 1:
            expr = parts[0]
        else:
            expr = "coalesce(" + ", ".join(parts) + ")"
        if column == "message_id":
            expr = f"trim({expr})"
        typed = "TRY_CAST(" + expr + " AS DOUBLE)" if column.startswith("delay") else None
        columns.append(f"{typed or _typed(expr, column)} AS {column}")

    relay_expr = columns[EVENT_FIELDS.index("relay")].rsplit(" AS ", 1)[0]
    delays_names = "[" + ", ".join(sql_str(c) for c in DELAYS_COLUMNS) + "]"
    return f"""
WITH m AS (
    SELECT *, {", ".join(matches)},
        CASE WHEN contains(body, 'delays=')
             THEN regexp_extract(body, {sql_str(DELAYS_PATTERN)}, {delays_names}) END AS delays
    FROM {source} WHERE rule >= 0
), r AS (
    SELECT *, regexp_extract({relay_expr},
        '^(?P<relay_host>[^\\[]*)(?:\\[(?P<relay_ip>[^\\]]*)\\](?::(?P<relay_port>\\d+))?)?$',
        ['relay_host', 'relay_ip', 'relay_port']) AS relay_parts_raw
    FROM m
), rp AS (
    SELECT *, {{'relay_host': nullif(relay_parts_raw.relay_host, ''),
                'relay_ip': nullif(relay_parts_raw.relay_ip, ''),
                'relay_port': nullif(relay_parts_raw.relay_port, '')}} AS relay_parts
    FROM r
)
SELECT line_number, ts, host, service, daemon, pid, queue_id,
    {kind_list}[rule + 1] AS kind,
    {", ".join(columns)}
FROM rp
"""


@lru_cache(maxsize=None)
def compiled_sql() -> tuple[str, str]:
    return header_sql(), events_sql()


def parse_lines(
    lines: list[str], *, year: int = 2026, tz: str = "UTC"
) -> list[dict[str, object]]:
    """Parse lines with the indexer's own SQL in an in-memory DuckDB; one dict per line.

    Each dict has the line columns (ts, host, program, pid, queue_id, kind, service, daemon)
    and, for events, every events column. Used by tests and by anyone curious about a line.
    """
    import duckdb
    import pyarrow as pa

    con = duckdb.connect(":memory:")
    con.execute(f"SET TimeZone = {sql_str(tz)}")
    batch = pa.table(
        {
            "line_number": pa.array(range(1, len(lines) + 1), pa.int64()),
            "offset": pa.array([0] * len(lines), pa.int64()),
            "raw": pa.array(lines, pa.string()),
            "raw_bytes": pa.array([None] * len(lines), pa.binary()),
        }
    )
    con.register("batch", batch)
    header, events = compiled_sql()
    con.execute(
        f"CREATE TEMP TABLE parsed AS {header}", {"first_year": year, "start_month": None}
    )
    line_rows = con.execute(
        "SELECT line_number, ts, host, program, pid, queue_id, service, daemon, "
        "CASE WHEN rule >= 0 THEN " + _kind_list_sql() + "[rule + 1] ELSE fallback_kind END "
        "AS kind FROM parsed ORDER BY line_number"
    ).fetchall()
    cols = [d[0] for d in con.description]
    out = {row[0]: dict(zip(cols, row)) for row in line_rows}
    cur = con.execute(f"SELECT * FROM ({events}) ORDER BY line_number")
    ecols = [d[0] for d in cur.description]
    for row in cur.fetchall():
        out[row[0]].update(dict(zip(ecols, row)))
    con.close()
    return [out[n] for n in sorted(out)]


def _kind_list_sql() -> str:
    return "[" + ", ".join(sql_str(k) for k in kinds()) + "]"
