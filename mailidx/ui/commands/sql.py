"""`mailidx sql`: SQL from an argument, a file or stdin through the shared executor, or the
interactive shell when there is none and stdin is a terminal."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from mailidx import executor
from mailidx.ui import output
from mailidx.ui.options import DbOption, FormatOption, db_path, pick_format
from mailidx.ui.terminal import fail

TABLE_MAX_ROWS = 500


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
    con = open_for_sql(db_path(db), write, lake)
    started = time.monotonic()
    try:
        columns, rows = executor.last_rows(con, query, params)
    except duckdb.Error as exc:
        fail(sql_error(exc, lake is not None))
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


def sql_error(exc: Exception, lake: bool = False) -> str:
    """A refused or failed statement on one line, with how to get past a read-only refusal."""
    text = executor.one_line(exc)
    if lake and executor.refused_read_only(exc):
        return f"{text} ({executor.LAKE_REFUSAL})"
    if "read-only" in text.lower() or "read only" in text.lower():
        return f"{text} (the index opens read-only: add --write to change it)"
    if executor.refused_read_only(exc):
        hint = "a read-only session reads only the index: add --write to write, or to read "
        hint += "other files"
        return f"{text} ({hint})"
    return text


def open_for_sql(path: str, write: bool, lake: str | None):
    """The index (any version: any SQL), or DuckDB in memory with the views over a lake."""
    from mailidx import store

    if lake is not None:  # sqlglot only here: `mailidx sql` on the index starts without it
        from mailidx.lake import views as lakes

        return lakes.connect(lake)  # a LakeError or ExportError: one line, exit 1
    return store.connect(path, read_only=not write, current=False)


def interactive(path: str, write: bool, fmt: str | None, lake: str | None = None) -> None:
    from mailidx.ui import shell

    con = open_for_sql(path, write, lake)
    session = shell.Shell(con, lake or path, write=write, lake=lake is not None)
    if fmt:
        session.mode = pick_format(fmt)
    try:
        session.loop()
    finally:
        con.close()
