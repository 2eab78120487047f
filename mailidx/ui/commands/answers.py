"""The commands that read the index and answer: status, query, trace, summary, schema, and
report (an HTML page, or mailed)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from mailidx import clock
from mailidx.errors import IndexUnusable, QueryError
from mailidx.ui import output, summary_text, trace_text
from mailidx.ui.options import (
    MAX_ROWS,
    DbOption,
    FormatOption,
    HostOption,
    SinceOption,
    TzOption,
    UntilOption,
    check_format,
    db_path,
    pick_format,
    zone,
)
from mailidx.ui.terminal import fail, failing_plainly


def status(db: str | None = DbOption, fmt: str | None = FormatOption) -> None:
    """Indexed files (the path each has now, and the first one if a rotation renamed it),
    offsets, fingerprints, counts, time range and size of the index."""
    from mailidx import store

    path = db_path(db)
    fmt = pick_format(fmt)
    con = store.connect(path, read_only=True, current=False)
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
        output.print_json({"files": [dict(zip(columns, r)) for r in rows], **summary})
        return
    output.render(columns, rows, fmt, title="indexed files" if fmt == "table" else None)
    if fmt == "table":
        output.render(["", "index"], [[k, v] for k, v in summary.items()], fmt)
    else:
        output.note(", ".join(f"{k}={output.cell_text(v)}" for k, v in summary.items()))


def query(
    name: str | None = typer.Argument(None, help="Which query (see --list)"),
    list_: bool = typer.Option(False, "--list", help="The queries, one line each"),
    reason: str | None = typer.Option(None, help="Reason category: size, unknown_user, …"),
    since: str | None = SinceOption,
    until: str | None = UntilOption,
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
    tz: str | None = TzOption,
    db: str | None = DbOption,
    fmt: str | None = FormatOption,
) -> None:
    """Canned queries: bounced, deferred, rejected, top-domains, reasons, …"""
    from mailidx import store
    from mailidx.answers import queries

    if by is not None and by not in queries.BY:
        raise typer.BadParameter(f"choose one of {', '.join(queries.BY)}", param_hint="--by")
    shape = pick_format(fmt)
    if list_ or name is None:
        rows = [
            [q.name, q.help, " ".join("--" + f for f in q.filters)]
            for q in queries.catalog().values()
        ]
        output.render(["query", "what", "filters"], rows, shape)
        return
    q = queries.get(name)
    tz = zone(tz)
    given = {
        "reason": reason,
        "sender": sender,
        "recipient": recipient,
        "domain": domain,
        "client": client,
        "relay": relay,
        "host": host,
        "limit": limit,
        "since": clock.when(since, tz, "--since"),
        "until": clock.when(until, tz, "--until"),
    }
    params = queries.bind(q, given)
    con = store.connect(db_path(db), read_only=True)
    try:
        names = queries.reason_names(con)
        if reason is not None and reason not in names:
            raise QueryError(f"no reason category {reason!r}; choose one of: {', '.join(names)}")
        if count or by:
            con.execute("SET TimeZone = ?", [tz])  # --by day: the user's days
            columns, rows = queries.count(con, q, params, by)
        else:
            columns, rows = queries.run(con, q, params)
    finally:
        con.close()
    if by is None and count and fmt in (None, "table", "csv"):
        print(rows[0][0])  # the one-line answer
        return
    output.render(columns, rows, shape)


def trace(
    term: str = typer.Argument(..., help="Queue ID, Message-ID, address, or client IP/host"),
    lines: bool = typer.Option(True, "--lines/--no-lines", help="Show the original log lines"),
    since: str | None = SinceOption,
    until: str | None = UntilOption,
    tz: str | None = TzOption,
    db: str | None = DbOption,
    fmt: str | None = typer.Option(None, "--format", help="text (default) or json"),
) -> None:
    """The whole story of every message matching TERM, across all its queue IDs."""
    from mailidx import store
    from mailidx.answers import trace as tracing

    check_format(fmt, ("text", "table", "json"), "choose text or json")
    tz = zone(tz)
    window = tracing.Window(clock.when(since, tz, "--since"), clock.when(until, tz, "--until"))
    con = store.connect(db_path(db), read_only=True)
    stories = tracing.stories(con, term, window, with_lines=lines)
    con.close()
    if not stories:
        fail(f"nothing in the index matches {term!r} (a queue ID, Message-ID, address or client)")
    if fmt == "json":
        output.print_json([tracing.as_data(s) for s in stories])
    else:
        trace_text.render(stories, with_lines=lines)


def summary(
    since: str | None = SinceOption,
    until: str | None = UntilOption,
    limit: int = typer.Option(10, min=0, max=MAX_ROWS, help="Rows in each top list"),
    host: str | None = HostOption,
    tz: str | None = TzOption,
    db: str | None = DbOption,
    fmt: str | None = typer.Option(
        None, "--format", help="table (default), json (every section), csv or jsonl (one --section)"
    ),
    section: str | None = typer.Option(
        None, help="One section only: totals (the default for csv and jsonl), per_day, …"
    ),
) -> None:
    """A pflogsumm-class report: totals, traffic per day and hour, top lists, problems."""
    from mailidx import store
    from mailidx.answers import summary as summarise

    check_format(fmt, ("table", "json", "csv", "jsonl"), "choose table, json, csv or jsonl")
    if section is not None and section not in summarise.SECTION_NAMES:
        raise typer.BadParameter(
            f"choose one of {', '.join(summarise.SECTION_NAMES)}", param_hint="--section"
        )
    tz = zone(tz)
    start, end = clock.when(since, tz, "--since"), clock.when(until, tz, "--until")
    con = store.connect(db_path(db), read_only=True)
    report = summarise.report(con, start, end, limit, host)
    con.close()
    if fmt in ("csv", "jsonl"):
        columns, rows = summarise.section_rows(report, section or "totals")
        output.render(columns, rows, fmt)
    elif fmt == "json":
        output.print_json(report[section] if section else report)
    else:
        summary_text.render(report, section=section)


def schema(
    view: str | None = typer.Argument(None, help="One view or table (default: all)"),
    db: str | None = DbOption,
    fmt: str | None = typer.Option(None, "--format", help="table, csv, json, jsonl or markdown"),
) -> None:
    """The views and tables to query, with a line on every column."""
    from mailidx.answers import schema as schema_mod

    markdown = fmt == "markdown"
    formats = (*output.FORMATS, "markdown")
    check_format(fmt, formats, f"choose one of {', '.join(formats)}")
    fmt = "table" if markdown else pick_format(fmt)
    con = schema_mod.open_schema(db_path(db))
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


def report(
    html: str | None = typer.Option(None, "--html", help="Write the page to FILE (- = stdout)"),
    since: str | None = SinceOption,
    until: str | None = UntilOption,
    host: str | None = HostOption,
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
    from mailidx.answers import mail, page
    from mailidx.answers import report as reporting
    from mailidx.answers import summary as summarise

    if not html and not mail_to:
        raise typer.BadParameter(
            "give --html FILE (or -) and/or --mail-to ADDR", param_hint="--html"
        )
    threading.Thread(target=page.preload, daemon=True).start()
    with failing_plainly(QueryError, IndexUnusable):
        tz = zone(tz)
        start = clock.parse_when(since, tz) if since else None
        end = clock.parse_when(until, tz) if until else None
        con = store.connect(db_path(db), read_only=True)
        try:
            win = reporting.window(con, start, end, host, tz)
            data = reporting.gather(con, win, limit)
            text = None
            if mail_to:
                text = io.StringIO()
                summary_text.render(summarise.report(con, start, end, limit, host), text)
        finally:
            con.close()
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
        mail.send(mail.message(mail_to, title, text.getvalue(), document, mail_from), sendmail)
