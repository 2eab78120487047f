"""The index's writes for the indexer: appending a batch, refreshing the stored per-message
rows, and saving each file's checkpoint (:func:`mailidx.ingest.files.save_states`).

A batch's lines, its events, its queue IDs pending a refresh and the files' new offsets
commit in one transaction (:func:`append_batch`). The stored per-message views (the
``*_cache`` tables) are brought up to date for the pending queue IDs by
:func:`refresh_caches`, set-based, with the views' own SQL. :data:`PHASES` adds up the time
each step takes, for the benchmark.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import duckdb

from mailidx import store
from mailidx.ingest import files
from mailidx.parse.classify import kind_list_sql
from mailidx.parse.events import EVENT_COMMON, compiled_events
from mailidx.parse.header import compiled_header

if TYPE_CHECKING:
    import pyarrow as pa

PHASES: dict[str, list[float]] = {}  # [wall, CPU] seconds per phase of a build, for bench/


class timed:
    """Add the wall and CPU seconds (all threads) of a block to PHASES[name]."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        self.started = time.perf_counter(), time.process_time()

    def __exit__(self, *exc) -> None:
        wall, cpu = self.started
        spent = PHASES.setdefault(self.name, [0.0, 0.0])
        spent[0] += time.perf_counter() - wall
        spent[1] += time.process_time() - cpu


def append_batch(
    con,
    batch: pa.Table,
    states: list[files.FileState],
    also: Callable[[object], None] | None = None,
    refresh: bool = False,
) -> tuple[int, int]:
    """Parse and store one batch (lines of one or more files, ``file_id`` a column) and move
    the files' checkpoints, all in one transaction. The states carry their new bytes_done and
    lines_done already. The batch's queue IDs are noted in pending_messages for
    :func:`refresh_caches`; the per-line stored view (rejects) gets the batch's rows.
    ``also(con)`` writes more of the source's position in the same transaction (the journal's
    cursor); ``refresh`` brings the stored per-message views up to date in it too (watch: one
    commit per batch, so its lines are queryable as soon as they are committed).

    Returns (events, unparsed) of the batch.
    """
    # chosen before the transaction: a view that fails to bind would abort it
    columns = _refresh_columns(con) if refresh else MESSAGE_EVENT_COLUMNS
    con.register("batch", batch)
    try:
        with store.transaction(con, lambda: timed("commit")):
            with timed("header + rule match"):
                con.execute(f"CREATE OR REPLACE TEMP TABLE parsed AS {compiled_header()}")
            with timed("lines"):
                con.execute(
                    f"""INSERT INTO lines SELECT file_id, "offset", line_number, ts, host, program,
                        pid, queue_id,
                        CASE WHEN rule >= 0 THEN {kind_list_sql()}[rule + 1]
                             ELSE fallback_kind END,
                        raw, raw_bytes FROM parsed"""
                )
            _insert_events(con, batch.num_rows >= MEMOISE_FROM_ROWS)
            with timed("pending + file checkpoints"):
                con.execute(
                    "INSERT INTO pending_messages SELECT DISTINCT host, queue_id FROM parsed "
                    "WHERE queue_id IS NOT NULL"
                )
                n_events, n_unparsed = con.execute(
                    "SELECT count(*) FILTER (WHERE rule >= 0), count(*) FILTER (WHERE rule = -1) "
                    "FROM parsed"
                ).fetchall()[0]
                files.save_states(con, states)
                if also is not None:
                    also(con)
                con.execute("DROP TABLE parsed")
            if refresh:
                _drop_event_shadows(con)
                _refresh_in_transaction(con, columns)
    finally:
        con.unregister("batch")
        for table in store.event_tables(con):
            con.execute(f"DROP TABLE IF EXISTS temp.main.{table}")
    return n_events, n_unparsed


MEMOISE_FROM_ROWS = 20_000  # lines of a batch (or events of a refresh) worth a category memo


# The ev_* tables holding the kinds the per-line stored views read (rejects_live); a test
# holds this to sql/views/90_rejects.sql.
LINE_VIEW_TABLES = ("ev_reject", "ev_other")


def _insert_events(con, big: bool = True) -> None:
    """The batch's events. Every ev_* table is shadowed for this connection by a temp table of
    the same name, so the per-line stored views (rejects_live reads the events view) see just
    this batch's events: the tables those views read (LINE_VIEW_TABLES) get the batch's rows
    there first and are then appended from it; the others are appended to directly, their
    shadows left empty."""
    stored = _stored(con)
    tables = store.event_tables(con)
    for table, columns in tables.items():
        fields = tuple(c for c in columns if c not in EVENT_COMMON)
        sql = compiled_events(table, fields)
        if table not in LINE_VIEW_TABLES:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM {stored}.{table} LIMIT 0"
            )
            with timed("typed events: extraction + insert"):
                con.execute(f"INSERT INTO {stored}.{table} {sql}")
            continue
        with timed("typed events: extraction"):
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {sql}")
        with timed("typed events: insert"):
            con.execute(f"INSERT INTO {stored}.{table} SELECT * FROM temp.main.{table}")
    with timed("per-line views (rejects)"):
        if big:  # a small batch (watch) works its few categories out directly
            _memoise_categories(con, stored, "SELECT dsn, reason FROM events")
        for name in store.LINE_CACHES:
            con.execute(f"INSERT INTO {stored}.{name}_cache SELECT * FROM {name}_live")
        _forget_categories(con)


def _forget_categories(con) -> None:
    con.execute("DROP MACRO IF EXISTS temp.main.reason_category")
    con.execute("DROP TABLE IF EXISTS temp.main.category_memo")


def _stored(con) -> str:
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
    transaction (see :func:`_refresh_in_transaction`), so that however many are pending (a
    killed build, a big log) each step's memory stays bounded; nothing to do when no queue
    ID is pending."""
    columns = None
    while con.execute("SELECT 1 FROM pending_messages LIMIT 1").fetchall():
        columns = columns or _refresh_columns(con)
        with store.transaction(con, lambda: timed("commit")):
            _refresh_in_transaction(con, columns, slice_size)


def _refresh_columns(con) -> str:
    """MESSAGE_EVENT_COLUMNS when every ``*_live`` view binds over a message_events of just
    those columns, else every column. Checked before the refresh's transaction (a binder
    error inside a DuckDB transaction aborts it): DESCRIBE binds the views without running
    them."""
    stored = _stored(con)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE message_events AS "
        f"SELECT {MESSAGE_EVENT_COLUMNS} FROM {stored}.message_events LIMIT 0"
    )
    try:
        for name in store.MESSAGE_CACHES:
            con.execute(f"DESCRIBE SELECT * FROM {stored}.{name}_live").fetchall()
        return MESSAGE_EVENT_COLUMNS
    except duckdb.BinderException:
        return "*"
    finally:
        con.execute("DROP TABLE IF EXISTS temp.main.message_events")


def _drop_event_shadows(con) -> None:
    """The batch's temp ev_* tables (see :func:`_insert_events`), before the refresh reads
    the stored ones."""
    for table in store.event_tables(con):
        con.execute(f"DROP TABLE IF EXISTS temp.main.{table}")


def _refresh_in_transaction(con, columns: str, slice_size: int | None = None) -> None:
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
    stored = _stored(con)
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
                _memoise_categories(
                    con,
                    stored,
                    "SELECT dsn, response FROM temp.main.message_events "
                    "UNION ALL SELECT dsn, reason FROM temp.main.message_events",
                )
        kept = _read_by_later_views(con, stored)
        for name in store.MESSAGE_CACHES:
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
                    f"ORDER BY {store.CACHE_ORDER[name]}"
                )
        con.execute(f"DELETE FROM {stored}.pending_messages AS e USING touched AS t WHERE {same}")
    finally:
        shadows = (*MESSAGE_EVENT_TABLES, "message_events", "touched")
        for table in (*shadows, *(f"{name}_live" for name in store.MESSAGE_CACHES)):
            with contextlib.suppress(duckdb.Error):  # (an aborted transaction drops nothing)
                con.execute(f"DROP TABLE IF EXISTS temp.main.{table}")
        with contextlib.suppress(duckdb.Error):
            _forget_categories(con)


def _read_by_later_views(con, stored: str) -> set[str]:
    """The stored per-message views a later one reads (messages_live reads
    message_facts_live): the refresh keeps each of those in a temp table of its own name, so
    that the later view reads its rows instead of working them out again. The others go
    straight into their ``*_cache`` table."""
    database = stored.rsplit(".", 1)[0].strip('"').replace('""', '"')
    sql = dict(
        con.execute(
            "SELECT view_name, sql FROM duckdb_views() "
            "WHERE database_name = ? AND schema_name = 'main'",
            [database],
        ).fetchall()
    )
    names = store.MESSAGE_CACHES
    return {
        name
        for i, name in enumerate(names)
        if any(f"{name}_live" in sql.get(f"{later}_live", "") for later in names[i + 1 :])
    }


def _memoise_categories(con, stored: str, pairs: str) -> None:
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


def append_lines(
    con,
    state: files.FileState,
    batch: pa.Table,
    end_offset: int,
    also: Callable[[object], None] | None = None,
    refresh: bool = False,
) -> tuple[int, int]:
    """:func:`append_batch` for the lines of one source (a
    :func:`mailidx.ingest.batch.to_batch` table) ending at ``end_offset``; the state moves on
    only when they are committed."""
    before = state.bytes_done, state.lines_done
    state.bytes_done, state.lines_done = end_offset, state.lines_done + batch.num_rows
    try:
        return append_batch(con, batch, [state], also=also, refresh=refresh)
    except BaseException:
        state.bytes_done, state.lines_done = before
        raise
