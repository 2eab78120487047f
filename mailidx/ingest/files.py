"""What the index knows of each log file it has read: its first bytes (how it is known
through renames), how far it was read, and the year state of its year-less times. Written by
:func:`save_states` in the batch's own transaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass
class FileState:
    """What the index knows of one log file."""

    file_id: int
    path: str
    head: bytes
    bytes_done: int
    lines_done: int
    last_year: int | None
    last_month: int | None
    is_new: bool = False


def known_files(con) -> list[FileState]:
    """The log files the index knows (not the journal streams: mailidx.ingest.journal)."""
    rows = con.execute(
        "SELECT file_id, path, head, bytes_done, lines_done, last_year, last_month FROM files "
        "WHERE file_id NOT IN (SELECT file_id FROM journals)"
    ).fetchall()
    return [FileState(*row) for row in rows]


def next_file_id(con) -> int:
    return con.execute("SELECT coalesce(max(file_id), 0) + 1 FROM files").fetchall()[0][0]


def save_states(con, states: list[FileState]) -> None:
    """Write the files' checkpoints: one statement for the new files, one for the known."""
    import pyarrow as pa  # here: a re-run with nothing new never saves, nor pays its 0.1 s

    now = dt.datetime.now(dt.timezone.utc)
    for new in (True, False):
        chosen = [s for s in states if s.is_new == new]
        if not chosen:
            continue
        table = pa.table(
            {
                "file_id": pa.array([s.file_id for s in chosen], pa.int32()),
                "path": pa.array([s.path for s in chosen], pa.string()),
                "head": pa.array([s.head for s in chosen], pa.binary()),
                "bytes_done": pa.array([s.bytes_done for s in chosen], pa.int64()),
                "lines_done": pa.array([s.lines_done for s in chosen], pa.int64()),
                "last_year": pa.array([s.last_year for s in chosen], pa.int32()),
                "last_month": pa.array([s.last_month for s in chosen], pa.int32()),
            }
        )
        con.register("file_states", table)
        try:
            if new:
                con.execute(
                    "INSERT INTO files SELECT file_id, path, path, head, octet_length(head),"
                    " bytes_done, lines_done, last_year, last_month, $now, $now"
                    " FROM file_states",
                    {"now": now},
                )
            else:
                con.execute(
                    "UPDATE files SET path = n.path, head = n.head,"
                    " head_len = octet_length(n.head), bytes_done = n.bytes_done,"
                    " lines_done = n.lines_done, last_year = n.last_year,"
                    " last_month = n.last_month, last_indexed = $now"
                    " FROM file_states AS n WHERE files.file_id = n.file_id",
                    {"now": now},
                )
        finally:
            con.unregister("file_states")
    for state in states:
        state.is_new = False
