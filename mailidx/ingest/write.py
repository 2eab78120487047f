"""The index's writes for the indexer: appending a batch and saving each file's checkpoint
(:func:`mailidx.ingest.files.save_states`).

A batch's lines, its events, its queue IDs pending a refresh and the files' new offsets
commit in one transaction (:func:`append_batch`). The stored per-message views (the
``*_cache`` tables) are brought up to date for the pending queue IDs by
:func:`mailidx.ingest.refresh.refresh_caches`; :mod:`mailidx.ingest.phases` adds up the time
each step takes, for the benchmark.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mailidx import store
from mailidx.ingest import files
from mailidx.ingest.phases import timed
from mailidx.ingest.refresh import (
    LINE_CACHES,
    MEMOISE_FROM_ROWS,
    MESSAGE_EVENT_COLUMNS,
    forget_categories,
    memoise_categories,
    refresh_columns,
    refresh_in_transaction,
    stored_schema,
)
from mailidx.parse.classify import kind_list_sql
from mailidx.parse.events import EVENT_COMMON, compiled_events
from mailidx.parse.header import compiled_header

if TYPE_CHECKING:
    import pyarrow as pa


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
    :func:`mailidx.ingest.refresh.refresh_caches`; the per-line stored view (rejects) gets the
    batch's rows.
    ``also(con)`` writes more of the source's position in the same transaction (the journal's
    cursor); ``refresh`` brings the stored per-message views up to date in it too (watch: one
    commit per batch, so its lines are queryable as soon as they are committed).

    Returns (events, unparsed) of the batch.
    """
    # chosen before the transaction: a view that fails to bind would abort it
    columns = refresh_columns(con) if refresh else MESSAGE_EVENT_COLUMNS
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
                refresh_in_transaction(con, columns)
    finally:
        con.unregister("batch")
        for table in store.event_tables(con):
            con.execute(f"DROP TABLE IF EXISTS temp.main.{table}")
    return n_events, n_unparsed


# The ev_* tables holding the kinds the per-line stored views read (rejects_live); a test
# holds this to sql/views/90_rejects.sql.
LINE_VIEW_TABLES = ("ev_reject", "ev_other")


def _insert_events(con, big: bool = True) -> None:
    """The batch's events. Every ev_* table is shadowed for this connection by a temp table of
    the same name, so the per-line stored views (rejects_live reads the events view) see just
    this batch's events: the tables those views read (LINE_VIEW_TABLES) get the batch's rows
    there first and are then appended from it; the others are appended to directly, their
    shadows left empty."""
    stored = stored_schema(con)
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
            memoise_categories(con, stored, "SELECT dsn, reason FROM events")
        for name in LINE_CACHES:
            con.execute(f"INSERT INTO {stored}.{name}_cache SELECT * FROM {name}_live")
        forget_categories(con)


def _drop_event_shadows(con) -> None:
    """The batch's temp ev_* tables (see :func:`_insert_events`), before the refresh reads
    the stored ones."""
    for table in store.event_tables(con):
        con.execute(f"DROP TABLE IF EXISTS temp.main.{table}")


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
