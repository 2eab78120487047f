"""The Python lists that name views cannot drift from the catalog: `schema.PUBLIC` (what a
user is shown, in the order a postmaster meets it) and `export.TABLES` (what the lake holds,
filed by which column). The facts themselves live in sql/; each list only chooses and orders,
and every documented view or table must be placed by it or by an explained entry here."""

from __future__ import annotations

import duckdb

from mailidx import store
from mailidx.answers import schema
from mailidx.lake import export
from mailidx.lake import views as lake_views

# Documented in sql/ (they carry a COMMENT) but not among the views a user is shown.
NOT_PUBLIC = {
    "message_facts": "a helper of messages (trace looks messages up in it)",
    "message_links": "a helper of flows (trace follows it; the lake exports it for flows)",
    "meta": "the index's own format marker and settings",
    "pending_messages": "bookkeeping of the stored per-message views",
}
# Public views the lake does not export, and why.
NOT_EXPORTED = {
    "message_events": "events with their message instance: events and messages hold it all",
    "reason_categories": "the classification rules, not data about mail",
    "files": "where this index's reading of each file stands",
    "journals": "where this index's reading of each journal stands",
}


def catalog():
    con = duckdb.connect(":memory:")
    store.migrate(con, ":memory:")
    return con


def documented(con) -> set[str]:
    rows = con.execute(
        "SELECT view_name FROM duckdb_views() WHERE NOT internal AND coalesce(comment, '') <> '' "
        "UNION SELECT table_name FROM duckdb_tables() WHERE coalesce(comment, '') <> ''"
    ).fetchall()
    return {r[0] for r in rows}


def test_public_names_every_documented_view_or_table_but_the_helpers_each_once():
    have = documented(catalog())
    assert set(NOT_PUBLIC) <= have
    assert sorted(schema.PUBLIC) == sorted(have - set(NOT_PUBLIC))


def test_every_exported_table_is_a_view_with_the_time_column_it_is_filed_by():
    con = catalog()
    for table, when in export.TABLES.items():
        columns = dict(export.columns(con, table))
        assert columns, f"{table} is not a view of the index"
        if when is export.MESSAGE:
            assert "message_key" in columns, table
        else:
            assert columns[when].startswith("TIMESTAMP"), (table, when, columns[when])


def test_the_lake_holds_every_public_view_but_the_explained_ones():
    in_lake = set(export.TABLES) | set(lake_views.DERIVED)
    assert set(NOT_EXPORTED).isdisjoint(in_lake)
    assert set(schema.PUBLIC) - set(NOT_EXPORTED) <= in_lake
    assert in_lake - set(schema.PUBLIC) <= set(NOT_PUBLIC)
