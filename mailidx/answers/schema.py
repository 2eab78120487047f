"""The documented schema: every public view and table with a line on each column.

The text lives once, as COMMENT ON statements in sql/; this module reads it back from the
catalog (so DBeaver shows the same words) and renders it for `mailidx schema` and the README.
A view column without a comment of its own takes the comment of the same column in `events`.
"""

from __future__ import annotations

from dataclasses import dataclass

# What a user queries, in the order a postmaster meets it: every view and table sql/ documents
# but the helpers, as tests/test_view_lists.py checks against the catalog.
PUBLIC = (
    "messages",
    "recipients",
    "deliveries",
    "flows",
    "message_flows",
    "rejects",
    "connections",
    "problems",
    "events",
    "log_lines",
    "message_events",
    "reason_categories",
    "files",
    "journals",
)


@dataclass
class Column:
    name: str
    type: str
    description: str


@dataclass
class Relation:
    name: str
    kind: str  # view or table
    description: str
    columns: list[Column]


def describe(con, names: tuple[str, ...] = PUBLIC) -> list[Relation]:
    objects = dict(
        con.execute(
            "SELECT view_name, coalesce(comment, '') FROM duckdb_views() WHERE NOT internal "
            "UNION ALL SELECT table_name, coalesce(comment, '') FROM duckdb_tables()"
        ).fetchall()
    )
    views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
    rows = con.execute(
        "SELECT table_name, column_name, data_type, coalesce(comment, '') FROM duckdb_columns() "
        "ORDER BY table_name, column_index"
    ).fetchall()
    columns: dict[str, list[Column]] = {}
    for table, column, dtype, comment in rows:
        columns.setdefault(table, []).append(Column(column, dtype, comment))
    fallback = {c.name: c.description for c in columns.get("events", [])}
    out = []
    for name in names:
        if name not in objects:
            continue
        cols = [
            Column(c.name, c.type, c.description or fallback.get(c.name, ""))
            for c in columns.get(name, [])
        ]
        out.append(Relation(name, "view" if name in views else "table", objects[name], cols))
    return out


def markdown(relations: list[Relation]) -> str:
    parts = []
    for rel in relations:
        parts.append(f"## `{rel.name}` ({rel.kind})\n\n{rel.description}\n")
        parts.append("| column | type | meaning |\n|---|---|---|")
        for c in rel.columns:
            text = c.description.replace("|", "\\|")
            parts.append(f"| `{c.name}` | {c.type} | {text} |")
        parts.append("")
    return "\n".join(parts)


def open_schema(db_path: str | None):
    """The index's catalog when it exists, else a fresh in-memory schema from sql/."""
    import os

    import duckdb

    from mailidx import store

    if db_path and os.path.exists(db_path):
        return store.connect(db_path, read_only=True)
    con = duckdb.connect(":memory:")
    store.migrate(con, ":memory:")
    return con
