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
MEMORY_PER_BATCH = 4  # DuckDB may use this many times the batch …
MIN_MEMORY_MB = 256  # … and at least this
CHECKPOINT_AFTER = "4GB"  # of write-ahead log
# Queue IDs waiting for refresh_caches past which a build refreshes before its end: bounds
# the refresh's memory on a big input.
REFRESH_AFTER_PENDING = 500_000
Progress = Callable[[int], None]  # called with the number of bytes just indexed


def match_file(known: list[store.FileState], head: bytes) -> store.FileState | None:
    """The known file this head belongs to: one starts with the other (longest match wins)."""
    matches = [s for s in known if head.startswith(s.head) or s.head.startswith(head)]
    return max(matches, key=lambda s: len(s.head), default=None)


PREFIX = 64  # heads at least this long are looked up by their first bytes


class KnownFiles:
    """The files an index knows, looked up by head in about constant time (a build of
    10,000 files would otherwise compare every head with every other). Wraps the caller's
    list: a file added here is added there too."""

    def __init__(self, con, known: list[store.FileState]) -> None:
        self.files = known
        self.by_prefix: dict[bytes, list[store.FileState]] = {}
        self.short: list[store.FileState] = []
        for state in known:
            self._index(state)
        self.next_id = max(store.next_file_id(con), max((s.file_id for s in known), default=0) + 1)

    def _index(self, state: store.FileState) -> None:
        if len(state.head) >= PREFIX:
            self.by_prefix.setdefault(state.head[:PREFIX], []).append(state)
        else:
            self.short.append(state)

    def match(self, head: bytes) -> store.FileState | None:
        candidates = self.short + self.by_prefix.get(head[:PREFIX], [])
        if len(head) < PREFIX:
            candidates = self.files
        return match_file(candidates, head)

    def new(self, path: str, head: bytes) -> store.FileState:
        state = store.FileState(self.next_id, path, head, 0, 0, None, None, is_new=True)
        self.next_id += 1
        self.files.append(state)
        self._index(state)
        return state

    def grew(self, state: store.FileState, head: bytes) -> None:
        """A known file's longer head (it was shorter than HEAD_BYTES when first seen)."""
        if len(head) >= PREFIX > len(state.head):
            self.short.remove(state)
            state.head = head
            self._index(state)
        else:
            state.head = head


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


PHASES: dict[str, list[float]] = {}  # [wall, CPU] seconds per phase of a build, for bench/


class timed:
    """Add the wall and CPU seconds (all threads) of a block to PHASES[name]."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        self.started = time.perf_counter(), time.process_time()

    def __exit__(self, *exc) -> None:
        wall, cpu = self.started
        spent = PHASES.setdefault(self.name, [0.0, 0.0])
        spent[0] += time.perf_counter() - wall
        spent[1] += time.process_time() - cpu


def append_batch(
    con,
    batch: pa.Table,
    states: list[store.FileState],
    also: Callable[[object], None] | None = None,
    refresh: bool = False,
) -> tuple[int, int]:
    """Parse and store one batch (lines of one or more files, ``file_id`` a column) and move
    the files' checkpoints, all in one transaction. The states carry their new bytes_done and
    lines_done already. The batch's queue IDs are noted in pending_messages for
    :func:`refresh_caches`; the per-line stored view (rejects) gets the batch's rows.
    ``also(con)`` writes more of the source's position in the same transaction (the journal's
    cursor); ``refresh`` brings the stored per-message views up to date in it too (watch: one
    commit per batch, so its lines are queryable as soon as they are committed).

    Returns (events, unparsed) of the batch.
    """
    # chosen before the transaction: a view that fails to bind would abort it
    columns = _refresh_columns(con) if refresh else MESSAGE_EVENT_COLUMNS
    con.register("batch", batch)
    try:
        with store.transaction(con, lambda: timed("commit")):
            with timed("header + rule match"):
                con.execute(f"CREATE OR REPLACE TEMP TABLE parsed AS {parser.compiled_header()}")
            with timed("lines"):
                con.execute(
                    f"""INSERT INTO lines SELECT file_id, "offset", line_number, ts, host, program,
                        pid, queue_id,
                        CASE WHEN rule >= 0 THEN {parser.kind_list_sql()}[rule + 1]
                             ELSE fallback_kind END,
                        raw, raw_bytes FROM parsed"""
                )
            _insert_events(con, batch.num_rows >= MEMOISE_FROM_ROWS)
            with timed("pending + file checkpoints"):
                con.execute(
                    "INSERT INTO pending_messages SELECT DISTINCT host, queue_id FROM parsed "
                    "WHERE queue_id IS NOT NULL"
                )
                n_events, n_unparsed = con.execute(
                    "SELECT count(*) FILTER (WHERE rule >= 0), count(*) FILTER (WHERE rule = -1) "
                    "FROM parsed"
                ).fetchall()[0]
                save_states(con, states)
                if also is not None:
                    also(con)
                con.execute("DROP TABLE parsed")
            if refresh:
                _drop_event_shadows(con)
                _refresh_in_transaction(con, columns)
    finally:
        con.unregister("batch")
        for table in store.event_tables(con):
            con.execute(f"DROP TABLE IF EXISTS temp.main.{table}")
    return n_events, n_unparsed


MEMOISE_FROM_ROWS = 20_000  # lines of a batch (or events of a refresh) worth a category memo


def _insert_events(con, big: bool = True) -> None:
    """The batch's events: each ev_* table's rows go to a temp table of the same name first,
    which shadows the stored one for this connection, so the per-line stored views
    (rejects_live reads the events view) see just this batch's events; then both are appended."""
    stored = _stored(con)
    tables = store.event_tables(con)
    for table, columns in tables.items():
        fields = tuple(c for c in columns if c not in parser.EVENT_COMMON)
        sql = parser.compiled_events(table, fields)
        with timed("typed events: extraction"):
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {sql}")
        with timed("typed events: insert"):
            con.execute(f"INSERT INTO {stored}.{table} SELECT * FROM temp.main.{table}")
    with timed("per-line views (rejects)"):
        if big:  # a small batch (watch) works its few categories out directly
            _memoise_categories(con, stored, "SELECT dsn, reason FROM events")
        for name in store.LINE_CACHES:
            con.execute(f"INSERT INTO {stored}.{name}_cache SELECT * FROM {name}_live")
        _forget_categories(con)


def _forget_categories(con) -> None:
    con.execute("DROP MACRO IF EXISTS temp.main.reason_category")
    con.execute("DROP TABLE IF EXISTS temp.main.category_memo")


def _stored(con) -> str:
    """The index's main schema by its full name: a bare main.x would find temp.main.x first."""
    db = con.execute("SELECT current_database()").fetchall()[0][0]
    return '"' + db.replace('"', '""') + '".main'


# The tables message_events reads (sql/views/30_message_events.sql): the events with a queue ID.
MESSAGE_EVENT_TABLES = ("ev_delivery", "ev_message", "ev_reject", "ev_other")


# The columns of message_events the *_live views read: the refresh materialises just these
# (a narrower table sorts and spills less: 5.7 instead of 7.7 CPU-s at 2 M lines). A view that
# reads another column makes the narrow refresh fail to bind, and the refresh runs again
# with every column.
MESSAGE_EVENT_COLUMNS = (
    "file_id, line_number, ts, host, queue_id, kind, daemon, instance, message_key, "
    "message_sender, message_message_id, message_expired, message_deleted, message_discarded, "
    "message_held, client_host, client_ip, sasl_username, orig_queue_id, message_id, sender, "
    "size, nrcpt, recipient, orig_recipient, relay, relay_host, relay_ip, relay_port, delay, "
    "delay_before_qmgr, delay_in_qmgr, delay_conn, delay_xmit, dsn, status, response, "
    "next_queue_id, tls, stage, reason, action"
)


def refresh_caches(con) -> None:
    """Bring the stored per-message views up to date, in a transaction of its own (see
    :func:`_refresh_in_transaction`); nothing to do when no queue ID is pending."""
    if not con.execute("SELECT 1 FROM pending_messages LIMIT 1").fetchall():
        return
    columns = _refresh_columns(con)
    with store.transaction(con, lambda: timed("commit")):
        _refresh_in_transaction(con, columns)


def _refresh_columns(con) -> str:
    """MESSAGE_EVENT_COLUMNS when every ``*_live`` view binds over a message_events of just
    those columns, else every column. Checked before the refresh's transaction (a binder
    error inside a DuckDB transaction aborts it): DESCRIBE binds the views without running
    them."""
    stored = _stored(con)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE message_events AS "
        f"SELECT {MESSAGE_EVENT_COLUMNS} FROM {stored}.message_events LIMIT 0"
    )
    try:
        for name in store.MESSAGE_CACHES:
            con.execute(f"DESCRIBE SELECT * FROM {stored}.{name}_live").fetchall()
        return MESSAGE_EVENT_COLUMNS
    except duckdb.BinderException:
        return "*"
    finally:
        con.execute("DROP TABLE IF EXISTS temp.main.message_events")


def _drop_event_shadows(con) -> None:
    """The batch's temp ev_* tables (see :func:`_insert_events`), before the refresh reads
    the stored ones."""
    for table in store.event_tables(con):
        con.execute(f"DROP TABLE IF EXISTS temp.main.{table}")


def _refresh_in_transaction(con, columns: str) -> None:
    """Bring the stored per-message views (the ``*_cache`` tables) up to date for the queue IDs
    in pending_messages, set-based, in the caller's transaction, and empty pending_messages.

    Temp tables named like the event tables, holding every event of those (host, queue_id)s,
    shadow the stored ones for this connection while the ``*_live`` views are read, so the
    views' own SQL computes just the rows that replace the old ones. Each view read is kept in
    a temp table of its own name too, so the views built on it (messages_live on
    message_facts_live, …) read it instead of working it out again. ``reason_category`` is
    worked out once per distinct (dsn, text) pair of those events, not once per row.
    """
    stored = _stored(con)
    if not con.execute(f"SELECT 1 FROM {stored}.pending_messages LIMIT 1").fetchall():
        return
    same = "e.host IS NOT DISTINCT FROM t.host AND e.queue_id = t.queue_id"
    try:
        # nothing stored yet (a first build): every queue ID with events is pending, so the
        # views read the stored events as they are
        first = not con.execute(f"SELECT 1 FROM {stored}.message_facts_cache LIMIT 1").fetchall()
        with timed("per-message views: events"):
            con.execute(
                "CREATE OR REPLACE TEMP TABLE touched AS "
                f"SELECT DISTINCT host, queue_id FROM {stored}.pending_messages"
            )
            for table in () if first else MESSAGE_EVENT_TABLES:
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT e.* FROM {stored}.{table} "
                    f"AS e SEMI JOIN touched AS t ON {same}"
                )
        with timed("per-message views: message_events"):
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE message_events AS "
                f"SELECT {columns} FROM {stored}.message_events"
            )
        big = con.execute("SELECT count(*) FROM message_events").fetchall()[0][0]
        with timed("per-message views: categories"):
            if big >= MEMOISE_FROM_ROWS:  # a few events (watch): worked out directly
                _memoise_categories(
                    con,
                    stored,
                    "SELECT dsn, response FROM temp.main.message_events "
                    "UNION ALL SELECT dsn, reason FROM temp.main.message_events",
                )
        for name in store.MESSAGE_CACHES:
            with timed(f"per-message views: {name}"):
                view = f"{name}_live"
                con.execute(f"CREATE OR REPLACE TEMP TABLE {view} AS SELECT * FROM {stored}.{view}")
                if not first:
                    con.execute(
                        f"DELETE FROM {stored}.{name}_cache AS e USING touched AS t WHERE {same}"
                    )
                # in time order, as the tables were created: time bounds skip row groups
                con.execute(
                    f"INSERT INTO {stored}.{name}_cache SELECT * FROM temp.main.{view} "
                    f"ORDER BY {store.CACHE_ORDER[name]}"
                )
        con.execute(f"DELETE FROM {stored}.pending_messages")
    finally:
        shadows = (*MESSAGE_EVENT_TABLES, "message_events", "touched")
        for table in (*shadows, *(f"{name}_live" for name in store.MESSAGE_CACHES)):
            with contextlib.suppress(duckdb.Error):  # (an aborted transaction drops nothing)
                con.execute(f"DROP TABLE IF EXISTS temp.main.{table}")
        with contextlib.suppress(duckdb.Error):
            _forget_categories(con)


def _memoise_categories(con, stored: str, pairs: str) -> None:
    """A temp ``reason_category`` macro that looks the category up in a table of the distinct
    (dsn, text) ``pairs`` (a query), each worked out once by the real macro; it shadows the
    stored macro for this connection while the views are read."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE category_memo AS
        SELECT d AS dsn, t AS text, {stored}.reason_category(d, t) AS category
        FROM (SELECT DISTINCT * FROM ({pairs}) AS p(d, t))"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP MACRO reason_category(d, t) AS (
            SELECT any_value(m.category) FROM temp.main.category_memo AS m
            WHERE m.dsn IS NOT DISTINCT FROM d AND m.text IS NOT DISTINCT FROM t)"""
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


FILE_COLUMNS = ("file_id", "path", "head", "bytes_done", "lines_done", "last_year", "last_month")


def save_states(con, states: list[store.FileState]) -> None:
    """Write the files' checkpoints: one statement for the new files, one for the known."""
    now = dt.datetime.now(dt.timezone.utc)
    for new in (True, False):
        chosen = [s for s in states if s.is_new == new]
        if not chosen:
            continue
        table = pa.table(
            {
                "file_id": pa.array([s.file_id for s in chosen], pa.int32()),
                "path": pa.array([s.path for s in chosen], pa.string()),
                "head": pa.array([s.head for s in chosen], pa.binary()),
                "bytes_done": pa.array([s.bytes_done for s in chosen], pa.int64()),
                "lines_done": pa.array([s.lines_done for s in chosen], pa.int64()),
                "last_year": pa.array([s.last_year for s in chosen], pa.int32()),
                "last_month": pa.array([s.last_month for s in chosen], pa.int32()),
            }
        )
        con.register("file_states", table)
        try:
            if new:
                con.execute(
                    "INSERT INTO files SELECT file_id, path, path, head, octet_length(head),"
                    " bytes_done, lines_done, last_year, last_month, $now, $now"
                    " FROM file_states",
                    {"now": now},
                )
            else:
                con.execute(
                    "UPDATE files SET path = n.path, head = n.head,"
                    " head_len = octet_length(n.head), bytes_done = n.bytes_done,"
                    " lines_done = n.lines_done, last_year = n.last_year,"
                    " last_month = n.last_month, last_indexed = $now"
                    " FROM file_states AS n WHERE files.file_id = n.file_id",
                    {"now": now},
                )
        finally:
            con.unregister("file_states")
    for state in states:
        state.is_new = False


def append_lines(
    con,
    state: store.FileState,
    batch: pa.Table,
    end_offset: int,
    also: Callable[[object], None] | None = None,
    refresh: bool = False,
) -> tuple[int, int]:
    """:func:`append_batch` for the lines of one source (a :func:`to_batch` table) ending at
    ``end_offset``; the state moves on only when they are committed."""
    batch = batch.add_column(0, "file_id", pa.repeat(state.file_id, batch.num_rows))
    before = state.bytes_done, state.lines_done
    state.bytes_done, state.lines_done = end_offset, state.lines_done + batch.num_rows
    try:
        return append_batch(con, batch, [state], also=also, refresh=refresh)
    except BaseException:
        state.bytes_done, state.lines_done = before
        raise


class Batcher:
    """Gathers the new lines of one or more files into batches of about ``chunk_bytes``: a
    batch of many small files costs one transaction, not one per file."""

    def __init__(self, con, options: Options, report: BuildReport, refresh: bool = False) -> None:
        self.con = con
        self.options = options
        self.report = report
        self.refresh = refresh  # each batch refreshes the stored views in its transaction
        self.tables: list[pa.Table] = []
        self.states: dict[int, store.FileState] = {}
        self.size = 0

    def add(self, state: store.FileState, chunk: bytes, start: int) -> None:
        with timed("reading + cutting"):
            table = to_batch(chunk, start, state.lines_done + 1, state)
            table = table.add_column(0, "file_id", pa.repeat(state.file_id, table.num_rows))
        state.bytes_done = start + len(chunk)
        state.lines_done += table.num_rows
        self.tables.append(table)
        self.states[state.file_id] = state
        self.size += len(chunk)
        if self.size >= self.options.chunk_bytes:
            self.flush()

    def flush(self) -> None:
        if not self.states:
            return
        batch = self.tables[0]
        if len(self.tables) > 1:  # record batches of a size DuckDB's threads can share
            batch = pa.concat_tables(self.tables).combine_chunks()
            batch = pa.Table.from_batches(batch.to_batches(max_chunksize=ARROW_BATCH_ROWS))
        states = list(self.states.values())
        self.tables, self.states, self.size = [], {}, 0
        n_events, n_unparsed = append_batch(self.con, batch, states, refresh=self.refresh)
        self.report.lines += batch.num_rows
        self.report.events += n_events
        self.report.unparsed += n_unparsed
        if self.refresh:
            return
        pending = self.con.execute("SELECT count(*) FROM pending_messages").fetchall()[0][0]
        if pending > REFRESH_AFTER_PENDING:
            refresh_caches(self.con)  # keeps the refresh's memory bounded on a big input


def index_source(
    con,
    source: Source,
    known: list[store.FileState] | KnownFiles,
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
                state.last_year = first_year(source, chunk, options)
                warning = future_mtime(source, options)
                if warning:
                    report.warnings.append(warning)
            batcher.add(state, chunk, start)
            if progress:
                progress(len(chunk))
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
    PHASES.clear()
    refresh_caches(con)  # what a build killed before its end left pending
    known = KnownFiles(con, store.known_files(con))
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
