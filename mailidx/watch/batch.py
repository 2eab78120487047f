"""One batch into the index, as the live followers run them (log files in ``watcher.py``, the
journal in ``journal.py``): the index is open for writing only while a batch runs, so a reader
that holds it makes the follower wait (:class:`Busy`) and retry at most :data:`MAX_BACKOFF`
apart; the write-ahead log is folded into the file once it has grown (:func:`wal_bytes`).
Also the follower's :class:`Status` for a status line, and :class:`WatchError`, the one-line
reason watching cannot go on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from mailidx import clock, store
from mailidx.errors import IndexBusy, MailidxError, UsageError

# Waiting for a reader that keeps the index, retry at most this far apart: a failed open costs
# next to nothing, and a longer wait would add to the lag once the reader lets go (and could
# fall again and again on the short opens of other readers).
MAX_BACKOFF = 0.25


class WatchError(MailidxError):
    """Watching cannot go on; the message is one line for the user."""


class Busy(Exception):
    """Another process holds the index; ``holder`` says which ("pid 42 (java)")."""

    def __init__(self, holder: str | None) -> None:
        super().__init__(holder)
        self.holder = holder


@dataclass
class Status:
    """What the loop is doing, for a status line."""

    files: int = 0
    lines: int = 0
    events: int = 0
    rate: float = 0.0  # lines/s over the last few seconds
    lag_bytes: int = 0
    lag_seconds: float = 0.0
    holder: str | None = None  # who keeps the index, while the loop waits for it
    blocked_seconds: float = 0.0


def open_index(db: str, tz: str, migrate: bool, small: bool = False):
    """The index for writing, or Busy when a reader (or another writer) has it; ``migrate``:
    the first batch checks the schema (and migrates it), the others only connect."""
    try:
        if migrate:
            con = store.open_for_writing(db, tz=tz)
        else:
            con = store.connect(db, read_only=False, wait=0)
            con.execute("SET TimeZone = ?", [tz])
    except IndexBusy as exc:
        raise Busy(exc.holder) from None
    except store.IndexError_ as exc:
        raise WatchError(str(exc)) from None
    # Folding the write-ahead log into the file at every close would cost more than the
    # batch on a big index; it is done when the log has grown (see wal_bytes) and at the end.
    con.execute("PRAGMA disable_checkpoint_on_shutdown")
    if small:  # a few lines: one thread parses them as fast, and leaves a core to readers
        con.execute("SET threads = 1")
    return con


def wal_bytes(db: str) -> int:
    try:
        return os.path.getsize(db + ".wal")
    except OSError:
        return 0


def check_zone(tz: str) -> None:
    """A zone DuckDB cannot use stops watch before it starts (a WatchError, as watch's other
    failures)."""
    try:
        clock.check_zone(tz)
    except UsageError as exc:
        raise WatchError(str(exc)) from None
