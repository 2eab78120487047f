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


@app.command()
def build(
    paths: list[str] = typer.Argument(
        None, help="Log files (plain, .gz, .bz2, .xz; - = stdin; FIFOs and pipes read last)"
    ),
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
        help="Lines committed together, in MiB (memory ≈ 15× this)",
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
    """Index new lines of each log file; re-running adds only what is new."""
    from mailidx import indexer, sources, store

    if not paths:
        paths = sources.default_paths()
        if not paths:
            fail("no mail logs in /var/log (maillog*, mail.log*); give the files to index")
    path = db_path(db)
    zone = tz or local_zone()
    options = indexer.Options(tz=zone, year=year, chunk_bytes=batch_mb << 20)
    options.stream_wait = stream_wait
    if os.environ.get("MAILIDX_BATCH_BYTES"):  # byte-sized batches, for tests
        options.chunk_bytes = int(os.environ["MAILIDX_BATCH_BYTES"])
    report = indexer.BuildReport()

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
        try:
            if stop.hit:
                raise Interrupted("interrupted")
            with progress_bar(paths, quiet) as progress:
                indexer.build(con, paths, options, progress, report)
            con.close()
        except BaseException as exc:
            store.close_quietly(con)
            raise build_failure(path, exc, report, stop.hit) from None
    for warning in report.warnings:
        output.note(f"mailidx: {warning}")
    for error in report.errors:
        output.note(f"mailidx: {error}")
    if not quiet:
        output.note(
            f"{report.files} files, {report.lines:,} lines, {report.events:,} events, "
            f"{report.unparsed:,} unparsed in {report.seconds:.1f} s "
            f"({report.lines_per_second:,.0f} lines/s)"
        )
    if report.errors:
        raise typer.Exit(1)


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
    db: str | None = DbOption,
    poll: bool = typer.Option(False, "--poll", help="Poll the files instead of using inotify"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No status line; only notices"),
    tz: str | None = typer.Option(None, help="Zone of times without an offset [default: local]"),
    year: int | None = typer.Option(None, help="Year of the first year-less line of each file"),
    interval: float = typer.Option(
        0.75, min=0.05, help="Seconds between batches under load (latency against CPU)"
    ),
) -> None:
    """Index continuously as the log files grow and rotate; readers get in between batches."""
    import signal

    from mailidx import sources
    from mailidx import watch as watching

    patterns = list(paths or sources.DEFAULT_GLOBS)
    options = watching.WatchOptions(tz=tz or local_zone(), year=year, interval=interval, poll=poll)
    if os.environ.get("MAILIDX_BATCH_BYTES"):  # small batches, for tests
        options.batch_bytes = int(os.environ["MAILIDX_BATCH_BYTES"])
    line = StatusLine(enabled=not quiet and sys.stderr.isatty())
    try:
        watching.check_paths(patterns)
        watcher = watching.Watcher(db_path(db), patterns, options, line.notice, line.show)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: watcher.stop())
        status = watcher.run()
    except (watching.WatchError, IndexError_) as exc:
        line.clear()
        fail(exc)
    line.clear()
    if not quiet:
        output.note(f"stopped: {status.lines:,} lines, {status.events:,} events indexed")


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
    """Indexed files, offsets, fingerprints, counts, time range and size of the index."""
    from mailidx import store

    path = db_path(db)
    fmt = pick_format(fmt)
    try:
        con = store.connect(path, read_only=True, current=False)
    except IndexError_ as exc:
        fail(exc)
    files = con.execute(
        """SELECT path, bytes_done AS bytes, lines_done AS lines,
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
    db: str | None = DbOption,
    fmt: str | None = FormatOption,
) -> None:
    """Run SQL against the index (read-only unless --write); the last statement's rows print."""
    import duckdb

    from mailidx import store

    if file is not None:
        try:
            query = file.read_text()
        except OSError as exc:
            fail(f"{file}: cannot read: {exc.strerror or exc}")
    if query is None and sys.stdin.isatty():
        return interactive(db_path(db), write, fmt)
    if query is None:
        query = sys.stdin.read()
    params = {}
    for item in param:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise typer.BadParameter("use NAME=VALUE", param_hint="--param")
        params[name] = value
    fmt = pick_format(fmt)
    path = db_path(db)
    try:
        con = store.connect(path, read_only=not write, current=False)  # any SQL, any version
    except IndexError_ as exc:
        fail(exc)
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


def interactive(path: str, write: bool, fmt: str | None) -> None:
    from mailidx import shell, store

    try:
        con = store.connect(path, read_only=not write, current=False)
    except IndexError_ as exc:
        fail(exc)
    session = shell.Shell(con, path, write=write)
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
    tz: str | None = typer.Option(None, help="Zone of times without an offset"),
    db: str | None = DbOption,
    fmt: str | None = FormatOption,
) -> None:
    """Canned queries: bounced, deferred, rejected, top-domains, reasons, …"""
    from mailidx import queries, store

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
            columns, rows = queries.run(con, q, params)
        finally:
            con.close()
    except (queries.QueryError, IndexError_) as exc:
        fail(exc)
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

    from mailidx import queries, store
    from mailidx import trace as tracing

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
    tz: str | None = typer.Option(None, help="Zone of times without an offset"),
    db: str | None = DbOption,
    fmt: str | None = typer.Option(None, "--format", help="table (default) or json"),
) -> None:
    """A pflogsumm-class report: totals, traffic per day and hour, top lists, problems."""
    import json

    from mailidx import queries, store
    from mailidx import summary as summarise

    try:
        zone = tz or local_zone()
        start = _when(since, zone, "--since")
        end = _when(until, zone, "--until")
        con = store.connect(db_path(db), read_only=True)
        report = summarise.report(con, start, end, limit)
        con.close()
    except (queries.QueryError, IndexError_) as exc:
        fail(exc)
    if fmt == "json":
        print(json.dumps(output.jsonable(report), indent=2))
    elif fmt in (None, "table"):
        output.render_summary(report)
    else:
        raise typer.BadParameter("choose table or json", param_hint="--format")


@app.command()
def schema(
    view: str | None = typer.Argument(None, help="One view or table (default: all)"),
    db: str | None = DbOption,
    fmt: str | None = typer.Option(
        None, "--format", "-f", help="table, csv, json, jsonl or markdown"
    ),
) -> None:
    """The views and tables to query, with a line on every column."""
    from mailidx import schema as schema_mod

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
    from mailidx import queries

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
