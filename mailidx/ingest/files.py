"""What the index knows of each log file it has read: its first bytes (how it is known
through renames), how far it was read, and the year state of its year-less times. Written by
:func:`mailidx.ingest.write.save_states` in the batch's own transaction."""

from __future__ import annotations

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
