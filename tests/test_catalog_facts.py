"""What the Python side of ingest and parse states about the schema is what the catalog of a
freshly migrated index says: the events' column types and common columns, the tables
message_events reads, the columns its narrow refresh keeps, and the stored views."""

from __future__ import annotations

import re

import duckdb
import pytest

from mailidx import store
from mailidx.ingest import refresh
from mailidx.parse import events


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect(":memory:")
    store.migrate(con, ":memory:")
    yield con
    con.close()


def columns(con, table):
    return con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? "
        "ORDER BY column_index",
        [table],
    ).fetchall()


def test_every_event_table_starts_with_the_common_columns(con):
    tables = store.event_tables(con)
    assert set(tables) == {"ev_delivery", "ev_message", "ev_session", "ev_reject", "ev_other"}
    for table, names in tables.items():
        assert tuple(names[: len(events.EVENT_COMMON)]) == events.EVENT_COMMON, table


def test_event_field_types_are_the_catalog_types(con):
    typed = {}
    for table in store.event_tables(con):
        for name, kind in columns(con, table)[len(events.EVENT_COMMON) :]:
            if kind != "VARCHAR":
                typed.setdefault(name, set()).add(kind)
    delays = {n: {"DOUBLE"} for n in typed if n.startswith("delay_")}  # cast as DOUBLE by name
    assert typed == {**{n: {t} for n, t in events.TYPES.items()}, **delays}


def test_message_event_tables_are_those_message_events_reads(con):
    (sql,) = con.execute(
        "SELECT sql FROM duckdb_views() WHERE view_name = 'message_events'"
    ).fetchone()
    assert set(re.findall(r"\bFROM (ev_\w+)", sql)) == set(refresh.MESSAGE_EVENT_TABLES)


def test_the_narrow_refresh_keeps_only_columns_message_events_has(con):
    names = {name for name, _ in columns(con, "message_events")}
    kept = refresh.MESSAGE_EVENT_COLUMNS.split(", ")
    assert len(kept) == len(set(kept))
    assert set(kept) <= names


def test_the_stored_views_are_the_cache_tables_of_the_index(con):
    caches = {
        name.removesuffix("_cache")
        for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE '%\\_cache' ESCAPE '\\'"
        ).fetchall()
    }
    assert caches == {*refresh.MESSAGE_CACHES, *refresh.LINE_CACHES}
    assert set(refresh.CACHE_ORDER) == set(refresh.MESSAGE_CACHES)
    views = {name for (name,) in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
    assert {f"{name}_live" for name in caches} <= views
    for name, order in refresh.CACHE_ORDER.items():
        assert order in {c for c, _ in columns(con, f"{name}_cache")}, name
