"""Canned queries: named .sql files in sql/queries/ with bound parameters.

Each file starts with `-- help: one line`, and filters with `$name` parameters that are NULL
when the user does not give them (`AND ($sender IS NULL OR sender ILIKE $sender)`). A filter is
offered for a query exactly when its SQL uses the parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailidx.errors import QueryError
from mailidx.store import sql_dir

PARAM = re.compile(r"\$([a-z_]+)")


@dataclass
class Query:
    name: str
    help: str
    sql: str

    @property
    def filters(self) -> list[str]:
        return sorted(set(PARAM.findall(self.sql)) - {"limit"})


def catalog() -> dict[str, Query]:
    out = {}
    for path in sorted((sql_dir() / "queries").glob("*.sql")):
        text = path.read_text()
        first = text.splitlines()[0]
        help_text = first.split("help:", 1)[1].strip() if "help:" in first else ""
        out[path.stem] = Query(path.stem, help_text, text)
    return out


def get(name: str) -> Query:
    queries = catalog()
    if name not in queries:
        raise QueryError(f"no query {name!r}; choose one of: {', '.join(queries)}")
    return queries[name]


def bind(query: Query, given: dict[str, object]) -> dict[str, object]:
    """The parameters the query uses: given values, NULL for the rest."""
    unknown = [k for k, v in given.items() if v is not None and k not in query.filters + ["limit"]]
    if unknown:
        offered = ", ".join("--" + f for f in query.filters) or "none"
        raise QueryError(f"query {query.name!r} has no --{unknown[0]} filter (it takes: {offered})")
    return {name: given.get(name) for name in set(PARAM.findall(query.sql))}


def run(con, query: Query, params: dict[str, object]):
    cursor = con.execute(query.sql, params)
    columns = [d[0] for d in cursor.description]
    return columns, cursor.fetchall()


# `--by`: what to count rows by, worked out from a column the query returns (the first of the
# names given that it has).
BY = {
    "domain": (("domain", "recipient"), "lower(split_part({c}, '@', 2))"),
    "reason": (("reason_category",), "{c}"),
    "day": (("ts", "last_attempt", "first_seen", "first_attempt"), "strftime({c}, '%Y-%m-%d')"),
    "relay": (("relay",), "{c}"),
}


def count(con, query: Query, params: dict[str, object], by: str | None = None):
    """The number of rows the query gives (no --limit), or with ``by`` the rows counted per
    domain, reason, day or relay: (columns, rows)."""
    params = {**params, "limit": None} if "limit" in params else params
    inner = f"(\n{query.sql}\n) AS q"
    if by is None:
        return ["count"], con.execute(f"SELECT count(*) AS count FROM {inner}", params).fetchall()
    if by not in BY:
        raise QueryError(f"cannot count by {by!r}; choose one of: {', '.join(BY)}")
    names, expr = BY[by]
    cursor = con.execute(f"SELECT * FROM {inner} LIMIT 0", params)
    have = [d[0] for d in cursor.description]
    column = next((n for n in names if n in have), None)
    if column is None:
        raise QueryError(
            f"query {query.name!r} has no {by} to count by (its columns: {', '.join(have)})"
        )
    key = expr.format(c=f'"{column}"')
    order = "1" if by == "day" else "count DESC, 1 NULLS LAST"  # days in order, others by size
    sql = f"SELECT {key} AS {by}, count(*) AS count FROM {inner} GROUP BY 1 ORDER BY {order}"
    cursor = con.execute(sql, params)
    return [d[0] for d in cursor.description], cursor.fetchall()


def reason_names(con) -> list[str]:
    rows = con.execute(
        "SELECT DISTINCT category FROM reason_categories UNION SELECT 'other' ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]
