"""`mailidx prune`: remove old days from the index and give the space back.

Days before a UTC midnight leave the index: their lines, their events and the stored
per-message rows of message instances whose whole flow ended before then (sql/retention/
prune.sql says exactly which rows). Files keep their offsets, so build and watch go on from
where they were and never read the pruned lines again. DuckDB does not shrink a file, so the
index is then copied into a new file that replaces it in one rename: a reader has the old file
or the new one open, never a half-written one.

With a lake, the days first go to it (mailidx/lake/export.py), and prune refuses while the lake
does not hold every partition it is about to remove as the index has it.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

from mailidx import store
from mailidx.errors import MailidxError
from mailidx.ingest import indexer, refresh
from mailidx.lake import export

WAIT_SECONDS = 30.0


class PruneError(MailidxError):
    """A prune that cannot be done as asked; the message is one line for the user."""


@dataclass
class PruneReport:
    before: str
    lines_removed: int
    bytes_before: int
    bytes_after: int
    exported: export.Report | None = None


def cutoff_of(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(tzinfo=dt.timezone.utc)


def prune(path: str, before: str, *, tz: str, lake: str | None = None) -> PruneReport:
    """Remove the days before ``before`` (yyyy-mm-dd, UTC) from the index at ``path``."""
    bytes_before = store.db_size(path)
    # a running `watch` lets go of the index between batches: wait for it like a reader does
    con = store.open_for_writing(path, tz=tz, wait=WAIT_SECONDS)
    temp = f"{path}.compact-{os.getpid()}"
    try:
        # rows a build killed before its refresh left out of the stored views: in them first,
        # so that export and the kept flows read every message as it is
        indexer.refresh_caches(con)
        exported = None
        if lake is not None:
            scope = export.Scope(until=before, frozen_before=export.frozen_before(con))
            exported = export.export(con, lake, scope)
            from mailidx.lake import views as lakes

            lakes.write_scripts(lake)
            missing = export.lake_holds(con, lake, before)
            if missing:
                raise PruneError(
                    f"{lake} does not hold {len(missing)} partitions before {before} as the index "
                    f"has them (first: {missing[0]}); nothing pruned"
                )
        lines = delete_internal(con, cutoff_of(before))
        _set_frozen(con, before)
        compact(con, temp)
    except BaseException:
        con.close()
        for leftover in (temp, temp + ".wal"):
            if os.path.exists(leftover):
                os.remove(leftover)
        raise
    con.close()
    os.replace(temp, path)  # one rename: readers have the old file or the new one
    return PruneReport(before, lines, bytes_before, store.db_size(path), exported)


def delete_internal(con, cutoff: dt.datetime) -> int:
    """Delete the pruned rows from the storage tables, in one transaction; the lines removed.
    Everything that knows the storage layout is here and in sql/retention/prune.sql."""
    text = (store.sql_dir() / "retention" / "prune.sql").read_text()
    con.execute("BEGIN")
    for statement in con.extract_statements(text):
        needed = set(statement.named_parameters)
        con.execute(statement, {"cutoff": cutoff} if "cutoff" in needed else None)
    removed = con.execute("SELECT count(*) FROM temp.main.prune_lines").fetchall()[0][0]
    same_line = "t.file_id = p.file_id AND t.line_number = p.line_number"
    for table in store.event_tables(con):
        con.execute(f"DELETE FROM {table} AS t USING temp.main.prune_lines AS p WHERE {same_line}")
    for name in refresh.LINE_CACHES:
        con.execute(
            f"DELETE FROM {name}_cache AS t USING temp.main.prune_lines AS p WHERE {same_line}"
        )
    same_queue = "t.host IS NOT DISTINCT FROM q.host AND t.queue_id = q.queue_id"
    for name in refresh.MESSAGE_CACHES:
        con.execute(
            f"DELETE FROM {name}_cache AS t USING temp.main.prune_queues AS q WHERE {same_queue}"
        )
    con.execute(  # (emptied by the refresh before; worked out again here in any case)
        "DELETE FROM pending_messages AS t USING temp.main.prune_queues AS q WHERE " + same_queue
    )
    for name in refresh.MESSAGE_CACHES:  # worked out again from the lines that stay
        con.execute(
            f"INSERT INTO {name}_cache SELECT t.* FROM {name}_live AS t "
            f"SEMI JOIN temp.main.prune_queues AS q ON {same_queue}"
        )
    con.execute("COMMIT")
    for table in ("prune_kept", "prune_kept_queues", "prune_lines", "prune_queues"):
        con.execute(f"DROP TABLE IF EXISTS temp.main.{table}")
    return removed


def _set_frozen(con, before: str) -> None:
    """Export never rewrites a day before this: the lake holds it whole, the index no longer."""
    had = export.frozen_before(con)
    if had is None or before > had:
        con.execute("INSERT OR REPLACE INTO meta VALUES ('pruned_before', ?)", [before])


def compact(con, temp: str) -> None:
    """The index copied into a new file ``temp`` (no free blocks), to be renamed over it.
    (A kill -9 here leaves the index as it was, pruned but not shrunk, and a stray ``temp``.)"""
    for leftover in (temp, temp + ".wal"):
        if os.path.exists(leftover):
            os.remove(leftover)
    db = con.execute("SELECT current_database()").fetchall()[0][0]
    con.execute("CHECKPOINT")
    con.execute(
        f"ATTACH '{temp.replace(chr(39), chr(39) * 2)}' AS mailidx_compact "
        f"(STORAGE_VERSION '{store.STORAGE_VERSION}')"
    )
    try:
        con.execute(f'COPY FROM DATABASE "{db.replace(chr(34), chr(34) * 2)}" TO mailidx_compact')
    finally:
        con.execute("DETACH mailidx_compact")
