"""Which rule a line meets: the rule table as one SQL CASE, and the same choice in Python.

The header step (:mod:`mailidx.parse.header`) runs :func:`classify_sql` on each line's body;
:func:`rule_for` makes the very same choice in Python's ``re`` for tools and tests. The
helpers here read a rule's pattern (its literal prefix, its tail) and quote SQL text.
"""

from __future__ import annotations

import re
from functools import cache

from mailidx.parse.rules import RULES, Rule

UNPARSED, FOREIGN = -1, -2


def sql_str(text: str) -> str:
    """A SQL string literal (the rule table is ours, but quote it properly all the same)."""
    return "'" + text.replace("'", "''") + "'"


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


def kind_list_sql() -> str:
    return "[" + ", ".join(sql_str(k) for k in kinds()) + "]"
