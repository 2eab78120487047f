"""Incremental indexing (``build``): match each source to what the index knows, cut its new
lines into batches, append them.

A file is known by its first bytes, not its name, so ``maillog`` → ``maillog.1`` →
``maillog.2.gz`` stays one file and a copytruncated ``maillog`` becomes a new one
(:class:`KnownFiles`). Its new lines are read in chunks (:mod:`mailidx.ingest.sources`), dated
(:mod:`mailidx.ingest.years`) and gathered into batches of several files
(:class:`Batcher`). Each batch of lines, its events and the files' new offsets commit in one
transaction (:mod:`mailidx.ingest.write`): a build killed at any moment leaves the index as it
was after some whole batch, and the next build goes on from there.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mailidx import store
from mailidx.errors import Interrupted
from mailidx.ingest import files, sources
from mailidx.ingest.phases import PHASES, timed
from mailidx.ingest.refresh import refresh_caches
from mailidx.ingest.sources import Source, SourceError
from mailidx.ingest.write import append_batch
from mailidx.ingest.years import first_year, future_mtime

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass
class BuildReport:
    files: int = 0
    lines: int = 0
    events: int = 0
    unparsed: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def lines_per_second(self) -> float:
        return self.lines / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Options:
    tz: str
    year: int | None = None
    chunk_bytes: int = sources.CHUNK_BYTES
    stream_wait: float = sources.STREAM_WAIT  # see sources: the rule for streams
    refresh_after: int = 500_000  # pending queue IDs past which a build refreshes before its end
    stopped: Callable[[], bool] = lambda: False  # Ctrl-C: stop before the next batch


MEMORY_PER_BATCH = 4  # DuckDB may use this many times the batch …
MIN_MEMORY_MB = 256  # … and at least this
CHECKPOINT_AFTER = "4GB"  # of write-ahead log
Progress = Callable[[int], None]  # called with the number of bytes just indexed


def match_file(known: list[files.FileState], head: bytes) -> files.FileState | None:
    """The known file this head belongs to: one starts with the other (longest match wins)."""
    matches = [s for s in known if head.startswith(s.head) or s.head.startswith(head)]
    return max(matches, key=lambda s: len(s.head), default=None)


PREFIX = 64  # heads at least this long are looked up by their first bytes


class KnownFiles:
    """The files an index knows, looked up by head in about constant time (a build of
    10,000 files would otherwise compare every head with every other). Wraps the caller's
    list: a file added here is added there too."""

    def __init__(self, con, known: list[files.FileState]) -> None:
        self.files = known
        self.by_prefix: dict[bytes, list[files.FileState]] = {}
        self.short: list[files.FileState] = []
        for state in known:
            self._index(state)
        self.next_id = max(files.next_file_id(con), max((s.file_id for s in known), default=0) + 1)

    def _index(self, state: files.FileState) -> None:
        if len(state.head) >= PREFIX:
            self.by_prefix.setdefault(state.head[:PREFIX], []).append(state)
        else:
            self.short.append(state)

    def match(self, head: bytes) -> files.FileState | None:
        candidates = self.short + self.by_prefix.get(head[:PREFIX], [])
        if len(head) < PREFIX:
            candidates = self.files
        return match_file(candidates, head)

    def new(self, path: str, head: bytes) -> files.FileState:
        state = files.FileState(self.next_id, path, head, 0, 0, None, None, is_new=True)
        self.next_id += 1
        self.files.append(state)
        self._index(state)
        return state

    def grew(self, state: files.FileState, head: bytes) -> None:
        """A known file's longer head (it was shorter than HEAD_BYTES when first seen)."""
        if len(head) >= PREFIX > len(state.head):
            self.short.remove(state)
            state.head = head
            self._index(state)
        else:
            state.head = head


def parse_lines(lines: list[str], *, year: int = 2026, tz: str = "UTC") -> list[dict]:
    """Index ``lines`` into a throw-away in-memory index and return one dict per line: its
    log_lines columns and, for events, every events column. The indexer's own path, with no
    file: this is how the tests (and the curious) call the parser."""
    import duckdb

    con = duckdb.connect(":memory:")
    store.migrate(con, ":memory:")
    con.execute("SET TimeZone = ?", [tz])
    state = files.FileState(1, "-", b"", 0, 0, year, None, is_new=True)
    data = "".join(line + "\n" for line in lines).encode()
    batcher = Batcher(con, Options(tz=tz, year=year), BuildReport())
    batcher.add(state, data, 0)
    batcher.flush()
    refresh_caches(con)
    rows = con.execute(
        "SELECT l.*, e.* EXCLUDE (file_id, line_number, ts, host, pid, queue_id, kind) "
        "FROM log_lines l LEFT JOIN events e USING (line_number) ORDER BY line_number"
    )
    names = [d[0] for d in rows.description]
    out = [dict(zip(names, row)) for row in rows.fetchall()]
    con.close()
    return out


class Batcher:
    """Gathers the new lines of one or more files into batches of about ``chunk_bytes``: a
    batch of many small files costs one transaction, not one per file."""

    def __init__(self, con, options: Options, report: BuildReport, refresh: bool = False) -> None:
        self.con = con
        self.options = options
        self.report = report
        self.refresh = refresh  # each batch refreshes the stored views in its transaction
        self.tables: list[pa.Table] = []
        self.states: dict[int, files.FileState] = {}
        self.size = 0

    def add(self, state: files.FileState, chunk: bytes, start: int) -> None:
        # numpy and pyarrow load with the first lines to cut: a re-run with nothing new
        # never pays their 0.12 s
        from mailidx.ingest.batch import to_batch

        with timed("reading + cutting"):
            table = to_batch(chunk, start, state.lines_done + 1, state)
        state.bytes_done = start + len(chunk)
        state.lines_done += table.num_rows
        self.tables.append(table)
        self.states[state.file_id] = state
        self.size += len(chunk)

    @property
    def full(self) -> bool:
        return self.size >= self.options.chunk_bytes

    def flush(self) -> None:
        if not self.states:
            return
        from mailidx.ingest.batch import joined

        batch = joined(self.tables)
        states = list(self.states.values())
        self.tables, self.states, self.size = [], {}, 0
        n_events, n_unparsed = append_batch(self.con, batch, states, refresh=self.refresh)
        self.report.lines += batch.num_rows
        self.report.events += n_events
        self.report.unparsed += n_unparsed
        if self.refresh:
            return
        pending = self.con.execute("SELECT count(*) FROM pending_messages").fetchall()[0][0]
        if pending > self.options.refresh_after:  # keeps the refresh's memory bounded
            # on checkpointed storage, as a resumed build's refresh: what a build has not
            # checkpointed yet (the versions of deleted rows among it) is held in memory,
            # and a 20 M-line log's second mid-build refresh ran out of the 256 MB cap
            with timed("checkpoint"):
                self.con.execute("CHECKPOINT")
            refresh_caches(self.con)


def index_source(
    con,
    source: Source,
    known: list[files.FileState] | KnownFiles,
    options: Options,
    report: BuildReport,
    progress: Progress | None = None,
    batcher: Batcher | None = None,
) -> None:
    """Append what is new in one source. With a ``batcher``, its last lines may wait in it for
    the next file's (the caller flushes it); without, they are committed before returning.
    Either way the stored per-message views wait for :func:`refresh_caches`."""
    if not source.head:
        return  # an empty file: nothing to know it by yet
    own = batcher is None
    batcher = batcher or Batcher(con, options, report)
    files = known if isinstance(known, KnownFiles) else KnownFiles(con, known)
    state = files.match(source.head)
    if state is None:
        state = files.new(source.path, source.head)
    state.path = source.path
    if len(source.head) > len(state.head):
        files.grew(state, source.head)
    try:
        for start, chunk in sources.chunks(source, state.bytes_done, options.chunk_bytes):
            if options.stopped():
                raise Interrupted("interrupted")
            if state.last_year is None:
                state.last_year = first_year(source.mtime, chunk, options.year)
                warning = future_mtime(source.path, source.mtime, options.year)
                if warning:
                    report.warnings.append(warning)
            batcher.add(state, chunk, start)
            size = len(chunk)
            del chunk  # cut into the batch: not held while the batch is indexed
            if batcher.full:
                batcher.flush()
            if progress:
                progress(size)
    except sources.ReadFailed as exc:
        if own:  # the lines read before the failure are indexed
            batcher.flush()
        raise SourceError(
            f"{source.path}: {exc.cause}; its first {state.lines_done:,} lines "
            f"({state.bytes_done:,} bytes) are indexed, {exc.advice}"
        ) from None
    except SourceError:
        if own:
            batcher.flush()
        raise
    if own:
        batcher.flush()


def order_by_age(paths: Iterable[str]) -> list[str]:
    """Oldest first, so lines land roughly in time order; streams (stdin, FIFOs) last."""

    def age(path: str) -> float:
        try:
            return os.stat(path).st_mtime
        except OSError:
            return float("inf")

    return sorted(paths, key=lambda p: (sources.is_stream(p), age(p)))


def build(
    con,
    paths: list[str],
    options: Options,
    progress: Progress | None = None,
    report: BuildReport | None = None,
) -> BuildReport:
    """Index every path; a path that cannot be read is reported and the others still run.

    ``report`` (the caller's, so that it knows what was committed when the build fails or is
    interrupted) counts the lines committed. Streams come after the files."""
    report = report if report is not None else BuildReport()
    started = time.monotonic()
    # DuckDB's buffer pool keeps every block it wrote while memory allows: a cap makes the
    # build's memory follow the batch size instead of the index size
    cap_mb = max(MIN_MEMORY_MB, MEMORY_PER_BATCH * options.chunk_bytes >> 20)
    con.execute(f"SET memory_limit = '{cap_mb}MB'")
    # Under that cap an order-keeping insert runs on one thread (DuckDB holds the other
    # threads back while the rows it must write first are not yet written): a build at
    # 256 MB took 1.35x as long as at 512 MB. No table's meaning depends on the order its
    # rows were stored in (every view and command sorts), so the batch's rows are stored in
    # the order the threads finish them.
    con.execute("SET preserve_insertion_order = false")
    # one checkpoint at the end instead of one every few batches: each rewrites metadata of
    # the whole index, which costs more than the batch once the index is big (a build killed
    # before it leaves its batches in the write-ahead log, replayed on the next open)
    con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_AFTER}'")
    PHASES.clear()
    refresh_caches(con)  # what a build killed before its end left pending
    known = KnownFiles(con, files.known_files(con))
    batcher = Batcher(con, options, report)
    for path in order_by_age(paths):
        if options.stopped():
            raise Interrupted("interrupted")
        try:
            source = sources.open_source(path, options.stream_wait)
        except SourceError as exc:
            report.errors.append(str(exc))
            continue
        try:
            index_source(con, source, known, options, report, progress, batcher)
            report.files += 1
        except SourceError as exc:
            report.errors.append(str(exc))
        finally:
            source.close()
    batcher.flush()
    refresh_caches(con)
    with timed("checkpoint"):
        con.execute("CHECKPOINT")
    report.seconds = time.monotonic() - started
    return report
