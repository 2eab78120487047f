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
# Short IDs are upper-case hex, long ones base-52 without vowels; sanitised logs carry
# other tokens (ABC123), so any upper-case or digit-bearing word before ": " counts.
QUEUE_ID = r"NOQUEUE|[0-9A-Z]{5,}|[0-9A-Za-z]*[0-9][0-9A-Za-z]*|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,}"
WARNING_QUEUE_ID = r"^warning: ([0-9A-F]{5,}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,}): "
MONTHS = "JanFebMarAprMayJunJulAugSepOctNovDec"
MONTH_OF = {MONTHS[i : i + 3].encode(): i // 3 + 1 for i in range(0, 36, 3)}


def years(data, starts, year: int, prev_month: int | None):
    """Year of each line whose syslog time has none, given the year and month of the line
    before. Lines run forward in time: a month more than five months before the previous
    one means the year has turned (Dec → Jan). ``data`` is the chunk as a numpy uint8
    array, ``starts`` the offsets of its lines. Returns (years, last year, last month)."""
    import numpy as np

    n = len(starts)
    padded = np.concatenate([data, np.zeros(3, np.uint8)])
    key = (
        padded[starts].astype(np.int32) << 16
        | padded[starts + 1].astype(np.int32) << 8
        | padded[starts + 2].astype(np.int32)
    )
    month = np.zeros(n, np.int32)
    for name, number in MONTH_OF.items():
        month[key == (name[0] << 16 | name[1] << 8 | name[2])] = number
    dated = np.flatnonzero(month)
    out = np.full(n, year, np.int32)
    if len(dated) == 0:
        return out, year, prev_month
    seen = month[dated]
    before = np.empty_like(seen)
    before[0] = prev_month if prev_month is not None else seen[0]
    before[1:] = seen[:-1]
    steps = np.cumsum(before - seen >= 6).astype(np.int32)
    wraps = np.zeros(n, np.int32)
    wraps[dated] = steps
    out += np.maximum.accumulate(wraps)
    return out, int(out[-1]), int(seen[-1])


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


TAIL = re.compile(r"\(\?P<(\w+)>\.\*\)\$$")


def split_tail(pattern: str) -> tuple[str, str | None]:
    """A pattern ending in ``(?P<name>.*)$`` splits into its head and the tail's name: the
    tail is then cut by position, since RE2 captures of long tails cost several µs a line."""
    match = TAIL.search(pattern)
    if not match:
        return pattern, None
    return pattern[: match.start()], match.group(1)


KEEP_EMPTY = {"message_id", "sender", "recipient", "orig_recipient", "helo"}


def cut_at_sql(expr: str, keys: tuple[str, ...]) -> str:
    """``expr`` up to the first of ``keys`` it contains (the reject trailer's ``; from=`` …)."""
    whens = " ".join(
        f"WHEN contains({expr}, {sql_str(k)}) THEN left({expr}, strpos({expr}, {sql_str(k)}) - 1)"
        for k in keys
    )
    return f"CASE {whens} ELSE {expr} END"


def rule_condition(rule: Rule) -> str:
    head, _ = split_tail(rule.pattern)
    regex = f"regexp_matches(body, {sql_str('^' + head)})"
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

    ``source`` also has a ``year`` column: the year of each line if its time has none
    (see :func:`years`).
    """
    names = "[" + ", ".join(sql_str(n) for n in HEADER_NAMES) + "]"
    daemons = "[" + ", ".join(sql_str(d) for d in POSTFIX_DAEMONS) + "]"
    return f"""
WITH f AS (
    SELECT line_number, "offset", raw, raw_bytes, year,
        -- the common case, "Mmm dd hh:mm:ss host tag: msg", is cut by position
        substr(raw, 4, 1) = ' ' AND substr(raw, 7, 1) = ' ' AND substr(raw, 10, 1) = ':'
            AND substr(raw, 16, 1) = ' ' AS fast
    FROM {source}
), h AS (
    SELECT *,
        CASE WHEN fast THEN NULL
             WHEN starts_with(raw, '<') AND regexp_matches(raw, '^<\\d+>1 ')
             THEN regexp_extract(raw, {sql_str(RFC5424_HEADER)}, {names})
             ELSE regexp_extract(raw, {sql_str(SYSLOG_HEADER)}, {names}) END AS h,
        CASE WHEN fast THEN substr(raw, 17) END AS rest
    FROM f
), t AS (
    SELECT *,
        CASE WHEN fast THEN substr(raw, 1, 15) ELSE nullif(h.ts, '') END AS ts_text,
        CASE WHEN fast THEN substr(rest, 1, strpos(rest, ' ') - 1) ELSE nullif(h.host, '') END
            AS host,
        CASE WHEN fast THEN substr(rest, strpos(rest, ' ') + 1) END AS after
    FROM h
), u AS (
    SELECT *, CASE WHEN fast THEN strpos(after, ': ') END AS colon
    FROM t
), v AS (
    SELECT *,
        CASE WHEN NOT fast THEN nullif(h.program, '')
             WHEN colon > 1 AND NOT contains(substr(after, 1, colon - 1), ' ')
             THEN substr(after, 1, colon - 1) END AS tag
    FROM u
), p AS (
    SELECT line_number, "offset", raw, raw_bytes, year, ts_text, host,
        CASE WHEN NOT fast THEN tag
             WHEN ends_with(tag, ']') AND contains(tag, '[') THEN substr(tag, 1, strpos(tag, '[') - 1)
             ELSE tag END AS program,
        CASE WHEN NOT fast THEN TRY_CAST(nullif(h.pid, '') AS INTEGER)
             WHEN ends_with(tag, ']') AND contains(tag, '[')
             THEN TRY_CAST(substr(tag, strpos(tag, '[') + 1, length(tag) - strpos(tag, '[') - 1)
                  AS INTEGER) END AS pid,
        CASE WHEN NOT fast THEN h.msg WHEN tag IS NULL THEN after
             ELSE substr(after, colon + 2) END AS msg
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
        strpos(msg, ': ') AS qcolon
    FROM c
), r AS (
    SELECT *,
        CASE WHEN is_postfix AND qcolon BETWEEN 6 AND 26
                  AND regexp_full_match(substr(msg, 1, qcolon - 1), {sql_str(QUEUE_ID)})
             THEN substr(msg, 1, qcolon - 1) END AS qid,
        -- "warning: QID: text": the queue ID of a warning about one message
        CASE WHEN is_postfix AND starts_with(msg, 'warning: ')
                  AND regexp_matches(msg, {sql_str(WARNING_QUEUE_ID)})
             THEN regexp_extract(msg, {sql_str(WARNING_QUEUE_ID)}, 1) END AS warning_qid
    FROM q
), b AS (
    SELECT line_number, "offset", raw, raw_bytes, host, program, pid, service, daemon,
        is_postfix, month, year,
        CASE WHEN month > 0 THEN
                 TRY_CAST(try_strptime(year::VARCHAR || ' ' || ts_text,
                     ['%Y %b %d %H:%M:%S', '%Y %b %d %H:%M:%S.%f']) AS TIMESTAMPTZ)
             ELSE TRY_CAST(ts_text AS TIMESTAMPTZ) END AS ts,
        CASE WHEN qid <> 'NOQUEUE' THEN qid ELSE warning_qid END AS queue_id,
        rtrim(CASE WHEN NOT is_postfix THEN NULL
             WHEN qid IS NOT NULL THEN substr(msg, qcolon + 2)
             WHEN warning_qid IS NOT NULL
             THEN 'warning: ' || substr(msg, length(warning_qid) + 12)
             ELSE msg END) AS body
    FROM r
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
            if not name.startswith("_"):
                sources.setdefault(name, []).append((i, name))
    return sources


def _typed(expr: str, column: str) -> str:
    kind = TYPES.get(column)
    return f"TRY_CAST({expr} AS {kind})" if kind else expr


def _empty(expr: str, column: str) -> str:
    """An empty capture is NULL, except where empty is a value (``message-id=<>``)."""
    return expr if column in KEEP_EMPTY else f"nullif({expr}, '')"


KEYS = {k.column: k for k in KEY_FIELDS}
RELAY_PARTS = {
    "relay_host": "CASE WHEN contains(k_relay, '[') THEN left(k_relay, strpos(k_relay, '[') - 1) END",
    "relay_ip": "CASE WHEN contains(k_relay, '[') THEN split_part(split_part(k_relay, '[', 2), ']', 1) END",
    "relay_port": "CASE WHEN contains(k_relay, ']:') THEN split_part(k_relay, ']:', 2) END",
}


def key_sql(column: str) -> str:
    """A ``key=value`` field of the body, by name; NULL when the line does not carry it."""
    k = KEYS[column]
    value = k.sql or f"regexp_extract(body, {sql_str(k.pattern)}, 1)"
    value = f"trim(nullif({value}, ''), '<>')" if k.keep_empty else f"nullif({value}, '')"
    return f"CASE WHEN contains(body, {sql_str(k.gate)}) THEN {value} END"


def branch_sql(index: int, rule: Rule, source: str) -> str | None:
    """The SELECT for one rule's lines: its captures, constants and key fields as ``c_*``
    columns (its own regex runs once per line, and only on its own lines)."""
    inner, cols = [], []
    captured = set()
    if any(not n.startswith("_") for n in group_names(rule.pattern)):
        head, tail = split_tail(rule.pattern)
        regex = f"^(?P<_head>{head})" if tail else "^" + head
        names = group_names(regex)
        name_list = "[" + ", ".join(sql_str(n) for n in names) + "]"
        inner.append(f"regexp_extract(body, {sql_str(regex)}, {name_list}) AS m")
        for name in names:
            if not name.startswith("_"):
                cols.append(f"{_empty(f'm.{name}', name)} AS c_{name}")
                captured.add(name)
        if tail:
            rest = "substr(body, length(m._head) + 1)"
            if rule.cut_at:
                rest = cut_at_sql(rest, rule.cut_at)
            cols.append(f"{_empty(rest, tail)} AS c_{tail}")
            captured.add(tail)
    for column, value in rule.const.items():
        cols.append(f"{sql_str(value)} AS c_{column}")
    for column in rule.keys:
        if column == "delays":
            names = "[" + ", ".join(sql_str(c) for c in DELAYS_COLUMNS) + "]"
            inner.append(
                f"CASE WHEN contains(body, 'delays=') THEN "
                f"regexp_extract(body, {sql_str(DELAYS_PATTERN)}, {names}) END AS d"
            )
            cols.extend(f"d.{c} AS c_{c}" for c in DELAYS_COLUMNS)
        elif column == "relay":
            inner.append(f"{key_sql('relay')} AS k_relay")
            cols.append("k_relay AS c_relay")
            cols.extend(f"{expr} AS c_{name}" for name, expr in RELAY_PARTS.items())
        elif column not in captured:
            cols.append(f"{key_sql(column)} AS c_{column}")
    if not cols:
        return None
    base = "line_number, rule, ts, host, service, daemon, pid, queue_id"
    star = ", ".join(["*", *inner])
    return (
        f"SELECT {base}, {', '.join(cols)} FROM (SELECT {star} FROM {source} WHERE rule = {index})"
    )


def events_sql(source: str = "parsed") -> str:
    """SELECT over the header step's rows that are events, giving every events column."""
    branches, plain = [], []
    for i, rule in enumerate(RULES):
        sql = branch_sql(i, rule, source)
        if sql:
            branches.append(sql)
        else:
            plain.append(str(i))
    base = "line_number, rule, ts, host, service, daemon, pid, queue_id"
    branches.append(f"SELECT {base} FROM {source} WHERE rule IN ({', '.join(plain)})")
    present = (
        {c for r in RULES for c in group_names(r.pattern)}
        | {c for r in RULES for c in r.const}
        | {c for r in RULES for c in r.keys}
    )
    if any("relay" in r.keys for r in RULES):
        present |= set(RELAY_PARTS)
    if any("delays" in r.keys for r in RULES):
        present |= set(DELAYS_COLUMNS)

    def column(name: str) -> str:
        if name not in present:
            return f"NULL AS {name}"
        expr = f"c_{name}"
        if name == "message_id":
            expr = f"trim({expr})"
        if name.startswith("delay"):
            return f"TRY_CAST({expr} AS DOUBLE) AS {name}"
        return f"{_typed(expr, name)} AS {name}"

    kind_list = "[" + ", ".join(sql_str(k) for k in kinds()) + "]"
    union = "\nUNION ALL BY NAME\n".join(branches)
    return f"""
WITH caps AS (
{union}
)
SELECT line_number, ts, host, service, daemon, pid, queue_id,
    {kind_list}[rule + 1] AS kind,
    {", ".join(column(c) for c in EVENT_FIELDS)}
FROM caps
"""


@lru_cache(maxsize=None)
def compiled_sql() -> tuple[str, str]:
    return header_sql(), events_sql()


def parse_lines(lines: list[str], *, year: int = 2026, tz: str = "UTC") -> list[dict[str, object]]:
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
            "year": pa.array(_years_of(lines, year)),
        }
    )
    con.register("batch", batch)
    header, events = compiled_sql()
    con.execute(f"CREATE TEMP TABLE parsed AS {header}")
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


def _years_of(lines: list[str], year: int):
    import numpy as np

    encoded = [line.encode() for line in lines]
    data = np.frombuffer(b"".join(e + b"\n" for e in encoded), np.uint8)
    starts = np.cumsum([0] + [len(e) + 1 for e in encoded[:-1]]).astype(np.int64)
    return years(data, starts, year, None)[0]


def _kind_list_sql() -> str:
    return "[" + ", ".join(sql_str(k) for k in kinds()) + "]"
