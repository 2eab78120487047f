"""The systemd journal as a source: Postfix's entries as syslog lines, read on from a cursor.

``journalctl --output=json`` gives each entry's own fields; the entries of Postfix
(``SYSLOG_IDENTIFIER`` ``postfix`` or ``postfix…``: ``postfix/smtpd``, an instance's
``postfix-out/smtp``) become the line a syslog daemon would have written, with the exact time
and its year::

    2026-05-12T21:50:55.123456+00:00 _HOSTNAME SYSLOG_IDENTIFIER[_PID]: MESSAGE

(a MESSAGE that is not UTF-8 keeps its bytes; a newline in it is written ``#012``, as rsyslog
does). The lines go through the indexer like a file's: one stream per machine, a ``files`` row
named ``journal:<machine-id>`` whose offsets count the bytes of these lines. Where the next
read starts is the ``journals`` row: the cursor of the last entry read (Postfix's or another
program's) and its time, written by the same transaction as the batch of lines, so a build
killed at any moment neither loses nor doubles an entry.

A cursor the journal no longer has (vacuumed, or another copy of the journal) is said so, and
reading goes on with the first entry after the last time read.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb

from mailidx import indexer, store
from mailidx.errors import SourceError

JOURNALCTL = "journalctl"
FIELDS = "_HOSTNAME,SYSLOG_IDENTIFIER,_PID,SYSLOG_PID,MESSAGE"  # plus __CURSOR, __REALTIME_…
STREAM_PREFIX = "journal:"
MAX_RESTART_WAIT = 30.0  # watch: journalctl ending again and again is started at most this often
LINGER = 0.05  # watch: a batch waits this long for more entries once one came
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
class Entry:
    cursor: str
    realtime: int  # microseconds since the epoch
    line: bytes | None  # the syslog line (no newline) of a Postfix entry; None for the others


@dataclass
class Position:
    """Where reading goes on: after ``cursor``, or (cursor gone) after ``realtime``."""

    cursor: str | None = None
    realtime: int | None = None


@dataclass
class Stream:
    """What the index knows of one machine's journal."""

    file: store.FileState
    machine_id: str
    position: Position
    known: bool  # a journals row exists


@dataclass
class JournalReport:
    entries: int = 0  # entries read, every program's
    lines: int = 0
    events: int = 0
    unparsed: int = 0
    notices: list[str] = field(default_factory=list)


# -- one entry -------------------------------------------------------------------------------


def is_postfix(identifier: str) -> bool:
    return identifier.startswith("postfix")


def _value(raw) -> bytes | str | None:
    """A JSON field: a string, a byte array (not UTF-8), or a list of values (repeated field)."""
    if isinstance(raw, list):
        if raw and all(isinstance(b, int) for b in raw):
            return bytes(raw)
        return _value(raw[0]) if raw else None
    return raw


def _text(raw, default: str = "") -> str:
    value = _value(raw)
    if value is None:
        return default
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return value


def stamp(realtime: int) -> str:
    """RFC 3339 in UTC with microseconds, from microseconds since the epoch."""
    seconds, micro = divmod(realtime, 1_000_000)
    when = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=seconds)
    return f"{when:%Y-%m-%dT%H:%M:%S}.{micro:06d}+00:00"


def render(entry: dict) -> bytes | None:
    """The syslog line of a Postfix entry; None for another program's."""
    identifier = _text(entry.get("SYSLOG_IDENTIFIER"))
    if not is_postfix(identifier):
        return None
    message = _value(entry.get("MESSAGE"))
    body = message.encode() if isinstance(message, str) else message or b""
    host = _text(entry.get("_HOSTNAME"), "localhost") or "localhost"
    pid = _text(entry.get("_PID")) or _text(entry.get("SYSLOG_PID"))
    head = f"{stamp(int(entry['__REALTIME_TIMESTAMP']))} {host} {identifier}"
    head += f"[{pid}]: " if pid else ": "
    return head.encode() + body.replace(b"\n", b"#012").rstrip(b"\r")


def parse(text: bytes) -> Entry:
    entry = json.loads(text)
    return Entry(entry["__CURSOR"], int(entry["__REALTIME_TIMESTAMP"]), render(entry))


def same_entry(a: str, b: str) -> bool:
    """Two cursors name the same entry: same sequence-number ID and number."""

    def key(cursor: str) -> tuple[str | None, str | None]:
        parts = dict(p.split("=", 1) for p in cursor.split(";") if "=" in p)
        return parts.get("s"), parts.get("i")

    return key(a) == key(b) and key(a) != (None, None)


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


# -- the index -------------------------------------------------------------------------------


def stream_path(machine: str) -> str:
    return STREAM_PREFIX + machine


def load_stream(con, machine: str) -> Stream:
    path = stream_path(machine)
    row = con.execute(
        "SELECT f.file_id, f.bytes_done, f.lines_done, j.cursor, "
        "epoch_us(j.last_realtime) FROM files f JOIN journals j USING (file_id) "
        "WHERE j.machine_id = ?",
        [machine],
    ).fetchall()
    if row:
        file_id, done, lines, cursor, realtime = row[0]
        state = store.FileState(file_id, path, path.encode(), done, lines, None, None)
        return Stream(state, machine, Position(cursor, realtime), known=True)
    state = store.FileState(
        store.next_file_id(con), path, path.encode(), 0, 0, None, None, is_new=True
    )
    return Stream(state, machine, Position(), known=False)


def save_position(con, stream: Stream, source: str) -> None:
    """The journals row: run inside the batch's transaction."""
    params = {
        "file_id": stream.file.file_id,
        "machine": stream.machine_id,
        "cursor": stream.position.cursor,
        "realtime": stream.position.realtime,
        "source": source,
    }
    con.execute(
        "INSERT OR REPLACE INTO journals VALUES ($file_id, $machine, $cursor, "
        "TIMESTAMPTZ '1970-01-01 00:00:00+00' + to_microseconds($realtime), $source)",
        params,
    )
    stream.known = True


def commit(
    con,
    stream: Stream,
    entries: list[Entry],
    source: str,
    report: JournalReport,
    refresh: bool = False,
) -> None:
    """One batch: the Postfix lines of ``entries`` and the position after the last of them,
    in one transaction; with ``refresh`` (watch --journal) the stored per-message views are
    brought up to date in it too."""
    if not entries:
        return
    report.entries += len(entries)
    stream.position.cursor = entries[-1].cursor
    latest = max(e.realtime for e in entries)
    stream.position.realtime = max(latest, stream.position.realtime or latest)
    lines = [e.line for e in entries if e.line is not None]
    if not lines:
        if stream.known:  # only other programs' entries: move the cursor past them
            with store.transaction(con):
                save_position(con, stream, source)
        return
    data = b"".join(line + b"\n" for line in lines)
    state = stream.file
    if state.last_year is None:
        state.last_year = int(stamp(entries[0].realtime)[:4])  # every line has its year
    start = state.bytes_done
    batch = indexer.to_batch(data, start, state.lines_done + 1, state)
    n_events, n_unparsed = indexer.append_lines(
        con,
        state,
        batch,
        start + len(data),
        also=lambda c: save_position(c, stream, source),
        refresh=refresh,
    )
    report.lines += batch.num_rows
    report.events += n_events
    report.unparsed += n_unparsed


def _skip_before(entries: list[Entry], after: int | None) -> list[Entry]:
    """Entries up to ``after`` were indexed before: their lines are left out, their cursor
    still moves the position on."""
    if after is not None:
        for entry in entries:
            if entry.realtime <= after:
                entry.line = None
    return entries


def build(
    con,
    journal: Journal,
    batch_bytes: int,
    since: str | None = None,
    notify: Callable[[str], None] = lambda message: None,
    progress: Callable[[int], None] | None = None,
) -> JournalReport:
    """Index the journal's Postfix entries after the index's cursor, batch by batch."""
    journal.check()
    report = JournalReport()
    stream = load_stream(con, machine_id(journal))
    reader, after = open_reader(journal, stream.position, since, False, notify)
    source = journal.describe()
    try:
        while True:
            entries, ended = reader.take(batch_bytes, wait=60.0, linger=60.0)
            entries = _skip_before(entries, after)
            commit(con, stream, entries, source, report)
            if progress and entries:
                progress(sum(len(e.line or b"") for e in entries))
            if ended:
                reader.finish()
                break
    finally:
        reader.close()
    indexer.refresh_caches(con)  # the stored per-message views, once per build
    return report


# -- following -------------------------------------------------------------------------------


class Follower:
    """``watch --journal``: follow the journal (``journalctl --follow``) and index its Postfix
    entries in small batches, opening the index only for each batch (readers get in between,
    as with files). journalctl ending (journald restarted, the files gone) starts it again
    from the cursor in the index."""

    RESTART_AFTER = 1.0

    def __init__(
        self,
        db: str,
        journal: Journal,
        options,  # watch.WatchOptions
        notify: Callable[[str], None],
        show: Callable[[object], None] | None = None,
        since: str | None = None,
    ) -> None:
        from mailidx.watch import batch as watch

        self.watch = watch
        self.db = db
        self.journal = journal
        self.options = options
        self.notify = notify
        self.show = show or (lambda status: None)
        self.since = since
        self.status = watch.Status(files=1)
        self.stopping = threading.Event()
        self.report = JournalReport()
        self.pending: list[Entry] = []
        self.stream: Stream | None = None
        self.blocked_since: float | None = None

    def stop(self) -> None:
        self.stopping.set()

    def run(self):
        self.watch.check_zone(self.options.tz)
        self.journal.check()
        machine = machine_id(self.journal)
        con = self._open(migrate=True)
        try:
            self.stream = load_stream(con, machine)
        finally:
            con.close()
        reader, after = open_reader(
            self.journal, self.stream.position, self.since, True, self.notify
        )
        try:
            restarts = 0  # journalctl ended this many times in a row without an entry
            while not self.stopping.is_set():
                wait = 0.0 if self.pending else self.options.rescan
                room = self.options.batch_bytes - self._pending_bytes()
                got, ended = reader.take(max(room, 1), wait=wait, linger=LINGER)
                self.pending += _skip_before(got, after)
                restarts = 0 if got else restarts
                if self.pending and not self._flush():
                    self.stopping.wait(self.watch.MAX_BACKOFF)
                    continue
                if ended:
                    reader.finish(strict=False)  # a refusal stops here, with its one line
                    reader.close()
                    if restarts == 0:
                        self.notify("journalctl ended; reading on from the index's cursor")
                    self.stopping.wait(min(self.RESTART_AFTER * 2**restarts, MAX_RESTART_WAIT))
                    restarts += 1
                    reader, after = open_reader(
                        self.journal, self.stream.position, None, True, self.notify
                    )
                    continue
                self._show()
                if self.pending or not got:
                    continue
                self.stopping.wait(self.options.gap)
            got, _ = reader.take(self.options.batch_bytes, wait=0)
            self.pending += _skip_before(got, after)
            if not self._flush(checkpoint=True):
                self.notify(
                    f"index held by {self.status.holder}; entries read since the last batch "
                    "are indexed on the next start"
                )
        finally:
            reader.close()
        return self.status

    def _pending_bytes(self) -> int:
        return sum(len(e.line or b"") + 1 for e in self.pending)

    def _open(self, migrate: bool = False):
        try:
            if migrate:
                con = store.open_for_writing(self.db, tz=self.options.tz)
            else:
                con = store.connect(self.db, read_only=False, wait=0)
                con.execute("SET TimeZone = ?", [self.options.tz])
        except store.IndexBusy:
            raise
        except store.IndexError_ as exc:
            raise self.watch.WatchError(str(exc)) from None
        con.execute("PRAGMA disable_checkpoint_on_shutdown")
        return con

    def _flush(self, checkpoint: bool = False) -> bool:
        """Commit the pending entries; False while another process holds the index."""
        now = time.monotonic()
        try:
            con = self._open()
        except store.IndexBusy as busy:
            self.status.holder = busy.holder or "another process"
            if self.blocked_since is None:
                self.blocked_since = now
            self.status.blocked_seconds = now - self.blocked_since
            self._show()
            return False
        self.blocked_since, self.status.holder, self.status.blocked_seconds = None, None, 0.0
        try:
            before = self.report.lines, self.report.events
            commit(con, self.stream, self.pending, self.journal.describe(), self.report, True)
            indexer.refresh_caches(con)  # left pending by a build killed before its end
            if checkpoint or self.watch.wal_bytes(self.db) > self.options.checkpoint_bytes:
                con.execute("CHECKPOINT")
        except duckdb.Error as exc:
            raise self.watch.WatchError(f"{self.db}: {store.first_line(str(exc))}") from None
        finally:
            con.close()
        self.pending = []
        self.status.lines += self.report.lines - before[0]
        self.status.events += self.report.events - before[1]
        return True

    def _show(self) -> None:
        self.status.lag_bytes = self._pending_bytes()
        oldest = min((e.realtime for e in self.pending), default=None)
        self.status.lag_seconds = max(0.0, time.time() - oldest / 1e6) if oldest else 0.0
        self.show(self.status)
