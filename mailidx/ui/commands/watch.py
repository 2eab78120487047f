"""`mailidx watch`: follow the log files (or the journal) as they grow and rotate, with a
status line on a terminal."""

from __future__ import annotations

import os
import signal
import sys

import typer

from mailidx.errors import MailidxError
from mailidx.ui import output
from mailidx.ui.options import (
    DbOption,
    JournalDirOption,
    JournalFileOption,
    LocalTzOption,
    SinceJournalOption,
    db_path,
    pick_journal,
    zone,
)
from mailidx.ui.terminal import StatusLine, fail


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
    tz: str | None = LocalTzOption,
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
    from mailidx.ingest import sources
    from mailidx.watch import follow
    from mailidx.watch import journal as journal_follow
    from mailidx.watch import watcher as watching

    tz = zone(tz)
    source, start = pick_journal(journal, journal_file, journal_dir, since, tz)
    if source is not None and paths:
        raise typer.BadParameter("watch follows log files or the journal, not both at once")
    patterns = list(paths or sources.DEFAULT_GLOBS)
    options = watching.WatchOptions(tz=tz, year=year, interval=interval, poll=poll)
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
    except MailidxError as exc:  # WatchError, IndexUnusable, JournalError, …
        line.clear()
        fail(exc)
    line.clear()
    if not quiet:
        output.note(
            f"stopped: {status.lines:,} lines, {status.events:,} events indexed into {path}"
        )
