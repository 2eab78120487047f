"""The ``mailidx`` command: a thin layer of typer over the library modules."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

import typer

from mailidx import output
from mailidx.errors import Interrupted, MailidxError
from mailidx.store import IndexBusy, IndexError_, default_db_path

BUILD_WAIT = 10.0  # seconds build waits for a busy index (watch lets go between batches)
MAX_ROWS = (1 << 63) - 1  # the most a LIMIT takes
STREAM_WAIT = 10.0  # = sources.STREAM_WAIT (not imported: the other commands do not need it)

app = typer.Typer(
    help="A local, SQL-queryable index of Postfix mail logs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DbOption = typer.Option(
    None, "--db", help="Index file [env: MAILIDX_DB; default: ~/.local/share/mailidx/index.duckdb]"
)
FormatOption = typer.Option(None, "--format", help="table, csv, json or jsonl")


def fail(message: str | MailidxError) -> None:
    """One line on stderr, exit status 1 (or the error's own)."""
    output.note(f"mailidx: {message}")
    raise typer.Exit(getattr(message, "exit_code", 1))


def db_path(db: str | None) -> str:
    return db or default_db_path()


def _upgrading(path: str):
    """The note before an index written by another version gets its stored views again."""

    def say() -> None:
        output.note(
            f"mailidx: bringing {path} up to date for this version: re-creating its stored "
            "views (about 2 minutes for 20 M lines; once)"
        )

    return say


def pick_format(fmt: str | None) -> str:
    if fmt is None:
        return output.default_format()
    if fmt not in output.FORMATS:
        raise typer.BadParameter(
            f"choose one of {', '.join(output.FORMATS)}", param_hint="--format"
        )
    return fmt


def local_zone() -> str:
    tz = os.environ.get("TZ")
    if tz:
        return tz.lstrip(":")
    try:
        link = os.readlink("/etc/localtime")
        return link.split("zoneinfo/", 1)[1]
    except (OSError, IndexError):
        return "UTC"


JournalOption = typer.Option(
    False, "--journal", help="Read Postfix's entries from the systemd journal (with a cursor)"
)
JournalFileOption = typer.Option(
    None, "--journal-file", help="A copied journal file to read (implies --journal; repeatable)"
)
JournalDirOption = typer.Option(
    None, "--journal-dir", help="A copied journal directory to read (implies --journal)"
)
SinceJournalOption = typer.Option(
    None, "--since", help="Journal: where the first import starts (2h, 7d, today, ISO time)"
)
NOTHING_FOUND = (
    "no mail logs: looked in /var/log (maillog*, mail.log*) and the systemd journal ({why}); "
    "pass the log files (mailidx build FILE…) or --journal-file/--journal-dir, "
    "or try the bundled sample: mailidx build examples/maillog*"
)


def pick_journal(
    journal: bool, files: list[str] | None, directory: str | None, since: str | None, zone: str
):
    """The journal to read (None: no journal option given) and --since as journalctl takes it."""
    from mailidx.answers import queries
    from mailidx.ingest import journalctl as journals

    if files and directory:
        raise typer.BadParameter("give --journal-file or --journal-dir, not both")
    if not (journal or files or directory):
        if since is not None:
            raise typer.BadParameter("--since starts a first journal import; add --journal")
        return None, None
    start = None
    if since is not None:
        try:
            when = queries.parse_when(since, zone)
        except queries.QueryError as exc:
            raise typer.BadParameter(str(exc), param_hint="--since") from None
        start = f"@{int(when.timestamp())}"
    return journals.Journal(files=tuple(files or ()), directory=directory), start


def look_for_logs():
    """`build` with no PATH: the usual log files where they exist, else the journal when it
    holds Postfix's entries, else one line saying where it looked. (paths, journal)"""
    from mailidx.ingest import journalctl as journals
    from mailidx.ingest import sources

    paths = sources.default_paths()
    if paths:
        return paths, None
    system = journals.Journal()
    try:
        system.check()
        found = journals.has_postfix(system)
    except journals.JournalError as exc:
        if "not found" in str(exc):
            fail(NOTHING_FOUND.format(why="journalctl not found"))
        fail(f"no mail logs in /var/log (maillog*, mail.log*), and {exc}")
    if not found:
        fail(NOTHING_FOUND.format(why="no Postfix entries"))
    output.note("mailidx: no mail log files in /var/log; reading Postfix's entries in the journal")
    return [], system


@app.command()
def build(
    paths: list[str] = typer.Argument(
        None, help="Log files (plain, .gz, .bz2, .xz; - = stdin; FIFOs and pipes read last)"
    ),
    journal: bool = JournalOption,
    journal_file: list[str] = JournalFileOption,
    journal_dir: str | None = JournalDirOption,
    since: str | None = SinceJournalOption,
    db: str | None = DbOption,
    tz: str | None = typer.Option(None, help="Zone of times without an offset [default: local]"),
    year: int | None = typer.Option(
        None, min=1, max=9999, help="Year of the first year-less line of each file"
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar, no summary"),
    batch_mb: int = typer.Option(
        64,
        "--batch-mb",
        min=1,
        max=1 << 20,
        help="Lines committed together, in MiB (memory ≈ 10× this)",
    ),
    wait: float = typer.Option(
        BUILD_WAIT, min=0, max=86400, help="Seconds to wait for a busy index (watch's next gap)"
    ),
    stream_wait: float = typer.Option(
        STREAM_WAIT,
        "--stream-wait",
        min=0.1,
        max=86400,
        help="Seconds a FIFO, pipe or stdin may deliver nothing before it is left",
    ),
) -> None:
    """Index new lines of each log file (or the journal); re-running adds only what is new."""
    from mailidx import store
    from mailidx.ingest import indexer
    from mailidx.ingest import journal as journals
    from mailidx.ingest import paths as moved_files

    zone = tz or local_zone()
    paths = paths or []
    source, start = pick_journal(journal, journal_file, journal_dir, since, zone)
    if not paths and source is None:
        paths, source = look_for_logs()
    if source is not None:
        source.check()  # a JournalError: one line, exit 1
    path = db_path(db)
    options = indexer.Options(tz=zone, year=year, chunk_bytes=batch_mb << 20)
    options.stream_wait = stream_wait
    if os.environ.get("MAILIDX_BATCH_BYTES"):  # byte-sized batches, for tests
        options.chunk_bytes = int(os.environ["MAILIDX_BATCH_BYTES"])
    report, read = indexer.BuildReport(), None

    def waiting(busy: IndexBusy) -> None:
        output.note(  # a progress note, like the summary line: not an error
            f"waiting up to {wait:g} s for {busy.holder or 'another process'} to let go of "
            f"{path} (--wait)"
        )

    with Interruptible() as stop:
        con = store.open_for_writing(
            path, tz=zone, wait=wait, on_upgrade=_upgrading(path), on_wait=waiting
        )
        stop.con = con
        options.stopped = lambda: stop.hit
        held_before = store.line_count(con)
        if os.environ.get("MAILIDX_THREADS"):  # the benchmark's threads 1 and 2
            con.execute(f"SET threads = {int(os.environ['MAILIDX_THREADS'])}")
        try:
            if stop.hit:
                raise Interrupted("interrupted")
            if paths:
                with progress_bar(paths, quiet) as progress:
                    indexer.build(con, paths, options, progress, report)
                # a file rotated since the last run has its new name even when nothing was new
                known = store.known_files(con)
                moved_files.record(con, moved_files.renamed(known, moved_files.heads(paths)))
            if source is not None:
                started = time.monotonic()
                read = journals.build(con, source, options.chunk_bytes, start, _notice)
                report.lines += read.lines
                report.events += read.events
                report.unparsed += read.unparsed
                report.seconds += time.monotonic() - started
                con.execute("CHECKPOINT")
            con.close()
        except BaseException as exc:
            report.lines = committed_lines(con, held_before, report.lines)
            store.close_quietly(con)
            raise build_failure(path, exc, report, stop.hit) from None
    for warning in report.warnings:
        output.note(f"mailidx: {warning}")
    if os.environ.get("MAILIDX_PROFILE"):  # the benchmark's phase breakdown
        import json

        phases = {k: [round(v, 3) for v in spent] for k, spent in indexer.PHASES.items()}
        output.note("mailidx: phases " + json.dumps(phases))
    for error in report.errors:
        output.note(f"mailidx: {error}")
    if not quiet:
        parts = [f"{report.files} files"] if paths else []
        if read is not None:
            parts.append(f"journal: {read.entries:,} entries read")
        output.note(
            f"{', '.join(parts)}, {report.lines:,} lines, {report.events:,} events, "
            f"{report.unparsed:,} unparsed in {report.seconds:.1f} s "
            f"({report.lines_per_second:,.0f} lines/s) into {path}"
        )
    if report.errors:
        raise typer.Exit(1)


def _notice(message: str) -> None:
    output.note(f"mailidx: {message}")


def committed_lines(con, held_before: int | None, counted: int) -> int:
    """The lines a failed build committed, as the index tells it: an interrupt that lands
    just after a COMMIT fails the statement after it, so the build's own count can be one
    batch short. The count is the fallback where the index can no longer answer."""
    from mailidx import store

    held_now = store.line_count(con)
    if held_before is None or held_now is None:
        return counted
    return held_now - held_before


def build_failure(path: str, exc: BaseException, report, interrupted: bool) -> BaseException:
    """What a build that stopped part way says: one line, with the lines it committed."""
    from mailidx import store

    if interrupted or isinstance(exc, (KeyboardInterrupt, Interrupted)):
        return Interrupted(
            f"interrupted; {report.lines:,} lines committed, run build again to continue"
        )
    if isinstance(exc, MailidxError):
        return exc
    if isinstance(exc, OSError) or "duckdb" in type(exc).__module__:
        return store.failure(path, exc, committed=report.lines)
    return exc


class Interruptible:
    """Ctrl-C or SIGTERM during a build: the running statement is interrupted (its batch
    rolls back) and the build stops before the next one."""

    def __init__(self) -> None:
        self.con = None
        self.hit = False
        self.before: dict = {}

    def handle(self, signum, frame) -> None:
        self.hit = True
        if self.con is not None:
            with contextlib.suppress(Exception):
                self.con.interrupt()

    def __enter__(self) -> Interruptible:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self.before[signum] = signal.signal(signum, self.handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self.before.items():
            signal.signal(signum, handler)


class progress_bar:
    """A rich progress bar over the bytes to read, on a terminal, for runs that take a while."""

    def __init__(self, paths: list[str], quiet: bool) -> None:
        self.enabled = not quiet and sys.stderr.isatty()
        self.total = sum(_size(p) for p in paths)
        self.bar = None

    def __enter__(self):
        if not self.enabled or self.total < (64 << 20):
            return None
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.bar = Progress(
            "indexing",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            transient=True,
        )
        self.bar.start()
        task = self.bar.add_task("index", total=self.total)
        return lambda n: self.bar.advance(task, n)

    def __exit__(self, *exc) -> None:
        if self.bar:
            self.bar.stop()


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


@app.command()
def watch(
    paths: list[str] = typer.Argument(
        None, help="Log files or quoted globs ('/var/log/maillog*'), followed as they rotate"
    ),
    journal: bool = typer.Option(
        False, "--journal", help="Follow Postfix's entries in the systemd journal"
    ),
    journal_file: list[str] = JournalFileOption,
    journal_dir: str | None = JournalDirOption,
    since: str | None = SinceJournalOption,
    db: str | None = DbOption,
    poll: bool = typer.Option(False, "--poll", help="Poll the files instead of using inotify"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No status line; only notices"),
    tz: str | None = typer.Option(None, help="Zone of times without an offset [default: local]"),
    year: int | None = typer.Option(None, help="Year of the first year-less line of each file"),
    interval: float = typer.Option(
        0.75, min=0.05, help="Seconds between batches under load (latency against CPU)"
    ),
    wait: bool = typer.Option(
        False, "--wait", help="No log file yet: wait for one to appear (default: exit 1)"
    ),
) -> None:
    """Index continuously as the log files grow and rotate (or as the journal grows); readers
    get in between batches."""
    import signal

    from mailidx.ingest import journalctl as journals
    from mailidx.ingest import sources
    from mailidx.watch import follow
    from mailidx.watch import journal as journal_follow
    from mailidx.watch import watcher as watching
    from mailidx.watch.batch import WatchError

    zone = tz or local_zone()
    source, start = pick_journal(journal, journal_file, journal_dir, since, zone)
    if source is not None and paths:
        raise typer.BadParameter("watch follows log files or the journal, not both at once")
    patterns = list(paths or sources.DEFAULT_GLOBS)
    options = watching.WatchOptions(tz=zone, year=year, interval=interval, poll=poll)
    if os.environ.get("MAILIDX_BATCH_BYTES"):  # small batches, for tests
        options.batch_bytes = int(os.environ["MAILIDX_BATCH_BYTES"])
    line = StatusLine(enabled=not quiet and sys.stderr.isatty())
    path = db_path(db)
    try:
        if source is not None:
            watcher = journal_follow.Follower(path, source, options, line.notice, line.show, start)
        else:
            follow.check_paths(patterns)
            if not wait and not follow.expand(patterns):
                where = (
                    "in /var/log (maillog*, mail.log*)" if not paths else "at " + ", ".join(paths)
                )
                fail(
                    f"no mail logs {where}; give the files to follow, or --wait for them to appear"
                )
            watcher = watching.Watcher(path, patterns, options, line.notice, line.show)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: watcher.stop())
        status = watcher.run()
    except (WatchError, IndexError_, journals.JournalError) as exc:
        line.clear()
        fail(exc)
    line.clear()
    if not quiet:
        output.note(
            f"stopped: {status.lines:,} lines, {status.events:,} events indexed into {path}"
        )


class StatusLine:
    """One line on stderr, redrawn in place on a terminal; notices print above it."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.drawn = 0.0

    def show(self, status) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.drawn < 0.5:
            return
        self.drawn = now
        text = (
            f"watching {status.files} file{'' if status.files == 1 else 's'} · "
            f"{status.lines:,} lines · "
            f"{status.rate:,.0f} lines/s · lag {status.lag_bytes:,} bytes, "
            f"{status.lag_seconds:.1f} s"
        )
        if status.holder:
            text += f" · waiting {status.blocked_seconds:.0f} s for {status.holder} to close"
        sys.stderr.write("\r\x1b[2K" + text)
        sys.stderr.flush()

    def notice(self, message: str) -> None:
        self.clear()
        output.note(f"mailidx: {message}")

    def clear(self) -> None:
        if self.enabled and self.drawn:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()
            self.drawn = 0.0


@app.command()
def status(db: str | None = DbOption, fmt: str | None = FormatOption) -> None:
    """Indexed files (the path each has now, and the first one if a rotation renamed it),
    offsets, fingerprints, counts, time range and size of the index."""
    from mailidx import store

    path = db_path(db)
    fmt = pick_format(fmt)
    try:
        con = store.connect(path, read_only=True, current=False)
    except IndexError_ as exc:
        fail(exc)
    files = con.execute(
        """SELECT path, CASE WHEN first_path <> path THEN first_path END AS renamed_from,
                  bytes_done AS bytes, lines_done AS lines,
                  (SELECT count(*) FROM lines l WHERE l.file_id = f.file_id
                      AND kind = 'unparsed') AS unparsed,
                  sha256(head)[:16] AS fingerprint, last_indexed
           FROM files f ORDER BY file_id"""
    )
    columns = [d[0] for d in files.description]
    rows = files.fetchall()
    totals = con.execute(
        """SELECT (SELECT count(*) FROM lines), (SELECT count(*) FROM events),
                  (SELECT count(*) FROM lines WHERE kind = 'unparsed'),
                  (SELECT count(*) FROM lines WHERE kind = 'foreign'),
                  (SELECT min(ts) FROM lines), (SELECT max(ts) FROM lines)"""
    ).fetchall()[0]
    con.close()
    summary = dict(zip(("lines", "events", "unparsed", "foreign", "first", "last"), totals))
    summary["db"] = path
    summary["db_bytes"] = store.db_size(path)
    if fmt == "json":
        import json

        print(
            json.dumps(
                output.jsonable({"files": [dict(zip(columns, r)) for r in rows], **summary}),
                indent=2,
            )
        )
        return
    output.render(columns, rows, fmt, title="indexed files" if fmt == "table" else None)
    if fmt == "table":
        output.render(["", "index"], [[k, v] for k, v in summary.items()], fmt)
    else:
        output.note(", ".join(f"{k}={output.cell_text(v)}" for k, v in summary.items()))


TABLE_MAX_ROWS = 500


@app.command()
def sql(
    query: str | None = typer.Argument(None, help="SQL to run; none: read stdin or a --file"),
    file: Path | None = typer.Option(None, "--file", "-f", help="Run the SQL in this file"),
    param: list[str] = typer.Option(
        [], "--param", "-p", help="A bound parameter: -p NAME VALUE (or NAME=VALUE), as $NAME"
    ),
    write: bool = typer.Option(False, "--write", help="Open the index for writing"),
    lake: str | None = typer.Option(
        None, "--lake", help="Query a `mailidx export` folder (all its hosts), not the index"
    ),
    db: str | None = DbOption,
    fmt: str | None = FormatOption,
) -> None:
    """Run SQL against the index (read-only unless --write); the last statement's rows print."""
    import duckdb

    if file is not None:
        try:
            query = file.read_text()
        except OSError as exc:
            fail(f"{file}: cannot read: {exc.strerror or exc}")
    if lake is not None and write:
        raise typer.BadParameter("a lake is read-only", param_hint="--write")
    if query is None and sys.stdin.isatty():
        return interactive(db_path(db), write, fmt, lake)
    if query is None:
        query = sys.stdin.read()
    params = {}
    for item in param:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise typer.BadParameter("use NAME=VALUE", param_hint="--param")
        params[name] = value
    fmt = pick_format(fmt)
    con = _open_for_sql(db_path(db), write, lake)
    started = time.monotonic()
    try:
        columns, rows = _run_statements(con, query, params)
    except duckdb.Error as exc:
        fail(_sql_error(exc))
    finally:
        con.close()
    shown = rows
    if fmt == "table" and len(rows) > TABLE_MAX_ROWS:
        shown = rows[:TABLE_MAX_ROWS]
    output.render(columns, shown, fmt)
    if len(shown) < len(rows):
        output.note(f"{len(rows) - len(shown)} more rows not shown; add LIMIT, or use --format csv")
    if fmt == "table":
        output.note(f"{len(rows)} rows in {time.monotonic() - started:.3f} s")


def _open_for_sql(path: str, write: bool, lake: str | None):
    """The index (any version: any SQL), or DuckDB in memory with the views over a lake."""
    from mailidx import store

    if lake is not None:  # sqlglot only here: `mailidx sql` on the index starts without it
        from mailidx.lake import export
        from mailidx.lake import views as lakes

        try:
            return lakes.connect(lake)
        except (lakes.LakeError, export.ExportError) as exc:
            fail(str(exc))
    try:
        return store.connect(path, read_only=not write, current=False)
    except IndexError_ as exc:
        fail(exc)


def interactive(path: str, write: bool, fmt: str | None, lake: str | None = None) -> None:
    from mailidx import shell

    con = _open_for_sql(path, write, lake)
    session = shell.Shell(con, lake or path, write=write)
    if fmt:
        session.mode = pick_format(fmt)
    try:
        session.loop()
    finally:
        con.close()


def _run_statements(con, text: str, params: dict) -> tuple[list[str], list]:
    """Every statement of ``text`` in turn; the rows of the last one that returns any."""
    statements = con.extract_statements(text)
    columns, rows = [], []
    for statement in statements:
        needed = set(statement.named_parameters)
        cur = con.execute(statement, {k: v for k, v in params.items() if k in needed} or None)
        if cur.description:
            columns = [d[0] for d in cur.description]
            rows = cur.fetchall()
    return columns, rows


@app.command()
def query(
    name: str | None = typer.Argument(None, help="Which query (see --list)"),
    list_: bool = typer.Option(False, "--list", help="The queries, one line each"),
    reason: str | None = typer.Option(None, help="Reason category: size, unknown_user, …"),
    since: str | None = typer.Option(None, help="From: 2h, 7d, today, yesterday, ISO time"),
    until: str | None = typer.Option(None, help="Until (same forms as --since)"),
    sender: str | None = typer.Option(None, help="Envelope sender (SQL LIKE: %@example.com)"),
    recipient: str | None = typer.Option(None, help="Recipient (SQL LIKE)"),
    domain: str | None = typer.Option(None, help="Recipient domain"),
    client: str | None = typer.Option(None, help="Client IP or host name (LIKE)"),
    relay: str | None = typer.Option(None, help="Relay host (LIKE) or IP"),
    host: str | None = typer.Option(None, help="Postfix server (syslog host)"),
    limit: int = typer.Option(100, min=0, max=MAX_ROWS, help="At most this many rows"),
    count: bool = typer.Option(False, "--count", help="Only the number of rows (no --limit)"),
    by: str | None = typer.Option(
        None, "--by", help="Count the rows per domain, reason, day or relay (no --limit)"
    ),
    tz: str | None = typer.Option(None, help="Zone of times without an offset"),
    db: str | None = DbOption,
    fmt: str | None = FormatOption,
) -> None:
    """Canned queries: bounced, deferred, rejected, top-domains, reasons, …"""
    from mailidx import store
    from mailidx.answers import queries

    if by is not None and by not in queries.BY:
        raise typer.BadParameter(f"choose one of {', '.join(queries.BY)}", param_hint="--by")
    try:
        if list_ or name is None:
            rows = [
                [q.name, q.help, " ".join("--" + f for f in q.filters)]
                for q in queries.catalog().values()
            ]
            output.render(["query", "what", "filters"], rows, pick_format(fmt))
            return
        q = queries.get(name)
        zone = tz or local_zone()
        given = {
            "reason": reason,
            "sender": sender,
            "recipient": recipient,
            "domain": domain,
            "client": client,
            "relay": relay,
            "host": host,
            "limit": limit,
            "since": _when(since, zone, "--since"),
            "until": _when(until, zone, "--until"),
        }
        params = queries.bind(q, given)
        con = store.connect(db_path(db), read_only=True)
        try:
            names = queries.reason_names(con)
            if reason is not None and reason not in names:
                raise queries.QueryError(
                    f"no reason category {reason!r}; choose one of: {', '.join(names)}"
                )
            if count or by:
                con.execute("SET TimeZone = ?", [zone])  # --by day: the user's days
                columns, rows = queries.count(con, q, params, by)
            else:
                columns, rows = queries.run(con, q, params)
        finally:
            con.close()
    except (queries.QueryError, IndexError_) as exc:
        fail(exc)
    if by is None and count and fmt in (None, "table", "csv"):
        print(rows[0][0])  # the one-line answer
        return
    output.render(columns, rows, pick_format(fmt))


@app.command()
def trace(
    term: str = typer.Argument(..., help="Queue ID, Message-ID, address, or client IP/host"),
    lines: bool = typer.Option(True, "--lines/--no-lines", help="Show the original log lines"),
    since: str | None = typer.Option(None, help="From: 2h, 7d, today, yesterday, ISO time"),
    until: str | None = typer.Option(None, help="Until (same forms as --since)"),
    tz: str | None = typer.Option(None, help="Zone of times without an offset"),
    db: str | None = DbOption,
    fmt: str | None = typer.Option(None, "--format", help="text (default) or json"),
) -> None:
    """The whole story of every message matching TERM, across all its queue IDs."""
    import json

    from mailidx import store
    from mailidx.answers import queries
    from mailidx.answers import trace as tracing

    try:
        zone = tz or local_zone()
        window = tracing.Window(
            _when(since, zone, "--since"),
            _when(until, zone, "--until"),
        )
        con = store.connect(db_path(db), read_only=True)
        stories = tracing.stories(con, term, window, with_lines=lines)
        con.close()
    except (queries.QueryError, IndexError_) as exc:
        fail(exc)
    if not stories:
        fail(f"nothing in the index matches {term!r} (a queue ID, Message-ID, address or client)")
    if fmt == "json":
        data = [output.jsonable(tracing.as_data(s)) for s in stories]
        print(json.dumps(data, indent=2))
    elif fmt in (None, "text", "table"):
        output.render_stories(stories, with_lines=lines)
    else:
        raise typer.BadParameter("choose text or json", param_hint="--format")


@app.command()
def summary(
    since: str | None = typer.Option(None, help="From: 2h, 7d, today, yesterday, ISO time"),
    until: str | None = typer.Option(None, help="Until (same forms as --since)"),
    limit: int = typer.Option(10, min=0, max=MAX_ROWS, help="Rows in each top list"),
    host: str | None = typer.Option(None, help="Only this Postfix server (syslog host)"),
    tz: str | None = typer.Option(None, help="Zone of times without an offset"),
    db: str | None = DbOption,
    fmt: str | None = typer.Option(
        None, "--format", help="table (default), json (every section), csv or jsonl (one --section)"
    ),
    section: str | None = typer.Option(
        None, help="One section only: totals (the default for csv and jsonl), per_day, …"
    ),
) -> None:
    """A pflogsumm-class report: totals, traffic per day and hour, top lists, problems."""
    import json

    from mailidx import store
    from mailidx.answers import queries
    from mailidx.answers import summary as summarise

    if fmt not in (None, "table", "json", "csv", "jsonl"):
        raise typer.BadParameter("choose table, json, csv or jsonl", param_hint="--format")
    if section is not None and section not in summarise.SECTION_NAMES:
        raise typer.BadParameter(
            f"choose one of {', '.join(summarise.SECTION_NAMES)}", param_hint="--section"
        )
    try:
        zone = tz or local_zone()
        start = _when(since, zone, "--since")
        end = _when(until, zone, "--until")
        con = store.connect(db_path(db), read_only=True)
        report = summarise.report(con, start, end, limit, host)
        con.close()
    except (queries.QueryError, IndexError_) as exc:
        fail(exc)
    if fmt in ("csv", "jsonl"):
        columns, rows = summarise.section_rows(report, section or "totals")
        output.render(columns, rows, fmt)
    elif fmt == "json":
        print(json.dumps(output.jsonable(report[section] if section else report), indent=2))
    else:
        output.render_summary(report, section=section)


@app.command()
def report(
    html: str | None = typer.Option(None, "--html", help="Write the page to FILE (- = stdout)"),
    since: str | None = typer.Option(None, help="From: 2h, 7d, today, yesterday, ISO time"),
    until: str | None = typer.Option(None, help="Until (same forms as --since)"),
    host: str | None = typer.Option(None, help="Only this Postfix server (syslog host)"),
    limit: int = typer.Option(10, help="Rows in each top list"),
    mail_to: list[str] = typer.Option(None, "--mail-to", help="Mail the report to ADDR"),
    mail_from: str | None = typer.Option(None, "--mail-from", help="From: of the mail"),
    subject: str | None = typer.Option(None, help="Title of the page and Subject: of the mail"),
    sendmail: str = typer.Option("/usr/sbin/sendmail", help="Program that sends the mail (-t)"),
    tz: str | None = typer.Option(None, help="Zone of times without an offset, and of the page"),
    db: str | None = DbOption,
) -> None:
    """One self-contained HTML page with charts (--html FILE), or mailed (--mail-to ADDR)."""
    import io
    import threading

    from mailidx import store
    from mailidx.answers import mail, page, queries
    from mailidx.answers import report as reporting
    from mailidx.answers import summary as summarise

    if not html and not mail_to:
        raise typer.BadParameter(
            "give --html FILE (or -) and/or --mail-to ADDR", param_hint="--html"
        )
    threading.Thread(target=page.preload, daemon=True).start()
    try:
        zone = tz or local_zone()
        start = queries.parse_when(since, zone) if since else None
        end = queries.parse_when(until, zone) if until else None
        con = store.connect(db_path(db), read_only=True)
        try:
            win = reporting.window(con, start, end, host, zone)
            data = reporting.gather(con, win, limit)
            text = None
            if mail_to:
                text = io.StringIO()
                output.render_summary(summarise.report(con, start, end, limit, host), text)
        finally:
            con.close()
    except (queries.QueryError, IndexError_) as exc:
        fail(str(exc))
    title = subject or page.default_title(win)
    document = page.render(data, win, title)
    if html == "-":
        sys.stdout.write(document)
    elif html:
        try:
            Path(html).write_text(document, encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {html}: {exc.strerror}")
    if mail_to:
        try:
            mail.send(mail.message(mail_to, title, text.getvalue(), document, mail_from), sendmail)
        except mail.MailError as exc:
            fail(str(exc))


@app.command()
def schema(
    view: str | None = typer.Argument(None, help="One view or table (default: all)"),
    db: str | None = DbOption,
    fmt: str | None = typer.Option(None, "--format", help="table, csv, json, jsonl or markdown"),
) -> None:
    """The views and tables to query, with a line on every column."""
    from mailidx.answers import schema as schema_mod

    markdown = fmt == "markdown"
    fmt = "table" if markdown else pick_format(fmt)
    try:
        con = schema_mod.open_schema(db_path(db))
    except IndexError_ as exc:
        fail(exc)
    names = schema_mod.PUBLIC if view is None else (view,)
    relations = schema_mod.describe(con, names)
    con.close()
    if view is not None and not relations:
        fail(f"no view or table {view!r}; choose one of: {', '.join(schema_mod.PUBLIC)}")
    if markdown:
        sys.stdout.write(schema_mod.markdown(relations))
        return
    if view is None:
        rows = [[r.name, r.kind, r.description] for r in relations]
        output.render(["name", "kind", "description"], rows, fmt)
        return
    rel = relations[0]
    if fmt == "table":
        output.note(f"{rel.name} ({rel.kind}): {rel.description}")
    rows = [[c.name, c.type, c.description] for c in rel.columns]
    output.render(["column", "type", "description"], rows, fmt)


def _sql_error(exc: Exception) -> str:
    from mailidx import store

    text = " ".join(str(exc).split())
    if "read-only" in text.lower() or "read only" in text.lower():
        return f"{text} (the index opens read-only: add --write to change it)"
    if store.refused_read_only(exc):
        hint = "a read-only session reads only the index: add --write to write, or to read "
        hint += "other files"
        return f"{text} ({hint})"
    return text


def _utc_day(text: str, zone: str, *, end: bool = False) -> str:
    """The UTC day (yyyy-mm-dd) a --since/--until/--before time falls in; with ``end``, the
    first day that starts at or after it (so [since, until) covers every day it touches)."""
    import datetime as dt

    from mailidx.answers import queries

    when = queries.parse_when(text, zone).astimezone(dt.timezone.utc)
    day = when.date()
    if end and when != dt.datetime.combine(day, dt.time(), dt.timezone.utc):
        day += dt.timedelta(days=1)
    return day.isoformat()


@app.command("export")
def export_lake(
    lake: str = typer.Argument(
        ..., metavar="DIR", help="Folder of the lake (created when missing), or an s3:// URL"
    ),
    since: str | None = typer.Option(None, help="From this day on (UTC days; 7d, 2026-11-27)"),
    until: str | None = typer.Option(None, help="Days before this time (today: the closed days)"),
    host: list[str] = typer.Option([], "--host", help="Only this host (repeatable)"),
    views: str | None = typer.Option(
        None, "--views", help="Print the lake's views for duckdb, spark or clickhouse; no export"
    ),
    location: str | None = typer.Option(
        None, "--location", help="With --views: where the engine reads the lake (s3://bucket/lake)"
    ),
    tz: str | None = typer.Option(None, help="Zone of --since/--until dates [default: local]"),
    db: str | None = DbOption,
) -> None:
    """Write the index as Hive-partitioned Parquet (DIR/TABLE/host=H/day=D/), only what changed."""
    from mailidx import store
    from mailidx.answers import queries
    from mailidx.lake import export
    from mailidx.lake import views as lakes

    if views is not None:
        try:
            sys.stdout.write(lakes.script(lake, views, location))
        except (lakes.LakeError, export.ExportError) as exc:
            fail(str(exc))
        return
    zone = tz or local_zone()
    try:
        scope = export.Scope(
            since=_utc_day(since, zone) if since else None,
            until=_utc_day(until, zone, end=True) if until else None,
            hosts=host or None,
        )
        con = store.connect(db_path(db), read_only=True, locked=False)  # it writes the lake
        # capped like a build: DuckDB spills past it (1 M lines: 1.2 GB uncapped)
        con.execute(f"SET memory_limit = '{store.UPGRADE_MEMORY_MB}MB'")
        try:
            scope.frozen_before = export.frozen_before(con)
            report = export.export(con, lake, scope)
        finally:
            con.close()
        lakes.write_scripts(lake)
    except (queries.QueryError, IndexError_, export.ExportError, lakes.LakeError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{lake}: {exc.strerror or exc}")
    mb = report.bytes_written / 1e6
    output.note(
        f"{report.partitions_written} partitions written ({report.rows_written:,} rows, "
        f"{mb:.1f} MB), {report.partitions_unchanged} unchanged, "
        f"{report.partitions_removed} removed in {report.seconds:.1f} s"
    )


@app.command()
def prune(
    before: str = typer.Option(..., "--before", help="Remove days before this (90d, 2026-09-01)"),
    lake: str | None = typer.Option(
        None, "--export", help="First export to this lake; refuse unless it holds every day"
    ),
    tz: str | None = typer.Option(None, help="Zone of a --before date [default: local]"),
    db: str | None = DbOption,
) -> None:
    """Remove old days from the index (UTC days) and shrink the file."""
    from mailidx.answers import queries
    from mailidx.lake import export
    from mailidx.lake import retention as pruning
    from mailidx.lake import views as lakes

    zone = tz or local_zone()
    try:
        day = _utc_day(before, zone)
        report = pruning.prune(db_path(db), day, tz=zone, lake=lake)
    except (
        queries.QueryError,
        IndexError_,
        export.ExportError,
        lakes.LakeError,
        pruning.PruneError,
    ) as exc:
        fail(str(exc))
    output.note(
        f"pruned days before {report.before}: {report.lines_removed:,} lines removed, "
        f"{report.bytes_before / 1e6:.1f} MB → {report.bytes_after / 1e6:.1f} MB"
    )


def pair_params(argv: list[str]) -> list[str]:
    """`-p NAME VALUE` (two words, as the issue and psql users write it) becomes
    `-p NAME=VALUE`, the form typer takes for a repeatable option."""
    out, i = [], 0
    while i < len(argv):
        word = argv[i]
        if word in ("-p", "--param") and i + 2 < len(argv) and "=" not in argv[i + 1]:
            out += [word, f"{argv[i + 1]}={argv[i + 2]}"]
            i += 3
        else:
            out.append(word)
            i += 1
    return out


def main() -> None:
    """The one place an error becomes a line on stderr and an exit status."""
    sys.argv[1:] = pair_params(sys.argv[1:])
    try:
        result = app(standalone_mode=False, prog_name="mailidx")
        code = result if isinstance(result, int) else 0
    except MailidxError as exc:
        output.note(f"mailidx: {exc}")
        code = exc.exit_code
    except KeyboardInterrupt:
        output.note("mailidx: interrupted")
        code = 130
    except BrokenPipeError:  # `mailidx sql … | head`: the reader has what it wanted
        code = 0
    except Exception as exc:
        code = _report_unexpected(exc)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = code or 0
    finally:  # nothing more for a closed pipe (Python would complain at exit)
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(code)


def _when(text: str | None, zone: str, option: str):
    """--since/--until as an instant; a bad one is bad usage that names the option."""
    from mailidx.answers import queries

    if text is None:
        return None
    try:
        return queries.parse_when(text, zone)
    except queries.BadTime as exc:
        raise queries.BadTime(f"{option}: {exc}") from None


def _typer_error(name: str) -> type:
    """typer's own (vendored click) exception class of that name, found from a public one."""
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == name)


def _report_unexpected(exc: Exception) -> int:
    """Usage errors, typer's aborts and stray DuckDB errors: one line each, never a traceback
    for a user's mistake; anything else is a bug and keeps its traceback."""
    if isinstance(exc, _typer_error("ClickException")):
        if type(exc).__name__ == "NoArgsIsHelpError":
            sys.stderr.write(exc.format_message() + "\n")  # `mailidx` alone: the help
            return exc.exit_code
        ctx = getattr(exc, "ctx", None)
        command = ctx.command_path if ctx is not None else "mailidx"
        see = f" (see {command} --help)" if isinstance(exc, _typer_error("UsageError")) else ""
        output.note(f"{command}: {exc.format_message()}{see}")
        return exc.exit_code
    if isinstance(exc, typer.Abort):
        output.note("mailidx: aborted")
        return 1
    if "duckdb" in type(exc).__module__:
        from mailidx import store

        text = store.first_line(str(exc))
        if any(w in text.lower() for w in store.DAMAGE_WORDS):
            output.note(f"mailidx: {store.damaged('the index', exc)}")
        else:
            output.note(f"mailidx: {text}")
        return 1
    raise exc


if __name__ == "__main__":
    main()
