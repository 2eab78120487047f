"""The ``mailidx`` command: a thin layer of typer over the library modules."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import typer

from mailidx import output
from mailidx.store import IndexError_, default_db_path

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


def fail(message: str) -> None:
    """One line on stderr, exit status 1."""
    output.note(f"mailidx: {message}")
    raise typer.Exit(1)


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
    paths: list[str] = typer.Argument(None, help="Log files (plain, .gz, .bz2, .xz; - = stdin)"),
    db: str | None = DbOption,
    tz: str | None = typer.Option(None, help="Zone of times without an offset [default: local]"),
    year: int | None = typer.Option(None, help="Year of the first year-less line of each file"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar, no summary"),
    batch_mb: int = typer.Option(
        64, "--batch-mb", min=1, help="Lines committed together, in MiB (memory ≈ 10× this)"
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
    try:
        con = store.open_for_writing(path, tz=zone, on_upgrade=_upgrading(path))
    except IndexError_ as exc:
        fail(str(exc))
    except Exception as exc:  # a bad --tz, for one
        fail(f"cannot use time zone {zone!r}: {exc}".splitlines()[0])
    options = indexer.Options(tz=zone, year=year, chunk_bytes=batch_mb << 20)
    if os.environ.get("MAILIDX_BATCH_BYTES"):  # byte-sized batches, for tests
        options.chunk_bytes = int(os.environ["MAILIDX_BATCH_BYTES"])
    if os.environ.get("MAILIDX_THREADS"):  # the benchmark's threads 1 and 2
        con.execute(f"SET threads = {int(os.environ['MAILIDX_THREADS'])}")
    with progress_bar(paths, quiet) as progress:
        try:
            report = indexer.build(con, paths, options, progress)
        except KeyboardInterrupt:
            con.close()
            fail("interrupted; the index holds every batch committed so far, run build again")
    con.close()
    if os.environ.get("MAILIDX_PROFILE"):  # the benchmark's phase breakdown
        import json

        phases = {k: [round(v, 3) for v in spent] for k, spent in indexer.PHASES.items()}
        output.note("mailidx: phases " + json.dumps(phases))
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
        fail(str(exc))
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
        fail(str(exc))
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
        fail(str(exc))
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
        fail(str(exc))
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
    limit: int = typer.Option(100, help="At most this many rows"),
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
            "since": queries.parse_when(since, zone) if since else None,
            "until": queries.parse_when(until, zone) if until else None,
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
        fail(str(exc))
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
            queries.parse_when(since, zone) if since else None,
            queries.parse_when(until, zone) if until else None,
        )
        con = store.connect(db_path(db), read_only=True)
        stories = tracing.stories(con, term, window, with_lines=lines)
        con.close()
    except (queries.QueryError, IndexError_) as exc:
        fail(str(exc))
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
    limit: int = typer.Option(10, help="Rows in each top list"),
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
        start = queries.parse_when(since, zone) if since else None
        end = queries.parse_when(until, zone) if until else None
        con = store.connect(db_path(db), read_only=True)
        report = summarise.report(con, start, end, limit)
        con.close()
    except (queries.QueryError, IndexError_) as exc:
        fail(str(exc))
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
        fail(str(exc))
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
    text = " ".join(str(exc).split())
    if "read-only" in text.lower() or "read only" in text.lower():
        return f"{text} (the index opens read-only: add --write to change it)"
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
    sys.argv[1:] = pair_params(sys.argv[1:])
    app()


if __name__ == "__main__":
    main()
