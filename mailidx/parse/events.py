"""The typed fields of each event: which rule gives which column of an ev_* table, and the SQL.

:func:`plan` is pure: for one ev_* table, the rules whose kinds it stores and, per column, the
SQL expression each of those rules gives it by (a capture group, a ``key=value`` field, a
constant the wording implies). :func:`render` writes the plan as one SELECT over the header
step's rows (:mod:`mailidx.parse.header`); the indexer runs it on each batch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from mailidx.parse.classify import split_tail, sql_str
from mailidx.parse.rules import (
    DELAYS_COLUMNS,
    DELAYS_PATTERN,
    KEY_FIELDS,
    RULES,
    Rule,
    table_of,
)

# Column types of events that are not VARCHAR (sql/001_tables.sql; a test holds them to it).
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

# Columns every ev_* table starts with (the SELECT's first columns); the rest are the fields
# of its kinds. A test holds them to sql/001_tables.sql.
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
KEEP_EMPTY = {"message_id", "sender", "recipient", "orig_recipient", "helo"}


def group_names(pattern: str) -> list[str]:
    """Names of a pattern's capture groups in order; unnamed groups get placeholders."""
    compiled = re.compile(pattern)
    by_index = {index: name for name, index in compiled.groupindex.items()}
    return [by_index.get(i, f"_g{i}") for i in range(1, compiled.groups + 1)]


def cut_at_sql(expr: str, keys: tuple[str, ...]) -> str:
    """``expr`` up to the first of ``keys`` it contains (the reject trailer's ``; from=`` …)."""
    whens = " ".join(
        f"WHEN contains({expr}, {sql_str(k)}) THEN left({expr}, strpos({expr}, {sql_str(k)}) - 1)"
        for k in keys
    )
    return f"CASE {whens} ELSE {expr} END"


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


def key_split_sql(column: str) -> str | None:
    """What follows a ``key=`` of the body (up to the next one of the same key), or None for
    a field an expression of its own gives. Works on ``sbody`` (the body after one space),
    where every key follows a space. :func:`render` computes it once per line, as
    ``v_<column>``, for :func:`key_sql` to cut the value from."""
    k = KEYS[column]
    return None if k.sql else f"split_part(sbody, {sql_str(' ' + k.key + '=')}, 2)"


def key_sql(column: str) -> str:
    """A ``key=value`` field of the body, by name; NULL when the line does not carry it.
    Reads ``v_<column>`` (:func:`key_split_sql`)."""
    k = KEYS[column]
    if k.sql:
        return f"nullif({k.sql}, '')"
    v = f"v_{column}"
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


@dataclass
class Plan:
    """Which rule gives which column of one ev_* table.

    ``sources`` maps a column to {SQL expression: the rules giving it by that expression}; the
    expressions read the helper columns :func:`render` writes: ``m.gK`` (the K-th group of the
    line's own rule's regex), ``k_<column>`` (a ``key=value`` field), ``d.<column>`` (the
    ``delays=`` parts), or a quoted constant.
    """

    table: str
    kinds: list[str]  # the kind of each rule of the table the plan was made from
    rules: list[int]  # the rules whose kinds the table stores
    regexes: dict[int, tuple[str, list[str], str | None]]  # rule -> rule_regex, if it captures
    sources: dict[str, dict[str, list[int]]]
    key_rules: dict[str, list[int]]  # key=value column -> the rules whose lines may carry it
    delay_rules: list[int]  # the rules whose lines may carry delays=

    def rules_giving(self, column: str) -> list[int]:
        """The rules that give ``column`` a value, in order."""
        return sorted(r for rules in self.sources.get(column, {}).values() for r in rules)


def plan(table: str, rules: list[Rule] = RULES) -> Plan:
    """The plan of ``table`` (an ev_* table) for the rule table ``rules``."""
    mine = [i for i, r in enumerate(rules) if table_of(r.kind) == table]
    regexes = {i: rule_regex(rules[i]) for i in mine if _captures(rules[i])}
    sources: dict[str, dict[str, list[int]]] = {}

    def give(column: str, expr: str, rule: int) -> None:
        sources.setdefault(column, {}).setdefault(expr, []).append(rule)

    for i in mine:
        rule = rules[i]
        given = set()
        if i in regexes:
            regex, names, tail = regexes[i]
            for k, name in enumerate(names, 1):
                if not name.startswith("_"):
                    give(name, _empty(f"m.g{k}", name), i)
                    given.add(name)
            if tail:
                rest = "tail"  # substr(body, length(m.g1) + 1), see render
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
    keyed = {c for i in mine for c in rules[i].keys if c != "delays"}
    key_rules = {c: [i for i in mine if c in rules[i].keys] for c in keyed}
    delay_rules = [i for i in mine if "delays" in rules[i].keys]
    kinds = [r.kind for r in rules]
    return Plan(table, kinds, mine, regexes, sources, key_rules, delay_rules)


def render(p: Plan, columns: list[str], source: str = "parsed") -> str:
    """SELECT over the header step's rows whose kind is stored in the plan's table, giving its
    ``columns`` (the event fields of that table, in order).

    Each line runs one regex, its rule's; its groups become struct fields g1…gN, padded with
    NULLs to the widest rule, so one CASE gives one struct type for all rules. Columns then
    pick the field their rule put them in; key=value fields are cut by name.
    """
    width = max((len(names) for _, names, _ in p.regexes.values()), default=0)

    def extract(regex: str, n: int) -> str:
        names = "[" + ", ".join(sql_str(f"g{k}") for k in range(1, n + 1)) + "]"
        expr = f"regexp_extract(body, {sql_str(regex)}, {names})"
        if n == width:
            return expr
        pad = ", ".join(f"g{k} := NULL::VARCHAR" for k in range(n + 1, width + 1))
        return f"struct_insert({expr}, {pad})"

    whens = " ".join(
        f"WHEN {i} THEN {extract(regex, len(names))}" for i, (regex, names, _) in p.regexes.items()
    )

    def rules_in(rules: list[int]) -> str:
        # not IN (…): DuckDB turns a long IN list into a join
        return " OR ".join(f"rule = {r}" for r in rules)

    extra = set(p.sources) - set(columns)
    if extra:
        raise ValueError(f"rules of {p.table} give columns it lacks: {sorted(extra)}")
    helpers = [
        f"CASE WHEN {rules_in(p.key_rules[c])} THEN {key_sql(c)} END AS k_{c}"
        for c in sorted(p.key_rules)
    ]
    regex_sql = f",\n        CASE rule {whens} END AS m" if p.regexes else ""
    if p.delay_rules:
        names = "[" + ", ".join(sql_str(c) for c in DELAYS_COLUMNS) + "]"
        helpers.append(
            f"CASE WHEN {rules_in(p.delay_rules)} AND contains(body, 'delays=') "
            f"THEN regexp_extract(body, {sql_str(DELAYS_PATTERN)}, {names}) END AS d"
        )
    helper_sql = "".join(",\n        " + h for h in helpers)
    # each value once per line, however many times the expressions above read it: the
    # text after each key= (split_part of the whole body), and the rest of the body after a
    # rule's regex (its tail)
    splits = [
        f"CASE WHEN {rules_in(p.key_rules[c])} THEN {key_split_sql(c)} END AS v_{c}"
        for c in sorted(p.key_rules)
        if key_split_sql(c)
    ]
    tails = [i for i, (_, _, tail) in p.regexes.items() if tail]
    if tails:
        splits.append(
            f"CASE WHEN {rules_in(tails)} THEN substr(body, length(m.g1) + 1) END AS tail"
        )
    split_sql = "".join(",\n        " + v for v in splits)

    def column(name: str) -> str:
        options = p.sources.get(name)
        if not options:
            return f"NULL AS {name}"
        if len(options) == 1 and list(options)[0].startswith("k_"):
            expr = list(options)[0]
        elif len(options) == 1 and sorted(list(options.values())[0]) == sorted(p.rules):
            expr = list(options)[0]  # every line of the table gives it so
        else:
            # one branch per expression, not per rule: DuckDB pays for each branch on every
            # vector, and a filtered scan's vectors are mostly empty
            expr = (
                "CASE "
                + " ".join(f"WHEN {rules_in(rules)} THEN {e}" for e, rules in options.items())
                + " END"
            )
        return f"{_typed_column(name, expr)} AS {name}"

    kind_list = "[" + ", ".join(sql_str(k) for k in p.kinds) + "]"
    return f"""
WITH s AS (
    SELECT file_id, line_number, rule, ts, host, service, daemon, pid, queue_id, body,
        ' ' || body AS sbody
    FROM {source} WHERE list_contains([{", ".join(map(str, p.rules)) or "NULL"}], rule)
), w AS (
    SELECT *{regex_sql}
    FROM s
), v AS (
    SELECT *{split_sql}
    FROM w
), x AS (
    SELECT *{helper_sql}
    FROM v
)
SELECT {", ".join(EVENT_COMMON[:-1])},
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
def compiled_events(table: str, columns: tuple[str, ...]) -> str:
    """The SELECT of ``table``'s events giving ``columns``, for the rule table."""
    return render(plan(table), list(columns))
