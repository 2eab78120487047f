"""Live indexing: follow log files as they grow and rotate, index new lines in small batches.

Watchdog (inotify, or polling) only wakes the loop up. Each cycle the loop expands the paths
again (a file or directory that appears later is picked up), looks at every followed file
through the descriptor it keeps open, and indexes what is new with the indexer's own rules: a
file is known by its first bytes, and ``files.bytes_done`` is where its next line starts. A
followed file keeps its descriptor after it is renamed or deleted and is read to its end before
it is let go, so lines a writer adds during a rotation are not lost.

The index is open for writing only while a batch runs (open, append, commit, close), so readers
(``mailidx query``, DBeaver) get in between batches. A reader that keeps the file makes the
loop wait and retry: it lags behind, says who holds the file, and loses nothing.
"""

from __future__ import annotations

import contextlib
import fnmatch
import glob
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

import duckdb

from mailidx import store
from mailidx.ingest import indexer, paths, sources
from mailidx.ingest.sources import Source, SourceError

MAGIC = re.compile(r"[*?[]")
SMALL_BATCH = 1 << 20
SETTLE = 1.0  # a compressed file written to this recently is left for a later look
# Waiting for a reader that keeps the index, retry at most this far apart: a failed open costs
# next to nothing, and a longer wait would add to the lag once the reader lets go (and could
# fall again and again on the short opens of other readers).
MAX_BACKOFF = 0.25


class WatchError(Exception):
    """Watching cannot go on; the message is one line for the user."""


class Busy(Exception):
    """Another process holds the index; ``holder`` says which ("pid 42 (java)")."""

    def __init__(self, holder: str | None) -> None:
        super().__init__(holder)
        self.holder = holder


@dataclass
class WatchOptions:
    tz: str
    year: int | None = None
    batch_bytes: int = 2 << 20  # at most this much log per batch …
    hold: float = 1.0  # … and at most this long reading it
    interval: float = 0.75  # under a steady load, one batch per interval
    gap: float = 0.15  # at least this pause after a batch: readers waiting get in
    rescan: float = 1.0  # expand the paths again this often even without an event
    drain: float = 5.0  # a renamed or deleted file is let go after this long without growing
    checkpoint_bytes: int = 4 << 20  # fold the write-ahead log into the file past this size
    poll: bool = False  # watchdog's PollingObserver instead of inotify


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


def is_pattern(path: str) -> bool:
    return bool(MAGIC.search(path))


def check_paths(patterns: list[str]) -> None:
    """Refuse what cannot be followed: stdin, a directory."""
    for path in patterns:
        if path == "-":
            raise WatchError("watch follows files, not stdin; pipe into `mailidx build -` instead")
        if not is_pattern(path) and os.path.isdir(path):
            raise WatchError(
                f"{path}: is a directory; give the log files in it (e.g. '{path}/maillog*')"
            )


def expand(patterns: list[str]) -> list[str]:
    """The files the paths name now: globs expanded, literal paths that exist."""
    found: dict[str, None] = {}
    for pattern in patterns:
        names = sorted(glob.glob(pattern)) if is_pattern(pattern) else [pattern]
        for name in names:
            if os.path.isfile(name):
                found[name] = None
    return list(found)


def watched_dirs(patterns: list[str]) -> set[str]:
    """The existing directories the files are (or will be) in."""
    dirs: set[str] = set()
    for pattern in patterns:
        parent = os.path.dirname(os.path.abspath(pattern))
        candidates = glob.glob(parent) if is_pattern(parent) else [parent]
        dirs.update(d for d in candidates if os.path.isdir(d))
    return dirs


class Cursor:
    """A followed file's bytes (decompressed) as the indexer reads them.

    Reading stops at a byte budget, a deadline or a stop request; the indexer then commits the
    whole lines it has and the rest waits for the next batch. In a compressed file, seeking back
    to the start of a line a cut left unfinished is served from the last block read.
    """

    def __init__(self, stream: BinaryIO, compressed: bool) -> None:
        self.stream = stream
        self.compressed = compressed
        self.end = stream.tell()  # where the underlying stream is
        self.pos = self.end  # where the reader is (≤ end: the rest is in self.last)
        self.last = b""  # the last block read from the stream, ending at self.end
        self.budget = 0
        self.deadline = 0.0
        self.stopped: Callable[[], bool] = lambda: False
        self.cut = False  # reading stopped early: more may be there
        self.eof = False  # reading met the end of the file

    def allow(self, budget: int, deadline: float, stopped: Callable[[], bool]) -> None:
        self.budget, self.deadline, self.stopped = budget, deadline, stopped
        self.cut = self.eof = False

    def read(self, n: int = -1) -> bytes:
        if self.budget <= 0 or time.monotonic() > self.deadline or self.stopped():
            self.cut = True
            return b""
        n = self.budget if n < 0 else min(n, self.budget)
        if self.pos < self.end:
            start = len(self.last) - (self.end - self.pos)
            data = self.last[start : start + n]
        else:
            data = self.stream.read(n)
            self.last = data
            self.end += len(data)
        self.pos += len(data)
        self.budget -= len(data)
        if not data:
            self.eof = True
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        if offset == self.pos:
            return offset
        if not self.compressed or offset < self.end - len(self.last):
            self.stream.seek(offset)  # a real seek, or a compressed file read again from its start
            self.end = self.pos = offset
            self.last = b""
        elif offset <= self.end:
            self.pos = offset
        else:
            self.pos = self.end
            while self.pos < offset:
                block = self.stream.read(min(offset - self.pos, sources.READ_BLOCK))
                if not block:
                    break
                self.last = block
                self.end += len(block)
                self.pos = self.end
        return self.pos

    def at_end(self) -> bool:
        """Nothing after the current position (reads one byte ahead, kept for the next read)."""
        if self.pos < self.end:
            return False
        block = self.stream.read(1)
        if block:
            self.last, self.end = block, self.end + 1
        return not block

    def tell(self) -> int:
        return self.pos

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        self.stream.close()


@dataclass
class Followed:
    """A log file the loop follows, by its inode: its name may change, its descriptor stays."""

    key: tuple[int, int]
    path: str
    source: Source  # as opened: head, compression, the open stream
    cursor: Cursor
    signature: tuple  # inode, size and times when opened (a compressed file does not change)
    size: int = 0  # plain files: bytes in the file at the last look
    mtime: float | None = None
    settled: tuple[bytes, int] | None = None  # (head, size) a batch read to the end: no work
    gone_at: float | None = None  # renamed out of the paths or deleted: drained, then closed
    done: bool = False  # a compressed file read to its end
    marks: deque = field(default_factory=deque)  # (when seen, size): for the lag in seconds

    @property
    def compressed(self) -> bool:
        return self.source.compression is not None

    @property
    def head(self) -> bytes:
        return self.source.head

    def read_head(self) -> None:
        """A plain file's first bytes as they are now (a copytruncated file starts anew)."""
        self.source.head = os.pread(self.source.stream.fileno(), sources.HEAD_BYTES, 0)

    def close(self) -> None:
        self.source.close()


class Watcher:
    """Follow ``patterns`` and keep the index at ``db`` current until :meth:`stop`."""

    def __init__(
        self,
        db: str,
        patterns: list[str],
        options: WatchOptions,
        notify: Callable[[str], None],
        show: Callable[[Status], None] | None = None,
    ) -> None:
        self.db = db
        self.patterns = patterns
        self.absolute = [os.path.abspath(p) for p in patterns]
        self.options = options
        self.notify = notify
        self.show = show or (lambda status: None)
        self.index_options = indexer.Options(
            tz=options.tz, year=options.year, chunk_bytes=options.batch_bytes
        )
        self.status = Status()
        self.known: list[store.FileState] = []
        self.followed: dict[tuple[int, int], Followed] = {}
        self.finished: set[tuple] = set()  # signatures of compressed files read to the end
        self.failed: dict[str, tuple] = {}  # path → its signature when it could not be read
        self.names: list[tuple[str, bytes]] = []  # (path, head) of files renamed since a batch
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.blocked_since: float | None = None
        self.told_blocked = 0.0
        self.holders: list[str] = []  # who held the index while watch waited, in turn
        self.rates: deque = deque()
        self.migrated = False  # the schema is checked (and migrated) by the first batch only
        self.observer = None
        self.watches: dict[str, tuple[object, int]] = {}

    # -- control -------------------------------------------------------------------------------

    def stop(self) -> None:
        """Finish the batch in progress, index what is pending once more, return from run."""
        self.stopping.set()
        self.wake.set()

    def run(self) -> Status:
        check_zone(self.options.tz)
        if not expand(self.patterns):
            self.notify(f"nothing to follow yet at {', '.join(self.patterns)}; waiting for it")
        self.observer = self._observer()
        try:
            self._load_known()
            self._loop()
            self._last_batch()
        finally:
            self.observer.stop()
            self.observer.join(timeout=5)
            for followed in self.followed.values():
                followed.close()
        return self.status

    def _loop(self) -> None:
        next_at, backoff = 0.0, 0.05
        while not self.stopping.is_set():
            now = time.monotonic()
            self._sync_watches()
            work = self._scan(now)
            if (work or self.names) and now >= next_at:
                try:
                    more = self._batch(work)
                except Busy as busy:
                    self._blocked(busy.holder, now)
                    self.stopping.wait(backoff)
                    if now - (self.blocked_since or now) > 2.0:  # a reader left open: back off
                        backoff = min(backoff * 2, MAX_BACKOFF)
                    continue
                self._released(now)
                backoff = 0.05
                # Readers waiting for the index (retrying every 50 ms) get it before the next batch.
                next_at = time.monotonic() + self.options.gap
                if not more:
                    next_at = max(next_at, now + self.options.interval)
                self._show()
                continue
            self._show()
            timeout = max(0.0, next_at - now) if work else self.options.rescan
            self.wake.wait(min(timeout, self.options.rescan))
            self.wake.clear()

    def _last_batch(self) -> None:
        """On the way out, what is pending now in one more batch (skipped while a reader keeps
        the index: the lines stay in the log for the next start)."""
        self.stopping.clear()  # let the cursors read once more, within the usual bounds
        try:
            work = self._scan(time.monotonic())
            if work or wal_bytes(self.db):
                self._batch(work, checkpoint=True)
        except Busy as busy:
            self.notify(
                f"index held by {busy.holder or 'another process'}; lines written since the "
                "last batch are indexed on the next start"
            )
        finally:
            self.stopping.set()

    # -- the files -----------------------------------------------------------------------------

    def _scan(self, now: float) -> list[Followed]:
        """Open new files; notice renames, deletions and growth. The files with work, the
        renamed-away ones and then the oldest first."""
        seen = {f.key for f in map(self._follow, expand(self.patterns)) if f is not None}
        present = [(f.path, f.head) for f in self.followed.values() if f.key in seen and f.head]
        if paths.renamed(self.known, present):  # stored with the next batch, even with no lines
            self.names = present
        work, lag, oldest = [], 0, now
        for key, followed in list(self.followed.items()):
            pending = self._look(followed, key in seen, now)
            if followed.done or (
                not pending and followed.gone_at and now - followed.gone_at > self.options.drain
            ):
                self._let_go(followed)
            elif pending:
                work.append(followed)
                lag += max(pending, 0)
                if followed.marks:
                    oldest = min(oldest, followed.marks[0][0])
        self.status.files = len(self.followed)
        self.status.lag_bytes = lag
        self.status.lag_seconds = now - oldest
        work.sort(key=lambda f: (f.gone_at is None, f.mtime or 0))
        return work

    def _follow(self, path: str) -> Followed | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        key = (st.st_dev, st.st_ino)
        if key in self.followed:
            followed = self.followed[key]
            followed.path = path  # renamed: the index takes the new name with the next batch
            followed.gone_at = None
            return followed
        signature = _signature(st)
        if signature in self.finished or self.failed.get(path) == signature:
            return None
        if st.st_size == 0 or (time.time() - st.st_mtime < SETTLE and is_compressed(path)):
            return None  # nothing to know it by yet, or a compressor still writing it
        try:
            source = sources.open_source(path)
        except SourceError as exc:
            self.failed[path] = signature
            self.notify(str(exc))
            return None
        self.failed.pop(path, None)
        compressed = source.compression is not None
        if not compressed:
            st = os.fstat(source.stream.fileno())  # the file actually opened
            key = (st.st_dev, st.st_ino)
            if key in self.followed:  # replaced between stat and open
                source.close()
                return self.followed[key]
        followed = Followed(key, path, source, Cursor(source.stream, compressed), signature)
        followed.mtime = source.mtime
        self.followed[key] = followed
        return followed

    def _look(self, followed: Followed, present: bool, now: float) -> int:
        """Bytes waiting to be indexed in a followed file (-1: some, how many is not known)."""
        if not present:
            followed.gone_at = followed.gone_at or now
        if followed.compressed:
            return self._look_compressed(followed)
        try:
            st = os.fstat(followed.source.stream.fileno())
            followed.read_head()
        except OSError:
            return 0
        if st.st_nlink == 0:
            followed.gone_at = followed.gone_at or now
        grew = st.st_size != followed.size
        followed.size, followed.mtime = st.st_size, st.st_mtime
        head = followed.head
        if (b"\n" not in head and len(head) < sources.HEAD_BYTES) or followed.settled == (
            head,
            st.st_size,
        ):
            followed.marks.clear()  # empty, a first line not whole yet, or read to the end
            return 0
        state = indexer.match_file(self.known, head)
        pending = st.st_size - (state.bytes_done if state else 0)
        if pending <= 0:
            followed.marks.clear()
            return 0
        if grew or not followed.marks:
            followed.marks.append((now, st.st_size))
        return pending

    def _look_compressed(self, followed: Followed) -> int:
        """A compressed file is done when the index has all of it; moving its cursor up to the
        index's offset (decompressing) happens here, outside a batch."""
        state = indexer.match_file(self.known, followed.head)
        done = state.bytes_done if state else 0
        cursor = followed.cursor
        if done < len(followed.head):
            return -1
        try:
            if cursor.seek(done) < done or cursor.at_end():
                followed.done = True
                return 0
        except sources.READ_ERRORS as exc:
            self.notify(f"{followed.path}: {'; '.join(sources.describe_read_error(exc))}")
            followed.done = True
            return 0
        return -1

    def _let_go(self, followed: Followed) -> None:
        followed.close()
        del self.followed[followed.key]
        if followed.compressed:
            self.finished.add(followed.signature)

    # -- batches -------------------------------------------------------------------------------

    def _open(self, small: bool = False):
        """The index for writing, or Busy when a reader (or another writer) has it."""
        try:
            if self.migrated:
                con = store.connect(self.db, read_only=False, wait=0)
                con.execute("SET TimeZone = ?", [self.options.tz])
            else:
                con = store.open_for_writing(self.db, tz=self.options.tz)
                self.migrated = True
        except store.IndexBusy as exc:
            raise Busy(exc.holder) from None
        except store.IndexError_ as exc:
            raise WatchError(str(exc)) from None
        # Folding the write-ahead log into the file at every close would cost more than the
        # batch on a big index; it is done when the log has grown (see _batch) and at the end.
        con.execute("PRAGMA disable_checkpoint_on_shutdown")
        if small:  # a few lines: one thread parses them as fast, and leaves a core to readers
            con.execute("SET threads = 1")
        return con

    def _load_known(self) -> None:
        """What the index knows, before the first look at the files (so that a compressed
        file already indexed is recognised without holding the index)."""
        try:
            con = self._open()
        except Busy:
            return
        try:
            self.known = store.known_files(con)
        finally:
            con.close()

    def _batch(self, work: list[Followed], checkpoint: bool = False) -> bool:
        """One batch: open the index, index the files' new lines within the size and time
        bounds, commit, close. True when there is more to read right away."""
        if not work and not checkpoint and not self.names:
            return False
        con = self._open(small=self.status.lag_bytes < SMALL_BATCH)
        more = False
        try:
            self.known = store.known_files(con)
            deadline = time.monotonic() + self.options.hold
            budget = self.options.batch_bytes
            report = indexer.BuildReport()
            # every file's new lines in one transaction, the stored per-message views
            # refreshed in it: one commit per batch
            batcher = indexer.Batcher(con, self.index_options, report, refresh=True)
            for followed in work:
                if budget <= 0 or time.monotonic() > deadline:
                    more = True
                    break
                used, cut = self._index(con, followed, budget, deadline, batcher)
                budget -= used
                more = more or cut
            batcher.flush()
            self._count(report)
            indexer.refresh_caches(con)  # left pending by a build killed before its end
            paths.record(con, paths.renamed(self.known, self.names))
            self.names = []
            if checkpoint or wal_bytes(self.db) > self.options.checkpoint_bytes:
                con.execute("CHECKPOINT")
        except store.IndexError_ as exc:
            raise WatchError(str(exc)) from None
        except duckdb.Error as exc:
            raise WatchError(f"{self.db}: {store.first_line(str(exc))}") from None
        finally:
            con.close()
        return more

    def _index(
        self, con, followed: Followed, budget: int, deadline: float, batcher: indexer.Batcher
    ) -> tuple[int, bool]:
        """Index what is new in one file; returns (bytes read, whether reading was cut)."""
        if not followed.compressed:
            followed.read_head()
        head, cursor = followed.head, followed.cursor
        if not head:
            return 0, False
        state = indexer.match_file(self.known, head)
        if (state.bytes_done if state else 0) < len(head):
            cursor.seek(len(head))  # where the indexer expects the stream after the head
        before = cursor.pos
        cursor.allow(budget, deadline, self.stopping.is_set)
        source = Source(followed.path, None, followed.mtime, cursor, head, final=False)
        report, options = batcher.report, self.index_options
        try:
            indexer.index_source(con, source, self.known, options, report, batcher=batcher)
            if followed.compressed and cursor.eof and not cursor.cut:
                source.final = True  # a last line without its newline counts, as in build
                cursor.allow(budget, deadline, lambda: False)
                indexer.index_source(con, source, self.known, options, report, batcher=batcher)
        except SourceError as exc:
            if not followed.compressed or signature_of(followed.path) == followed.signature:
                self.notify(str(exc))  # (not when the compressor was still writing it)
            followed.done = followed.compressed
        if cursor.eof and not cursor.cut and not followed.compressed:
            followed.settled = (head, cursor.pos)
        return max(cursor.pos - before, 0), cursor.cut

    # -- reporting -----------------------------------------------------------------------------

    def _count(self, report: indexer.BuildReport) -> None:
        self.status.lines += report.lines
        self.status.events += report.events
        now = time.monotonic()
        self.rates.append((now, self.status.lines))
        while self.rates and now - self.rates[0][0] > 10:
            self.rates.popleft()

    def _show(self) -> None:
        now = time.monotonic()
        if self.rates and now - self.rates[-1][0] > 10:
            self.rates.clear()
        if len(self.rates) > 1:
            (t0, n0), (t1, n1) = self.rates[0], self.rates[-1]
            self.status.rate = (n1 - n0) / max(now - t0, t1 - t0, 1.0)
        else:
            self.status.rate = 0.0
        if self.blocked_since is not None:
            self.status.blocked_seconds = now - self.blocked_since
        self.show(self.status)

    def _blocked(self, holder: str | None, now: float) -> None:
        self.status.holder = holder or "another process"
        if self.status.holder not in self.holders:
            self.holders.append(self.status.holder)
        if self.blocked_since is None:
            self.blocked_since = now
        waited = now - self.blocked_since
        if waited >= 2.0 and now - self.told_blocked >= 60.0:
            self.told_blocked = now
            self.notify(
                f"index held by {self.status.holder} for {waited:.0f} s; watch waits and "
                f"catches up when it is released ({self.status.lag_bytes:,} bytes behind)"
            )
        self._show()

    def _released(self, now: float) -> None:
        if self.blocked_since is None:
            return
        waited = now - self.blocked_since
        if self.told_blocked:
            self.notify(
                f"index released by {', then '.join(self.holders)} after {waited:.0f} s; "
                f"catching up {self.status.lag_bytes:,} bytes"
            )
        self.blocked_since, self.told_blocked, self.holders = None, 0.0, []
        self.status.holder, self.status.blocked_seconds = None, 0.0

    # -- watchdog ------------------------------------------------------------------------------

    def _observer(self):
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        observer = PollingObserver(timeout=self.options.rescan) if self.options.poll else Observer()
        observer.start()
        return observer

    def _sync_watches(self) -> None:
        """Watch the directories that exist now; a directory made later is watched from then."""
        wanted = {}
        for directory in watched_dirs(self.patterns):
            try:
                wanted[directory] = os.stat(directory).st_ino
            except OSError:
                continue
        for directory, (watch, ino) in list(self.watches.items()):
            if wanted.get(directory) != ino:
                self._unschedule(watch)
                del self.watches[directory]
        for directory, ino in wanted.items():
            if directory in self.watches:
                continue
            try:
                watch = self.observer.schedule(Waker(self), directory, recursive=False)
            except OSError as exc:
                self.notify(f"{directory}: cannot watch ({exc.strerror or exc}); rescanning")
                watch = None
            self.watches[directory] = (watch, ino)

    def _unschedule(self, watch) -> None:
        if watch is None:
            return
        with contextlib.suppress(KeyError, OSError):
            self.observer.unschedule(watch)

    def relevant(self, path: str) -> bool:
        """An event about one of the followed names (not, say, the index in the same folder)."""
        return any(fnmatch.fnmatchcase(path, p) for p in self.absolute)


class Waker:
    """Watchdog handler: any event about a followed name wakes the loop; the loop looks."""

    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher

    def dispatch(self, event) -> None:
        paths = [event.src_path, getattr(event, "dest_path", "")]
        if event.is_directory or any(p and self.watcher.relevant(os.fsdecode(p)) for p in paths):
            self.watcher.wake.set()


def is_compressed(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return sources.detect_compression(f.read(6)) is not None
    except OSError:
        return False


def signature_of(path: str) -> tuple | None:
    try:
        return _signature(os.stat(path))
    except OSError:
        return None


def _signature(st: os.stat_result) -> tuple:
    """A file as it is now: its inode, size and times (a compressor still writing changes it)."""
    return ((st.st_dev, st.st_ino), st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def wal_bytes(db: str) -> int:
    try:
        return os.path.getsize(db + ".wal")
    except OSError:
        return 0


def check_zone(tz: str) -> None:
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = ?", [tz])
    except duckdb.Error as exc:
        raise WatchError(f"cannot use time zone {tz!r}: {store.first_line(str(exc))}") from None
    finally:
        con.close()
