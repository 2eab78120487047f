"""Turn raw log lines into typed rows: the syslog header, then the rules of :mod:`mailidx.rules`.

Parsing runs inside DuckDB (RE2, vectorised, both cores) because a Python loop costs ~10 µs a
line. This module only *writes* that SQL, as pure functions of the rule table; the indexer runs
it on each batch, and :func:`mailidx.indexer.parse_lines` runs the very same path on an
in-memory index, which is how the tests call the parser.

The input relation (``batch``) has columns file_id, line_number, offset, raw, raw_bytes and
year (one batch may hold lines of several files). The
header step yields ts, host, program, pid, service, daemon, queue_id, body, rule (index into
RULES, -1 for an unparsed Postfix line, -2 for another program's line); the events step gives
each ev_* table the typed fields of its kinds.
"""

from __future__ import annotations

import re
from functools import cache

from mailidx.rules import (
    DELAYS_COLUMNS,
    DELAYS_PATTERN,
    KEY_FIELDS,
    POSTFIX_DAEMONS,
    RULES,
    Rule,
    table_of,
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

# Columns every ev_* table starts with; the rest are the fields of its kinds.
EVENT_COMMON = (
    "file_id",
    "line_number",
    "ts",
    "host",
    "service",
    "daemon",
    "pid",
    "queue_id",
    "kind",
)
EVENT_FIELDS = [
    "client_host",
    "client_ip",
    "client_port",
    "sender",
    "recipient",
    "orig_recipient",
    "size",
    "nrcpt",
    "message_id",
    "relay",
    "relay_host",
    "relay_ip",
    "relay_port",
    "conn_use",
    "delay",
    "delay_before_qmgr",
    "delay_in_qmgr",
    "delay_conn",
    "delay_xmit",
    "tls",
    "dsn",
    "status",
    "response",
    "next_queue_id",
    "orig_queue_id",
    "orig_client",
    "sasl_method",
    "sasl_username",
    "sasl_sender",
    "proto",
    "helo",
    "stage",
    "code",
    "reason",
    "action",
    "severity",
    "uid",
    "count",
    "detail",
]

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
QUEUE_ID = (
    r"NOQUEUE|[0-9A-Z]{5,}|[0-9A-Za-z]*[0-9][0-9A-Za-z]*|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,}"
)
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


@cache
def _rule_heads() -> list[re.Pattern]:
    # what rule_condition tests, anchored by match(); ASCII: RE2's \d \w \s are ASCII only
    return [re.compile(split_tail(r.pattern)[0], re.ASCII) for r in RULES]


def rule_for(daemon: str | None, body: str) -> int:
    """Index in RULES of the rule :func:`classify_sql` picks for a Postfix line of ``daemon``
    whose body (the header step's ``body``) is ``body``, or UNPARSED: the same rules in the
    same order, the same daemon filter, each pattern's head matched at the start of the body,
    in Python's ``re``. For tools and tests that ask which rule a line meets; the indexer
    itself classifies in SQL."""
    for i, (rule, head) in enumerate(zip(RULES, _rule_heads())):
        if (rule.daemons is None or daemon in rule.daemons) and head.match(body):
            return i
    return UNPARSED


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
    SELECT file_id, line_number, "offset", raw, raw_bytes, year,
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
    SELECT file_id, line_number, "offset", raw, raw_bytes, year, ts_text, host,
        CASE WHEN NOT fast THEN tag
             WHEN ends_with(tag, ']') AND contains(tag, '[')
             THEN substr(tag, 1, strpos(tag, '[') - 1)
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
    SELECT file_id, line_number, "offset", raw, raw_bytes, host, program, pid, service, daemon,
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
             ELSE msg END, ' ' || chr(13)) AS body  -- CRLF: the CR is no part of the last field
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
    "relay_host": "CASE WHEN contains(k_relay, '[') "
    "THEN left(k_relay, strpos(k_relay, '[') - 1) END",
    "relay_ip": "CASE WHEN contains(k_relay, '[') "
    "THEN split_part(split_part(k_relay, '[', 2), ']', 1) END",
    "relay_port": "CASE WHEN contains(k_relay, ']:') THEN split_part(k_relay, ']:', 2) END",
}


def key_sql(column: str) -> str:
    """A ``key=value`` field of the body, by name; NULL when the line does not carry it.

    Works on ``sbody`` (the body after one space), where every key follows a space.
    """
    k = KEYS[column]
    if k.sql:
        return f"nullif({k.sql}, '')"
    v = f"split_part(sbody, {sql_str(' ' + k.key + '=')}, 2)"
    if k.style == "address":  # <a@b> ("<>" is the null sender: '') or a bare a@b
        value = (
            f"CASE WHEN {v} = '' THEN NULL WHEN starts_with({v}, '<') "
            f"THEN split_part(substr({v}, 2), '>', 1) "
            f"ELSE nullif(split_part(split_part({v}, ',', 1), ' ', 1), '') END"
        )
    elif k.style == "word":
        value = f"nullif(split_part(split_part({v}, ' ', 1), ',', 1), '')"
    else:
        value = f"nullif(split_part({v}, ', ', 1), '')"
    if column == "count":
        value = f"string_split({value}, '/')[-1]"
    return value


def rule_regex(rule: Rule) -> tuple[str, list[str], str | None]:
    """The regex that captures a rule's fields, its group names, and the tail's name."""
    head, tail = split_tail(rule.pattern)
    regex = f"^(?P<_head>{head})" if tail else "^" + head
    return regex, group_names(regex), tail


def _captures(rule: Rule) -> bool:
    return any(not n.startswith("_") for n in group_names(rule.pattern))


def events_sql(table: str, columns: list[str], source: str = "parsed") -> str:
    """SELECT over the header step's rows whose kind is stored in ``table``, giving its
    ``columns`` (the event fields of that table, in order).

    Each line runs one regex, its rule's; its groups become struct fields g1…gN, padded with
    NULLs to the widest rule, so one CASE gives one struct type for all rules. Columns then
    pick the field their rule put them in; key=value fields are cut by name.
    """
    mine = [i for i, r in enumerate(RULES) if table_of(r.kind) == table]
    regexes = {i: rule_regex(RULES[i]) for i in mine if _captures(RULES[i])}
    width = max((len(names) for _, names, _ in regexes.values()), default=0)

    def extract(regex: str, n: int) -> str:
        names = "[" + ", ".join(sql_str(f"g{k}") for k in range(1, n + 1)) + "]"
        expr = f"regexp_extract(body, {sql_str(regex)}, {names})"
        if n == width:
            return expr
        pad = ", ".join(f"g{k} := NULL::VARCHAR" for k in range(n + 1, width + 1))
        return f"struct_insert({expr}, {pad})"

    whens = " ".join(
        f"WHEN {i} THEN {extract(regex, len(names))}" for i, (regex, names, _) in regexes.items()
    )
    # column -> {SQL expression: [rules]}
    sources: dict[str, dict[str, list[int]]] = {}

    def give(column: str, expr: str, rule: int) -> None:
        sources.setdefault(column, {}).setdefault(expr, []).append(rule)

    for i in mine:
        rule = RULES[i]
        given = set()
        if i in regexes:
            regex, names, tail = regexes[i]
            for k, name in enumerate(names, 1):
                if not name.startswith("_"):
                    give(name, _empty(f"m.g{k}", name), i)
                    given.add(name)
            if tail:
                rest = "substr(body, length(m.g1) + 1)"
                if rule.cut_at:
                    rest = cut_at_sql(rest, rule.cut_at)
                give(tail, _empty(rest, tail), i)
                given.add(tail)
        for column, value in rule.const.items():
            give(column, sql_str(value), i)
            given.add(column)
        for column in rule.keys:
            if column == "delays":
                for c in DELAYS_COLUMNS:
                    give(c, f"d.{c}", i)
            elif column == "relay":
                give("relay", "k_relay", i)
                for c, expr in RELAY_PARTS.items():
                    give(c, expr, i)
            elif column not in given:
                give(column, "k_" + column, i)

    def rules_in(rules: list[int]) -> str:
        # not IN (…): DuckDB turns a long IN list into a join
        return " OR ".join(f"rule = {r}" for r in rules)

    extra = set(sources) - set(columns)
    if extra:
        raise ValueError(f"rules of {table} give columns it lacks: {sorted(extra)}")
    keyed = {c for i in mine for c in RULES[i].keys if c != "delays"}
    key_rules = {c: [i for i in mine if c in RULES[i].keys] for c in keyed}
    helpers = [
        f"CASE WHEN {rules_in(key_rules[c])} THEN {key_sql(c)} END AS k_{c}" for c in sorted(keyed)
    ]
    if regexes:
        helpers.insert(0, f"CASE rule {whens} END AS m")
    delay_rules = [i for i in mine if "delays" in RULES[i].keys]
    if delay_rules:
        names = "[" + ", ".join(sql_str(c) for c in DELAYS_COLUMNS) + "]"
        helpers.append(
            f"CASE WHEN {rules_in(delay_rules)} AND contains(body, 'delays=') "
            f"THEN regexp_extract(body, {sql_str(DELAYS_PATTERN)}, {names}) END AS d"
        )
    helper_sql = "".join(",\n        " + h for h in helpers)

    def column(name: str) -> str:
        options = sources.get(name)
        if not options:
            return f"NULL AS {name}"
        if len(options) == 1 and list(options)[0].startswith("k_"):
            expr = list(options)[0]
        else:
            expr = (
                "CASE rule "
                + " ".join(f"WHEN {r} THEN {e}" for e, rules in options.items() for r in rules)
                + " END"
            )
        return f"{_typed_column(name, expr)} AS {name}"

    kind_list = "[" + ", ".join(sql_str(k) for k in kinds()) + "]"
    return f"""
WITH s AS (
    SELECT file_id, line_number, rule, ts, host, service, daemon, pid, queue_id, body,
        ' ' || body AS sbody
    FROM {source} WHERE list_contains([{", ".join(map(str, mine)) or "NULL"}], rule)
), x AS (
    SELECT *{helper_sql}
    FROM s
)
SELECT file_id, line_number, ts, host, service, daemon, pid, queue_id,
    {kind_list}[rule + 1] AS kind,
    {", ".join(column(c) for c in columns)}
FROM x
"""


def _typed_column(name: str, expr: str) -> str:
    if name == "message_id":
        expr = f"trim({expr})"
    if name.startswith("delay"):
        return f"TRY_CAST({expr} AS DOUBLE)"
    return _typed(expr, name)


@cache
def compiled_header() -> str:
    return header_sql()


@cache
def compiled_events(table: str, columns: tuple[str, ...]) -> str:
    return events_sql(table, list(columns))


def kind_list_sql() -> str:
    return "[" + ", ".join(sql_str(k) for k in kinds()) + "]"
