"""``watch --journal``: following the journal and indexing its Postfix entries as they come.

It reads through :mod:`mailidx.ingest.journalctl`, commits through
:func:`mailidx.ingest.journal.commit` and shares the batch's index handling with the file watcher
(:mod:`mailidx.watch.batch`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import duckdb

from mailidx import store
from mailidx.errors import IndexBusy
from mailidx.ingest.journal import JournalReport, Stream, commit, load_stream, skip_before
from mailidx.ingest.journal_entry import Entry
from mailidx.ingest.journalctl import Journal, machine_id, open_reader
from mailidx.ingest.refresh import refresh_caches
from mailidx.watch import batch

MAX_RESTART_WAIT = 30.0  # watch: journalctl ending again and again is started at most this often
LINGER = 0.05  # watch: a batch waits this long for more entries once one came


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
        self.watch = batch
        self.db = db
        self.journal = journal
        self.options = options
        self.notify = notify
        self.show = show or (lambda status: None)
        self.since = since
        self.status = batch.Status(files=1)
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
                self.pending += skip_before(got, after)
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
            self.pending += skip_before(got, after)
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
        except IndexBusy:
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
        except IndexBusy as busy:
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
            refresh_caches(con)  # left pending by a build killed before its end
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
