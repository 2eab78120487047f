"""Incremental indexing: match each source to what the index knows, append its new lines.

A file is known by its first bytes, not its name, so ``maillog`` → ``maillog.1`` →
``maillog.2.gz`` stays one file and a copytruncated ``maillog`` becomes a new one. Each batch of
lines, its events and the file's new offset commit in one transaction: a build killed at any
moment leaves the index as it was after some whole batch, and the next build goes on from there.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa

from mailidx import parser, sources, store
from mailidx.errors import Interrupted
from mailidx.sources import Source, SourceError


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
    stopped: Callable[[], bool] = lambda: False  # Ctrl-C: stop before the next batch


ARROW_BATCH_ROWS = 32 * 1024
FUTURE_SLACK = 3600  # seconds of clock skew a file's mtime may be ahead before a warning
MEMORY_PER_BATCH = 16  # DuckDB may use this many times the batch …
MIN_MEMORY_MB = 1024  # … and at least this
CHECKPOINT_AFTER = "4GB"  # of write-ahead log
Progress = Callable[[int], None]  # called with the number of bytes just indexed


def match_file(known: list[store.FileState], head: bytes) -> store.FileState | None:
    """The known file this head belongs to: one starts with the other (longest match wins)."""
    matches = [s for s in known if head.startswith(s.head) or s.head.startswith(head)]
    return max(matches, key=lambda s: len(s.head), default=None)


def first_year(source: Source, first_chunk: bytes, options: Options) -> int:
    """Year of the file's first year-less line: the file ends at its mtime, so a first line
    dated after the mtime's day must be from the year before."""
    if options.year:
        return options.year
    when = dt.datetime.fromtimestamp(source.mtime) if source.mtime else dt.datetime.now()
    month_day = _first_month_day(first_chunk)
    if month_day and month_day > (when.month, when.day + 1):
        return when.year - 1
    return when.year


def _first_month_day(chunk: bytes) -> tuple[int, int] | None:
    for line in chunk[:65536].split(b"\n", 20):
        text = line.lstrip(b"<0123456789>")
        month = parser.MONTH_OF.get(text[:3])
        if month and text[4:6].strip().isdigit():
            return month, int(text[4:6])
    return None


def to_batch(chunk: bytes, offset: int, first_line: int, state: store.FileState) -> pa.Table:
    """An Arrow table of the chunk's lines (without their newlines) with byte offsets, line
    numbers and the year of year-less times; moves the year state on to the chunk's end.

    Vectorised with numpy: a per-line Python loop would cost more than the whole parse.
    """
    data = np.frombuffer(chunk, np.uint8)
    newlines = np.flatnonzero(data == 10)
    n = len(newlines)
    starts = np.empty(n, np.int64)
    starts[0] = 0
    starts[1:] = newlines[:-1] + 1
    # The lines' bytes back to back without the newlines: line i starts at starts[i] - i.
    packed = chunk.replace(b"\n", b"")
    text_offsets = np.empty(n + 1, np.int64)
    text_offsets[:n] = starts - np.arange(n)
    text_offsets[n] = len(packed)
    raw = pa.Array.from_buffers(
        pa.large_string(), n, [None, pa.py_buffer(text_offsets), pa.py_buffer(packed)]
    )
    raw_bytes = pa.nulls(n, pa.large_binary())
    try:
        raw.validate(full=True)
    except pa.ArrowInvalid:
        raw, raw_bytes = _decode_mixed(chunk.split(b"\n")[:-1])
    line_years, state.last_year, state.last_month = parser.years(
        data, starts, state.last_year, state.last_month
    )
    table = pa.table(
        {
            "line_number": pa.array(np.arange(first_line, first_line + n, dtype=np.int64)),
            "offset": pa.array(starts + offset),
            "raw": raw,
            "raw_bytes": raw_bytes,
            "year": pa.array(line_years),
        }
    )
    # DuckDB scans an Arrow table one record batch per thread: give it several.
    return pa.Table.from_batches(table.to_batches(max_chunksize=ARROW_BATCH_ROWS))


def _decode_mixed(parts: list[bytes]) -> tuple[pa.Array, pa.Array]:
    """Lines with bytes that are not UTF-8 keep a readable raw text and their exact bytes."""
    texts, blobs = [], []
    for part in parts:
        try:
            texts.append(part.decode("utf-8"))
            blobs.append(None)
        except UnicodeDecodeError:
            texts.append(part.decode("utf-8", "backslashreplace"))
            blobs.append(part)
    return pa.array(texts, pa.large_string()), pa.array(blobs, pa.large_binary())


def append_batch(
    con,
    state: store.FileState,
    batch: pa.Table,
    end_offset: int,
    also: Callable[[object], None] | None = None,
) -> tuple[int, int]:
    """Parse and store one batch and move the file's checkpoint, all in one transaction;
    ``also(con)`` writes more of the source's position in it (the journal's cursor).

    Returns (events, unparsed) of the batch.
    """
    kinds = parser.kind_list_sql()
    con.register("batch", batch)
    con.execute("BEGIN")
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE parsed AS {parser.compiled_header()}")
        con.execute(
            f"""INSERT INTO lines SELECT $file_id, "offset", line_number, ts, host, program, pid,
                queue_id, CASE WHEN rule >= 0 THEN {kinds}[rule + 1] ELSE fallback_kind END,
                raw, raw_bytes FROM parsed""",
            {"file_id": state.file_id},
        )
        for table, columns in store.event_tables(con).items():
            fields = tuple(c for c in columns if c not in parser.EVENT_COMMON)
            sql = parser.compiled_events(table, fields)
            con.execute(
                f"INSERT INTO {table} SELECT $file_id, * FROM ({sql})", {"file_id": state.file_id}
            )
        refresh_caches(con, state.file_id)
        n_events, n_unparsed = con.execute(
            "SELECT count(*) FILTER (WHERE rule >= 0), count(*) FILTER (WHERE rule = -1) "
            "FROM parsed"
        ).fetchall()[0]
        state.bytes_done = end_offset
        state.lines_done += batch.num_rows
        save_state(con, state)
        if also is not None:
            also(con)
        con.execute("DROP TABLE parsed")
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # a failed COMMIT has rolled back already
            con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("batch")
    return n_events, n_unparsed


# The tables message_events reads (sql/views/30_message_events.sql): the events with a queue ID.
MESSAGE_EVENT_TABLES = ("ev_delivery", "ev_message", "ev_reject", "ev_other")


def refresh_caches(con, file_id: int) -> None:
    """Bring the stored views (the ``*_cache`` tables) up to date with the batch in ``parsed``.

    Per-message views: temp tables named like the event tables, holding every event of the
    (host, queue_id)s the batch mentions, shadow the stored ones for this connection while the
    ``*_live`` views are read, so the views' own SQL computes just the rows that replace the
    old ones. Each view read is kept in a temp table of its own name too, so the views built on
    it (messages_live on message_facts_live, …) read it instead of working it out again.
    Per-line views: the rows of the batch's own lines are appended.
    """
    # stored tables by their full name: a bare main.x would find temp.main.x first
    db = con.execute("SELECT current_database()").fetchall()[0][0]
    stored = '"' + db.replace('"', '""') + '".main'
    con.execute(
        "CREATE OR REPLACE TEMP TABLE touched AS "
        "SELECT DISTINCT host, queue_id FROM parsed WHERE queue_id IS NOT NULL"
    )
    same = "e.host IS NOT DISTINCT FROM t.host AND e.queue_id = t.queue_id"
    try:
        for table in MESSAGE_EVENT_TABLES:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT e.* FROM {stored}.{table} AS e "
                f"SEMI JOIN touched AS t ON {same}"
            )
        for view in ("message_events", *(f"{name}_live" for name in store.MESSAGE_CACHES)):
            con.execute(f"CREATE OR REPLACE TEMP TABLE {view} AS SELECT * FROM {stored}.{view}")
        for name in store.MESSAGE_CACHES:
            con.execute(f"DELETE FROM {stored}.{name}_cache AS e USING touched AS t WHERE {same}")
            con.execute(f"INSERT INTO {stored}.{name}_cache SELECT * FROM temp.main.{name}_live")
    finally:
        shadows = (*MESSAGE_EVENT_TABLES, "message_events", "touched")
        for table in (*shadows, *(f"{name}_live" for name in store.MESSAGE_CACHES)):
            con.execute(f"DROP TABLE IF EXISTS temp.main.{table}")
    # the batch's own lines: constant bounds, which zone maps turn into reading just them
    first, last = con.execute("SELECT min(line_number), max(line_number) FROM parsed").fetchall()[0]
    if first is None:
        return
    for name in store.LINE_CACHES:
        con.execute(
            f"INSERT INTO {stored}.{name}_cache SELECT * FROM {name}_live "
            f"WHERE file_id = {int(file_id)} AND line_number BETWEEN {int(first)} AND {int(last)}"
        )


def parse_lines(lines: list[str], *, year: int = 2026, tz: str = "UTC") -> list[dict]:
    """Index ``lines`` into a throw-away in-memory index and return one dict per line: its
    log_lines columns and, for events, every events column. The indexer's own path, with no
    file: this is how the tests (and the curious) call the parser."""
    import duckdb

    con = duckdb.connect(":memory:")
    store.migrate(con, ":memory:")
    con.execute("SET TimeZone = ?", [tz])
    state = store.FileState(1, "-", b"", 0, 0, year, None, is_new=True)
    data = "".join(line + "\n" for line in lines).encode()
    append_batch(con, state, to_batch(data, 0, 1, state), len(data))
    rows = con.execute(
        "SELECT l.*, e.* EXCLUDE (file_id, line_number, ts, host, pid, queue_id, kind) "
        "FROM log_lines l LEFT JOIN events e USING (line_number) ORDER BY line_number"
    )
    names = [d[0] for d in rows.description]
    out = [dict(zip(names, row)) for row in rows.fetchall()]
    con.close()
    return out


def save_state(con, state: store.FileState) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    row = {
        "file_id": state.file_id,
        "path": state.path,
        "head": state.head,
        "head_len": len(state.head),
        "bytes_done": state.bytes_done,
        "lines_done": state.lines_done,
        "last_year": state.last_year,
        "last_month": state.last_month,
        "now": now,
    }
    if state.is_new:
        con.execute(
            "INSERT INTO files VALUES ($file_id, $path, $path, $head, $head_len, $bytes_done,"
            " $lines_done, $last_year, $last_month, $now, $now)",
            row,
        )
        state.is_new = False
    else:
        con.execute(
            "UPDATE files SET path = $path, head = $head, head_len = $head_len,"
            " bytes_done = $bytes_done, lines_done = $lines_done, last_year = $last_year,"
            " last_month = $last_month, last_indexed = $now WHERE file_id = $file_id",
            row,
        )


def index_source(
    con,
    source: Source,
    known: list[store.FileState],
    options: Options,
    report: BuildReport,
    progress: Progress | None = None,
) -> None:
    """Append what is new in one source."""
    if not source.head:
        return  # an empty file: nothing to know it by yet
    state = match_file(known, source.head)
    if state is None:
        state = store.FileState(
            store.next_file_id(con), source.path, source.head, 0, 0, None, None, is_new=True
        )
        known.append(state)
    state.path = source.path
    if len(source.head) > len(state.head):
        state.head = source.head
    line_number = state.lines_done + 1
    try:
        for start, chunk in sources.chunks(source, state.bytes_done, options.chunk_bytes):
            if options.stopped():
                raise Interrupted("interrupted")
            if state.last_year is None:
                state.last_year = first_year(source, chunk, options)
                warning = future_mtime(source, options)
                if warning:
                    report.warnings.append(warning)
            batch = to_batch(chunk, start, line_number, state)
            n_events, n_unparsed = append_batch(con, state, batch, start + len(chunk))
            line_number += batch.num_rows
            report.lines += batch.num_rows
            report.events += n_events
            report.unparsed += n_unparsed
            if progress:
                progress(len(chunk))
    except sources.ReadFailed as exc:
        raise SourceError(
            f"{source.path}: {exc.cause}; its first {state.lines_done:,} lines "
            f"({state.bytes_done:,} bytes) are indexed, {exc.advice}"
        ) from None


def future_mtime(source: Source, options: Options) -> str | None:
    """A warning when year-less lines are dated by a modification time in the future."""
    if options.year or not source.mtime or source.mtime <= time.time() + FUTURE_SLACK:
        return None
    when = dt.datetime.fromtimestamp(source.mtime, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"warning: {source.path}: modified in the future ({when}); its year-less lines are "
        "dated up to then: check the clock, or give --year"
    )


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
    # one checkpoint at the end instead of one every few batches: each rewrites metadata of
    # the whole index, which costs more than the batch once the index is big (a build killed
    # before it leaves its batches in the write-ahead log, replayed on the next open)
    con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_AFTER}'")
    known = store.known_files(con)
    for path in order_by_age(paths):
        if options.stopped():
            raise Interrupted("interrupted")
        try:
            source = sources.open_source(path, options.stream_wait)
        except SourceError as exc:
            report.errors.append(str(exc))
            continue
        try:
            index_source(con, source, known, options, report, progress)
            report.files += 1
        except SourceError as exc:
            report.errors.append(str(exc))
        finally:
            source.close()
    con.execute("CHECKPOINT")
    report.seconds = time.monotonic() - started
    return report
