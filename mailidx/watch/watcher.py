"""The watch loop: follow log files as they grow and rotate, index new lines in small batches.

Each cycle the loop looks at the followed files (:mod:`mailidx.watch.follow`), and when there
is work and the pause since the last batch is over, runs one batch; between cycles it sleeps
until watchdog wakes it (:mod:`mailidx.watch.wake`) or the next rescan is due.

The index is open for writing only while a batch runs (open, append, commit, close), so readers
(``mailidx query``, DBeaver) get in between batches. A reader that keeps the file makes the
loop wait and retry: it lags behind, says who holds the file (:mod:`mailidx.watch.lag`), and
loses nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from mailidx import store
from mailidx.ingest import files, indexer, paths
from mailidx.ingest.sources import Source, SourceError
from mailidx.watch.batch import (
    MAX_BACKOFF,
    Busy,
    Status,
    WatchError,
    check_zone,
    open_index,
    wal_bytes,
)
from mailidx.watch.follow import (
    Followed,
    Following,
    expand,
    indexed_bytes,
    signature_of,
    watched_dirs,
)
from mailidx.watch.lag import Reporter
from mailidx.watch.wake import Wakeups

SMALL_BATCH = 1 << 20


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
        self.options = options
        self.notify = notify
        self.index_options = indexer.Options(
            tz=options.tz, year=options.year, chunk_bytes=options.batch_bytes
        )
        self.status = Status()
        self.lag = Reporter(self.status, notify, show or (lambda status: None))
        self.files = Following(patterns, notify, options.drain)
        self.known: list[files.FileState] = []
        self.names: list[tuple[str, bytes]] = []  # (path, head) of files renamed since a batch
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.wakeups = Wakeups(patterns, self.wake, notify, options.poll, options.rescan)
        self.migrated = False  # the schema is checked (and migrated) by the first batch only

    def stop(self) -> None:
        """Finish the batch in progress, index what is pending once more, return from run."""
        self.stopping.set()
        self.wake.set()

    def run(self) -> Status:
        check_zone(self.options.tz)
        if not expand(self.patterns):
            self.notify(f"nothing to follow yet at {', '.join(self.patterns)}; waiting for it")
        self.wakeups.start()
        try:
            self._load_known()
            self._loop()
            self._last_batch()
        finally:
            self.wakeups.stop()
            self.files.close()
        return self.status

    def _loop(self) -> None:
        next_at, backoff = 0.0, 0.05
        while not self.stopping.is_set():
            now = time.monotonic()
            self.wakeups.sync(watched_dirs(self.patterns))
            work = self._scan(now)
            if (work or self.names) and now >= next_at:
                try:
                    more = self._batch(work)
                except Busy as busy:
                    self.lag.blocked(busy.holder, now)
                    self.stopping.wait(backoff)
                    if now - (self.lag.blocked_since or now) > 2.0:  # a reader left open: back off
                        backoff = min(backoff * 2, MAX_BACKOFF)
                    continue
                self.lag.released(now)
                backoff = 0.05
                # Readers waiting for the index (retrying every 50 ms) get it before the next batch.
                next_at = time.monotonic() + self.options.gap
                if not more:
                    next_at = max(next_at, now + self.options.interval)
                self.lag.show()
                continue
            self.lag.show()
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

    def _scan(self, now: float) -> list[Followed]:
        """Look at the files: those with work, the renamed-away ones and then the oldest first;
        names that changed are stored with the next batch, even one with no lines."""
        look = self.files.look(self.known, now)
        if paths.renamed(self.known, look.present):
            self.names = look.present
        self.status.files = look.files
        self.status.lag_bytes = look.lag_bytes
        self.status.lag_seconds = look.lag_seconds
        return look.work

    # -- batches -------------------------------------------------------------------------------

    def _open(self, small: bool = False):
        """The index for writing, or Busy when a reader (or another writer) has it."""
        con = open_index(self.db, self.options.tz, migrate=not self.migrated, small=small)
        self.migrated = True
        return con

    def _load_known(self) -> None:
        """What the index knows, before the first look at the files (so that a compressed
        file already indexed is recognised without holding the index)."""
        try:
            con = self._open()
        except Busy:
            return
        try:
            self.known = files.known_files(con)
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
            self.known = files.known_files(con)
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
            self.lag.count(report.lines, report.events)
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
        if indexed_bytes(self.known, head) < len(head):
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
