"""The options several commands share: the index (--db), the output format (--format, checked
before any work), the time window (--since/--until/--tz) and the journal to read."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from mailidx import clock
from mailidx.errors import BadTime
from mailidx.ui import output

MAX_ROWS = (1 << 63) - 1  # the most a LIMIT takes

DbOption = typer.Option(
    None, "--db", help="Index file [env: MAILIDX_DB; default: ~/.local/share/mailidx/index.duckdb]"
)
FormatOption = typer.Option(None, "--format", help="table, csv, json or jsonl")
SinceOption = typer.Option(None, help="From: 2h, 7d, today, yesterday, ISO time")
UntilOption = typer.Option(None, help="Until (same forms as --since)")
TzOption = typer.Option(None, help="Zone of times without an offset")
LocalTzOption = typer.Option(None, help="Zone of times without an offset [default: local]")
HostOption = typer.Option(None, help="Only this Postfix server (syslog host)")

JournalFileOption = typer.Option(
    None, "--journal-file", help="A copied journal file to read (implies --journal; repeatable)"
)
JournalDirOption = typer.Option(
    None, "--journal-dir", help="A copied journal directory to read (implies --journal)"
)
SinceJournalOption = typer.Option(
    None, "--since", help="Journal: where the first import starts (2h, 7d, today, ISO time)"
)


def default_db_path() -> str:
    env = os.environ.get("MAILIDX_DB")
    if env:
        return env
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return os.path.join(data_home, "mailidx", "index.duckdb")


def db_path(db: str | None) -> str:
    return db or default_db_path()


def zone(tz: str | None) -> str:
    """--tz, or the machine's zone."""
    return tz or clock.local_zone()


def pick_format(fmt: str | None) -> str:
    """--format of the commands that print rows (table, csv, json, jsonl); the default is a
    table on a terminal and csv into a pipe."""
    if fmt is None:
        return output.default_format()
    check_format(fmt, output.FORMATS, f"choose one of {', '.join(output.FORMATS)}")
    return fmt


def check_format(fmt: str | None, allowed: tuple[str, ...], choose: str) -> None:
    """A --format the command does not print is bad usage, refused before any work."""
    if fmt is not None and fmt not in allowed:
        raise typer.BadParameter(choose, param_hint="--format")


def pick_journal(
    journal: bool, files: list[str] | None, directory: str | None, since: str | None, zone: str
):
    """The journal to read (None: no journal option given) and --since as journalctl takes it."""
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
            when = clock.parse_when(since, zone)
        except BadTime as exc:
            raise typer.BadParameter(str(exc), param_hint="--since") from None
        start = f"@{int(when.timestamp())}"
    return journals.Journal(files=tuple(files or ()), directory=directory), start
