"""`mailidx build`: index new lines of log files or of the journal, with a progress bar, a
clean stop on Ctrl-C, and one line saying what a failure kept."""

from __future__ import annotations

import os
import time

import typer

from mailidx.errors import IndexBusy, Interrupted, MailidxError, write_failure
from mailidx.ingest import files
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
from mailidx.ui.terminal import Interruptible, fail, notice, progress_bar

BUILD_WAIT = 10.0  # seconds build waits for a busy index (watch lets go between batches)
STREAM_WAIT = 10.0  # = sources.STREAM_WAIT (not imported: the other commands do not need it)
NOTHING_FOUND = (
    "no mail logs: looked in /var/log (maillog*, mail.log*) and the systemd journal ({why}); "
    "pass the log files (mailidx build FILE…) or --journal-file/--journal-dir, "
    "or try the bundled sample: mailidx build examples/maillog*"
)


def build(
    paths: list[str] = typer.Argument(
        None, help="Log files (plain, .gz, .bz2, .xz; - = stdin; FIFOs and pipes read last)"
    ),
    journal: bool = typer.Option(
        False, "--journal", help="Read Postfix's entries from the systemd journal (with a cursor)"
    ),
    journal_file: list[str] = JournalFileOption,
    journal_dir: str | None = JournalDirOption,
    since: str | None = SinceJournalOption,
    db: str | None = DbOption,
    tz: str | None = LocalTzOption,
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

    tz = zone(tz)
    paths = paths or []
    source, start = pick_journal(journal, journal_file, journal_dir, since, tz)
    if not paths and source is None:
        paths, source = look_for_logs()
    if source is not None:
        source.check()  # a JournalError: one line, exit 1
    path = db_path(db)
    options = indexer.Options(tz=tz, year=year, chunk_bytes=batch_mb << 20)
    options.stream_wait = stream_wait
    if os.environ.get("MAILIDX_BATCH_BYTES"):  # byte-sized batches, for tests
        options.chunk_bytes = int(os.environ["MAILIDX_BATCH_BYTES"])
    if os.environ.get("MAILIDX_REFRESH_AFTER"):  # refreshes part way through, for tests
        options.refresh_after = int(os.environ["MAILIDX_REFRESH_AFTER"])
    report, read = indexer.BuildReport(), None

    def waiting(busy: IndexBusy) -> None:
        output.note(  # a progress note, like the summary line: not an error
            f"waiting up to {wait:g} s for {busy.holder or 'another process'} to let go of "
            f"{path} (--wait)"
        )

    with Interruptible() as stop:
        con = store.open_for_writing(
            path, tz=tz, wait=wait, on_upgrade=upgrading(path), on_wait=waiting
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
                known = files.known_files(con)
                moved_files.record(con, moved_files.renamed(known, moved_files.heads(paths)))
            if source is not None:
                started = time.monotonic()
                read = journals.build(con, source, options.chunk_bytes, start, notice)
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
    tell(report, read, path, quiet, bool(paths))
    if report.errors:
        raise typer.Exit(1)


def tell(report, read, path: str, quiet: bool, had_paths: bool) -> None:
    """The warnings, errors and (unless --quiet) the one summary line of a finished build."""
    from mailidx.ingest import indexer

    for warning in report.warnings:
        notice(warning)
    if os.environ.get("MAILIDX_PROFILE"):  # the benchmark's phase breakdown
        phases = {k: [round(v, 3) for v in spent] for k, spent in indexer.PHASES.items()}
        notice("phases " + output.json_text(phases, indent=None))
    for error in report.errors:
        notice(error)
    if not quiet:
        parts = [f"{report.files} files"] if had_paths else []
        if read is not None:
            parts.append(f"journal: {read.entries:,} entries read")
        output.note(
            f"{', '.join(parts)}, {report.lines:,} lines, {report.events:,} events, "
            f"{report.unparsed:,} unparsed in {report.seconds:.1f} s "
            f"({report.lines_per_second:,.0f} lines/s) into {path}"
        )


def upgrading(path: str):
    """The note before an index written by another version gets its stored views again."""

    def say() -> None:
        notice(
            f"bringing {path} up to date for this version: re-creating its stored "
            "views (about 2 minutes for 20 M lines; once)"
        )

    return say


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
    notice("no mail log files in /var/log; reading Postfix's entries in the journal")
    return [], system


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
    if interrupted or isinstance(exc, (KeyboardInterrupt, Interrupted)):
        return Interrupted(
            f"interrupted; {report.lines:,} lines committed, run build again to continue"
        )
    if isinstance(exc, MailidxError):
        return exc
    if isinstance(exc, OSError) or "duckdb" in type(exc).__module__:
        return write_failure(path, exc, committed=report.lines)
    return exc
