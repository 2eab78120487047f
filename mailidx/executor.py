"""The one SQL executor that `mailidx sql` (batch) and the interactive shell share.

Text with any number of statements is split by DuckDB's own parser and run statement by
statement, each given the named parameters (``$name``) it uses; each yields a
:class:`Result`: its column names and rows, or, for a statement that returns none, only its
kind (the status). Also here: what a read-only session's refusal looks like, so both front
ends can say how to get past it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

# What DuckDB says when a read-only session refuses a statement
REFUSALS = (
    "read-only",
    "read only",
    "disabled by configuration",
    "disabled through configuration",
    "cannot enable external access",
    "enable_external_access is disabled",
    "while database is running",
)


# What a refused statement in a `--lake` session is told (there is no --write for a lake)
LAKE_REFUSAL = "a --lake session reads only the lake's folder"


@dataclass
class Result:
    """One statement's outcome."""

    kind: str  # select, insert, set, create, … (DuckDB's statement type)
    columns: list[str] = field(default_factory=list)
    rows: list = field(default_factory=list)


def run_statements(con, text: str, params: Mapping[str, object] | None = None) -> Iterator[Result]:
    """Every statement of ``text`` in turn, each bound to the ``params`` it names."""
    params = params or {}
    for statement in con.extract_statements(text):
        needed = set(statement.named_parameters)
        cur = con.execute(statement, {k: v for k, v in params.items() if k in needed} or None)
        kind = statement.type.name.lower()
        if cur.description:
            yield Result(kind, [d[0] for d in cur.description], cur.fetchall())
        else:
            yield Result(kind)


def last_rows(con, text: str, params: Mapping[str, object] | None = None):
    """Run every statement; (columns, rows) of the last one that returned any."""
    columns, rows = [], []
    for result in run_statements(con, text, params):
        if result.columns:
            columns, rows = result.columns, result.rows
    return columns, rows


def one_line(exc: Exception) -> str:
    """A DuckDB error message on one line."""
    return " ".join(str(exc).split())


def refused_read_only(exc: Exception) -> bool:
    """Did a read-only session refuse this statement (a write, a file, an extension)?"""
    import duckdb

    text = str(exc).lower()
    return isinstance(exc, duckdb.PermissionException) or any(w in text for w in REFUSALS)
