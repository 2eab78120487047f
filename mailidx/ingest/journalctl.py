"""Reading the systemd journal with journalctl: which journal, its machine, entries from a cursor.

One journalctl process per read, its JSON entries read ahead on a thread
(:class:`Reader`). A cursor the journal no longer has (vacuumed, or another copy of the
journal) is said so, and reading goes on with the first entry after the last time read
(:func:`open_reader`).
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from mailidx.errors import SourceError
from mailidx.ingest.journal_entry import Entry, parse, same_entry, stamp

JOURNALCTL = "journalctl"
FIELDS = "_HOSTNAME,SYSLOG_IDENTIFIER,_PID,SYSLOG_PID,MESSAGE"  # plus __CURSOR, __REALTIME_…
QUEUE_ENTRIES = 50_000  # read ahead at most this many entries (journalctl waits meanwhile)
GROUPS_HINT = (
    "join the systemd-journal group (sudo usermod -aG systemd-journal $USER, "
    "then log in again) or run as root"
)


class JournalError(SourceError):
    """The journal cannot be read; the message is one line for the user."""


@dataclass(frozen=True)
class Journal:
    """Which journal: this machine's, or copied journal files / a copied directory."""

    files: tuple[str, ...] = ()
    directory: str | None = None

    def selection(self) -> list[str]:
        if self.directory:
            return [f"--directory={self.directory}"]
        return [f"--file={f}" for f in self.files]

    def describe(self) -> str:
        if self.directory:
            return f"--journal-dir {self.directory}"
        if self.files:
            return "--journal-file " + " ".join(self.files)
        return "the system journal"

    def check(self) -> None:
        """Refuse what journalctl could not open, in one line."""
        if shutil.which(JOURNALCTL) is None:
            raise JournalError("journalctl not found; install systemd to read the journal")
        for path in self.files:
            if not os.path.isfile(path):
                raise JournalError(f"{path}: no such journal file")
            if not os.access(path, os.R_OK):
                raise JournalError(f"{path}: permission denied; {GROUPS_HINT}")
        if self.directory and not os.path.isdir(self.directory):
            raise JournalError(f"{self.directory}: no such directory")


@dataclass
class Position:
    """Where reading goes on: after ``cursor``, or (cursor gone) after ``realtime``."""

    cursor: str | None = None
    realtime: int | None = None


# -- journalctl ------------------------------------------------------------------------------


def _journalctl(journal: Journal, *args: str) -> subprocess.Popen:
    command = [JOURNALCTL, *journal.selection(), "--output=json", f"--output-fields={FIELDS}"]
    command += ["--no-pager", "--quiet", *args]
    env = dict(os.environ, SYSTEMD_COLORS="0", LC_ALL="C")
    try:
        return subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, bufsize=1 << 16
        )
    except OSError as exc:
        raise JournalError(f"cannot run journalctl: {exc.strerror or exc}") from None


def _refusal(journal: Journal, stderr: str) -> str | None:
    """journalctl's complaint as one line for the user, naming the group to join."""
    text = " ".join(stderr.split())
    lowered = text.lower()
    if "permission denied" in lowered or "insufficient permissions" in lowered:
        return f"{journal.describe()}: permission denied; {GROUPS_HINT}"
    if "not seeing messages from other users and the system" in lowered:
        return f"cannot read {journal.describe()} (only this user's entries); {GROUPS_HINT}"
    return None


def machine_id(journal: Journal) -> str:
    """The machine whose journal it is: /etc/machine-id for this machine's, else the journal
    files' header (a copied /var/log/journal/<machine-id> keeps it)."""
    if not journal.files and not journal.directory:
        try:
            with open("/etc/machine-id") as f:
                return f.read().strip() or "local"
        except OSError:
            return "local"
    proc = subprocess.run(
        [JOURNALCTL, *journal.selection(), "--header", "--no-pager"],
        capture_output=True,
        env=dict(os.environ, LC_ALL="C"),
    )
    text = proc.stdout.decode("utf-8", "replace")
    refusal = _refusal(journal, proc.stderr.decode("utf-8", "replace"))
    if refusal:
        raise JournalError(refusal)
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "Machine ID" and value.strip():
            return value.strip()
    if proc.returncode != 0:
        first = proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["failed"]
        raise JournalError(f"{journal.describe()}: journalctl: {first[0]}")
    raise JournalError(f"{journal.describe()}: no journal files there")


class Reader:
    """One journalctl process, its entries read ahead on a thread into a bounded queue."""

    END = None

    def __init__(self, journal: Journal, args: list[str]) -> None:
        self.journal = journal
        self.proc = _journalctl(journal, *args)
        self.queue: queue.Queue = queue.Queue(QUEUE_ENTRIES)
        self.stderr: list[bytes] = []
        self.failure: BaseException | None = None
        self.threads = [
            threading.Thread(target=self._read, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for thread in self.threads:
            thread.start()

    def _read(self) -> None:
        try:
            for text in self.proc.stdout:
                if text.strip():
                    self.queue.put(parse(text))
        except (ValueError, KeyError) as exc:  # not journalctl's JSON
            self.failure = exc
        finally:
            self.queue.put(self.END)

    def _read_stderr(self) -> None:
        self.stderr.extend(self.proc.stderr)

    def take(self, max_bytes: int, wait: float, linger: float = 0.0) -> tuple[list[Entry], bool]:
        """Entries read so far, up to about ``max_bytes`` of lines: waiting up to ``wait``
        seconds for the first, then up to ``linger`` seconds more for the batch to fill.
        Returns (entries, whether journalctl has ended)."""
        out: list[Entry] = []
        size = 0
        try:
            item = self.queue.get(timeout=wait) if wait > 0 else self.queue.get_nowait()
            until = time.monotonic() + linger
            while True:
                if item is self.END:
                    self.queue.put(self.END)  # stays ended for the next take
                    return out, True
                out.append(item)
                size += len(item.line or b"") + 1
                if size >= max_bytes:
                    return out, False
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    left = until - time.monotonic()
                    if left <= 0:
                        raise
                    item = self.queue.get(timeout=left)
        except queue.Empty:
            return out, False

    def finish(self, strict: bool = True) -> None:
        """Wait for journalctl to end; a refusal (and, ``strict``, any failure) becomes a
        JournalError."""
        self.proc.wait()
        for thread in self.threads:
            thread.join(timeout=5)
        self.check(strict)

    def check(self, strict: bool = True) -> None:
        stderr = b"".join(self.stderr).decode("utf-8", "replace")
        refusal = _refusal(self.journal, stderr)
        if refusal:
            raise JournalError(refusal)
        if not strict:
            return
        if self.failure is not None:
            raise JournalError(f"{self.journal.describe()}: unreadable journalctl output")
        if self.proc.returncode not in (None, 0):
            first = stderr.strip().splitlines() or [f"exit status {self.proc.returncode}"]
            raise JournalError(f"{self.journal.describe()}: journalctl: {first[0]}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        reading = self.threads[0]
        while reading.is_alive():  # let the thread put its last entries and end
            with contextlib.suppress(queue.Empty):
                self.queue.get(timeout=0.1)
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()


def _first(journal: Journal, *args: str) -> Entry | None:
    reader = Reader(journal, list(args))
    try:
        entries, ended = reader.take(1, wait=60.0)
        if not entries and ended:
            reader.finish()
        return entries[0] if entries else None
    finally:
        reader.close()


def cursor_exists(journal: Journal, cursor: str) -> bool:
    """journalctl seeks to the nearest entry when a cursor is gone: check it is that one."""
    first = _first(journal, f"--cursor={cursor}")
    return first is not None and same_entry(first.cursor, cursor)


def has_postfix(journal: Journal) -> bool:
    """Whether the journal holds any Postfix entry (reads until the first one)."""
    reader = Reader(journal, [])
    try:
        while True:
            entries, ended = reader.take(1 << 16, wait=60.0)
            if any(e.line is not None for e in entries):
                return True
            if ended:
                reader.finish()
                return False
    finally:
        reader.close()


def open_reader(
    journal: Journal,
    position: Position,
    since: str | None,
    follow: bool,
    notify: Callable[[str], None],
) -> tuple[Reader, int | None]:
    """journalctl from where the index left off: (reader, skip entries up to this time)."""
    tail = ["--follow", "--no-tail"] if follow else []
    if position.cursor and cursor_exists(journal, position.cursor):
        return Reader(journal, [f"--after-cursor={position.cursor}", *tail]), None
    if position.cursor or position.realtime is not None:
        after = position.realtime or 0
        notify(
            f"the journal no longer has the last entry indexed (vacuumed or rotated away); "
            f"going on with the first entry after {stamp(after)[:26].replace('T', ' ')} UTC"
        )
        since_arg = f"--since=@{after // 1_000_000}"
        return Reader(journal, [since_arg, *tail]), after
    first = [f"--since={since}"] if since else []
    return Reader(journal, [*first, *tail]), None
