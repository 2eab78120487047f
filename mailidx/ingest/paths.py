"""Where each indexed file is now.

A rotation renames a log file after its last line was read (`maillog` → `maillog-20261127`,
then `maillog-20261127.gz`), so the batch that stores a file's new offset may never see its new
name. `build` and `watch` hand the names and first bytes of the files they look at to
:func:`renamed`, and :func:`record` stores the new names, so that `status` shows the path each
file has now (and, from `files.first_path`, the one it had when it was first indexed).
"""

from __future__ import annotations

from collections.abc import Iterable

from mailidx.ingest import files, sources
from mailidx.ingest.indexer import match_file
from mailidx.ingest.sources import SourceError


def renamed(
    known: list[files.FileState], seen: Iterable[tuple[str, bytes]]
) -> list[tuple[files.FileState, str]]:
    """The known files seen under another name than the index has: (file, its name now).

    A file seen under several names at once (a compressor has written `x.gz` and not yet
    removed `x`) keeps the name the index has when that is one of them, so the name does not
    flip between looks."""
    names: dict[int, tuple[files.FileState, list[str]]] = {}
    for path, head in seen:
        state = match_file(known, head) if head else None
        if state is not None:
            names.setdefault(state.file_id, (state, []))[1].append(path)
    return [(state, found[-1]) for state, found in names.values() if state.path not in found]


def record(con, moved: list[tuple[files.FileState, str]]) -> None:
    """Store the names files have now (in the caller's transaction, if any)."""
    for state, path in moved:
        con.execute("UPDATE files SET path = ? WHERE file_id = ?", [path, state.file_id])
        state.path = path


def heads(paths: Iterable[str]) -> list[tuple[str, bytes]]:
    """(path, first bytes) of each readable file among ``paths`` (stdin left out)."""
    out = []
    for path in paths:
        if path == "-":
            continue
        try:
            source = sources.open_source(path)
        except SourceError:
            continue
        try:
            out.append((path, source.head))
        finally:
            source.close()
    return out
