"""The errors a user can meet, each with its exit status; the CLI turns them into one line.

Everything here is a :class:`MailidxError`: a one-line message saying what went wrong and what
to do next, and the exit status it ends the command with (1 for a user error, 2 for bad usage,
130 for an interrupt). The library raises them and never prints; ``mailidx.ui.cli`` has the one
handler that writes ``mailidx: MESSAGE`` on stderr and exits.

Also here: :func:`os_problem`, which names the operating system's complaints (disk full,
permission denied, read-only file system, …) the same way wherever they come from, and the
one-line messages for an index that cannot be opened (:func:`open_failure`), is damaged
(:func:`damaged`) or cannot be written (:func:`write_failure`), and what to do about a log
file this user cannot read (:func:`permission_hint`).
"""

from __future__ import annotations

import errno
import grp  # at import: a process that lost its rights may not load it later
import os
import re


class MailidxError(Exception):
    """A failure the user can act on; ``str()`` is one line."""

    exit_code = 1


class UsageError(MailidxError):
    """A bad option value or argument."""

    exit_code = 2


class IndexUnusable(MailidxError):
    """An index that cannot be opened or used as asked."""


class IndexDamaged(IndexUnusable):
    """The index file is cut short or its blocks cannot be read."""


class IndexBusy(IndexUnusable):
    """Another process holds the index; ``holder`` says which ("pid 42 (java)") when DuckDB's
    lock error names it."""

    def __init__(self, path: str, exc: Exception) -> None:
        found = re.search(r"PID (\d+)", str(exc))
        pid = found.group(1) if found else None
        program = program_of(pid) if pid else None
        self.holder = None if pid is None else f"pid {pid} ({program})" if program else f"pid {pid}"
        super().__init__(
            f"index is busy{f' (pid {pid})' if pid else ''}: {program or 'another process'} "
            f"holds {path}; wait for it to finish or stop it"
        )


def program_of(pid: str) -> str | None:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip() or None
    except OSError:
        return None


class DiskFull(MailidxError):
    """No space left where the index is written."""


class SourceError(MailidxError):
    """A log source that cannot be read (the run's other sources still are)."""


class QueryError(MailidxError):
    """A query the user cannot run as asked."""


class BadTime(UsageError, QueryError):
    """A --since/--until (or --tz) value that is not a time: bad usage, exit 2."""


class Interrupted(MailidxError):
    """Ctrl-C (SIGINT) or SIGTERM stopped the command."""

    exit_code = 130


# What the operating system says, in the words a user searches for, by errno and by the text
# DuckDB passes on from strerror().
PROBLEMS = (
    (errno.ENOSPC, "No space left on device", "disk full (no space left on device)"),
    (errno.EDQUOT, "Disk quota exceeded", "disk quota exceeded"),
    (errno.EROFS, "Read-only file system", "read-only file system"),
    (errno.EACCES, "Permission denied", "permission denied"),
    (errno.EPERM, "Operation not permitted", "permission denied"),
    (errno.ENOTDIR, "Not a directory", "a part of the path is a file, not a directory"),
)


def os_problem(exc: BaseException) -> str | None:
    """The named problem behind an OSError or a DuckDB IO error, or None when it is none of
    those above."""
    number = getattr(exc, "errno", None)
    text = str(exc)
    for code, words, name in PROBLEMS:
        if number == code or words.lower() in text.lower():
            return name
    return None


def is_disk_full(exc: BaseException) -> bool:
    return os_problem(exc) in ("disk full (no space left on device)", "disk quota exceeded")


def one_line(text: str) -> str:
    """The first line of a (DuckDB) message."""
    return text.strip().splitlines()[0] if text.strip() else text


# What DuckDB says when the file ends before a block it needs
DAMAGE_WORDS = ("could not read enough bytes", "corrupt", "checksum", "file is too small")


def open_failure(path: str, exc: Exception) -> IndexUnusable:
    """The one-line error for an index file DuckDB could not open."""
    text = one_line(str(exc))
    problem = os_problem(exc)
    if problem == "permission denied":
        return IndexUnusable(
            f"{path}: permission denied; run as a user who may read (and, for "
            "build, write) it and its directory"
        )
    if problem == "read-only file system":
        return IndexUnusable(
            f"{path}: read-only file system; build needs a writable disk (pass --db on another one)"
        )
    if problem is not None:
        return write_failure(path, exc)
    if any(w in text.lower() for w in DAMAGE_WORDS):
        return damaged(path, exc)
    import duckdb

    if isinstance(exc, duckdb.IOException):
        return IndexUnusable(f"{path}: not a DuckDB index ({text})")
    return IndexUnusable(f"{path}: cannot open the index: {text}")


def damaged(path: str, exc: Exception) -> IndexDamaged:
    return IndexDamaged(
        f"{path}: the index file is cut short or damaged ({one_line(str(exc))}); restore it "
        "from a copy, or build a new one (remove it or pass another --db)"
    )


def write_failure(path: str, exc: BaseException, committed: int | None = None) -> MailidxError:
    """The one-line error for a failure while writing the index (disk full, permission, a
    read-only file system, damage), with the lines this run committed before it."""
    done = "" if committed is None else f"{committed:,} lines committed and kept; "
    problem = os_problem(exc)
    if is_disk_full(exc):
        return DiskFull(f"{path}: {problem}; {done}free some space and run build again")
    if problem == "read-only file system":
        return IndexUnusable(f"{path}: read-only file system; {done}pass --db on a writable disk")
    if problem == "permission denied":
        return IndexUnusable(
            f"{path}: permission denied; {done}run as a user who may write it and its directory"
        )
    if any(w in str(exc).lower() for w in DAMAGE_WORDS):
        return damaged(path, exc)
    reason = problem or one_line(str(exc))
    return IndexUnusable(f"{path}: cannot write the index: {reason}; {done}run build again")


def permission_hint(path: str) -> str:
    """What to do about a log file this user cannot read: join its group (Debian's mail.log
    is root:adm 0640, so `adm`), or run as root."""
    try:
        st = os.stat(path)
        group = grp.getgrgid(st.st_gid).gr_name if st.st_mode & 0o040 else None
    except (OSError, KeyError):
        group = None
    if not group or group == "root":
        return "run as a user who can read it (root)"
    return (
        f"join the {group} group (sudo usermod -aG {group} $USER, then log in again) or run as root"
    )
