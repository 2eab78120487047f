"""The stored views: which they are, and bringing their ``*_cache`` tables up to date.

Per message instance (:data:`MESSAGE_CACHES`), the rows of the queue IDs in pending_messages
are worked out again by :func:`refresh_caches`, set-based, with the views' own SQL; per line
(:data:`LINE_CACHES`), a batch appends the rows of its own lines (:mod:`mailidx.ingest.write`).
Both look reason categories up in a memo of the distinct (dsn, text) pairs
(:func:`memoise_categories`).
"""

from __future__ import annotations

import contextlib

import duckdb

from mailidx import store
from mailidx.ingest.phases import timed

# The stored views (sql/views/40_message_facts.sql): NAME_live computes, NAME_cache stores.
# Per message instance: a batch recomputes the rows of the queue IDs it touched.
MESSAGE_CACHES = ("message_facts", "deliveries", "recipients", "messages", "message_links")
# The order each stored table is kept in (as its view file creates it): time bounds skip
# row groups.
CACHE_ORDER = {
    "message_facts": "last_seen",
    "deliveries": "ts",
    "recipients": "last_attempt",
    "messages": "last_seen",
    "message_links": "ts",
}
# Per line: a batch appends the rows of its own lines.
LINE_CACHES = ("rejects",)

MEMOISE_FROM_ROWS = 20_000  # lines of a batch (or events of a refresh) worth a category memo


def forget_categories(con) -> None:
    con.execute("DROP MACRO IF EXISTS temp.main.reason_category")
    con.execute("DROP TABLE IF EXISTS temp.main.category_memo")


def stored_schema(con) -> str:
    """The index's main schema by its full name: a bare main.x would find temp.main.x first."""
    db = con.execute("SELECT current_database()").fetchall()[0][0]
    return '"' + db.replace('"', '""') + '".main'


# The tables message_events reads (sql/views/30_message_events.sql): the events with a queue ID.
MESSAGE_EVENT_TABLES = ("ev_delivery", "ev_message", "ev_reject", "ev_other")


# The columns of message_events the *_live views read: the refresh materialises just these
# (a narrower table sorts and spills less: 5.7 instead of 7.7 CPU-s at 2 M lines). A view that
# reads another column makes the narrow refresh fail to bind, and the refresh runs again
# with every column.
MESSAGE_EVENT_COLUMNS = (
    "file_id, line_number, ts, host, queue_id, kind, daemon, instance, message_key, "
    "message_sender, message_message_id, message_expired, message_deleted, message_discarded, "
    "message_held, client_host, client_ip, sasl_username, orig_queue_id, message_id, sender, "
    "size, nrcpt, recipient, orig_recipient, relay, relay_host, relay_ip, relay_port, delay, "
    "delay_before_qmgr, delay_in_qmgr, delay_conn, delay_xmit, dsn, status, response, "
    "next_queue_id, tls, stage, reason, action"
)


# Pending queue IDs one refresh transaction takes on: the views' sorts, windows and joins of
# 100,000 messages' events (about 1.8 M lines) fit the build's 256 MB memory cap, where
# 500,000 ran out of memory (20 M lines).
REFRESH_SLICE = 100_000


def refresh_caches(con, slice_size: int = REFRESH_SLICE) -> None:
    """Bring the stored per-message views up to date, ``slice_size`` pending queue IDs to a
    transaction (see :func:`refresh_in_transaction`), so that however many are pending (a
    killed build, a big log) each step's memory stays bounded; nothing to do when no queue
    ID is pending."""
    columns = None
    while con.execute("SELECT 1 FROM pending_messages LIMIT 1").fetchall():
        columns = columns or refresh_columns(con)
        with store.transaction(con, lambda: timed("commit")):
            refresh_in_transaction(con, columns, slice_size)


def refresh_columns(con) -> str:
    """MESSAGE_EVENT_COLUMNS when every ``*_live`` view binds over a message_events of just
    those columns, else every column. Checked before the refresh's transaction (a binder
    error inside a DuckDB transaction aborts it): DESCRIBE binds the views without running
    them."""
    stored = stored_schema(con)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE message_events AS "
        f"SELECT {MESSAGE_EVENT_COLUMNS} FROM {stored}.message_events LIMIT 0"
    )
    try:
        for name in MESSAGE_CACHES:
            con.execute(f"DESCRIBE SELECT * FROM {stored}.{name}_live").fetchall()
        return MESSAGE_EVENT_COLUMNS
    except duckdb.BinderException:
        return "*"
    finally:
        con.execute("DROP TABLE IF EXISTS temp.main.message_events")


def refresh_in_transaction(con, columns: str, slice_size: int | None = None) -> None:
    """Bring the stored per-message views (the ``*_cache`` tables) up to date for the queue IDs
    in pending_messages (or ``slice_size`` of them), set-based, in the caller's transaction,
    and take them out of pending_messages.

    Temp tables named like the event tables, holding every event of those (host, queue_id)s,
    shadow the stored ones for this connection while the ``*_live`` views are read, so the
    views' own SQL computes just the rows that replace the old ones. Each view read is kept in
    a temp table of its own name too, so the views built on it (messages_live on
    message_facts_live, …) read it instead of working it out again. ``reason_category`` is
    worked out once per distinct (dsn, text) pair of those events, not once per row.
    """
    stored = stored_schema(con)
    if not con.execute(f"SELECT 1 FROM {stored}.pending_messages LIMIT 1").fetchall():
        return
    same = "e.host IS NOT DISTINCT FROM t.host AND e.queue_id = t.queue_id"
    try:
        with timed("per-message views: events"):
            limit = "" if slice_size is None else f" LIMIT {int(slice_size)}"
            con.execute(
                "CREATE OR REPLACE TEMP TABLE touched AS "
                f"SELECT DISTINCT host, queue_id FROM {stored}.pending_messages{limit}"
            )
            everything = not con.execute(
                f"SELECT 1 FROM {stored}.pending_messages AS e ANTI JOIN touched AS t ON {same} "
                "LIMIT 1"
            ).fetchall()
            # nothing stored yet (a first build) and every pending queue ID in this slice:
            # every queue ID with events is touched, so the views read the stored events as
            # they are
            first = (
                everything
                and not con.execute(
                    f"SELECT 1 FROM {stored}.message_facts_cache LIMIT 1"
                ).fetchall()
            )
            for table in () if first else MESSAGE_EVENT_TABLES:
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT e.* FROM {stored}.{table} "
                    f"AS e SEMI JOIN touched AS t ON {same}"
                )
        with timed("per-message views: message_events"):
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE message_events AS "
                f"SELECT {columns} FROM {stored}.message_events"
            )
        big = con.execute("SELECT count(*) FROM message_events").fetchall()[0][0]
        with timed("per-message views: categories"):
            if big >= MEMOISE_FROM_ROWS:  # a few events (watch): worked out directly
                memoise_categories(
                    con,
                    stored,
                    "SELECT dsn, response FROM temp.main.message_events "
                    "UNION ALL SELECT dsn, reason FROM temp.main.message_events",
                )
        kept = _read_by_later_views(con)
        for name in MESSAGE_CACHES:
            with timed(f"per-message views: {name}"):
                view = rows = f"{stored}.{name}_live"
                if name in kept:
                    rows = f"temp.main.{name}_live"
                    con.execute(f"CREATE OR REPLACE TEMP TABLE {name}_live AS SELECT * FROM {view}")
                if not first:
                    con.execute(
                        f"DELETE FROM {stored}.{name}_cache AS e USING touched AS t WHERE {same}"
                    )
                # in time order, as the tables were created: time bounds skip row groups
                con.execute(
                    f"INSERT INTO {stored}.{name}_cache SELECT * FROM {rows} "
                    f"ORDER BY {CACHE_ORDER[name]}"
                )
        con.execute(f"DELETE FROM {stored}.pending_messages AS e USING touched AS t WHERE {same}")
    finally:
        shadows = (*MESSAGE_EVENT_TABLES, "message_events", "touched")
        for table in (*shadows, *(f"{name}_live" for name in MESSAGE_CACHES)):
            with contextlib.suppress(duckdb.Error):  # (an aborted transaction drops nothing)
                con.execute(f"DROP TABLE IF EXISTS temp.main.{table}")
        with contextlib.suppress(duckdb.Error):
            forget_categories(con)


def _read_by_later_views(con) -> set[str]:
    """The stored per-message views a later one reads (messages_live reads
    message_facts_live): the refresh keeps each of those in a temp table of its own name, so
    that the later view reads its rows instead of working them out again. The others go
    straight into their ``*_cache`` table."""
    sql = dict(
        con.execute(
            "SELECT view_name, sql FROM duckdb_views() "
            "WHERE database_name = current_database() AND schema_name = 'main'"
        ).fetchall()
    )
    return {
        name
        for i, name in enumerate(MESSAGE_CACHES)
        if any(f"{name}_live" in sql.get(f"{later}_live", "") for later in MESSAGE_CACHES[i + 1 :])
    }


def memoise_categories(con, stored: str, pairs: str) -> None:
    """A temp ``reason_category`` macro that looks the category up in a table of the distinct
    (dsn, text) ``pairs`` (a query), each worked out once, all in one join
    (``reason_categories_of``, sql/views/25_reason_category.sql: the same category as the real
    macro); it shadows the stored macro for this connection while the views are read."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE category_pairs AS SELECT * FROM ({pairs}) AS p(dsn, text)"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE category_memo AS "
        f"SELECT * FROM {stored}.reason_categories_of('temp.main.category_pairs')"
    )
    con.execute("DROP TABLE temp.main.category_pairs")
    con.execute(
        """CREATE OR REPLACE TEMP MACRO reason_category(d, t) AS (
            SELECT any_value(m.category) FROM temp.main.category_memo AS m
            WHERE m.dsn IS NOT DISTINCT FROM d AND m.text IS NOT DISTINCT FROM t)"""
    )
