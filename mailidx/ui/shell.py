"""`mailidx sql` without a query: an interactive SQL shell on prompt_toolkit.

Completion of SQL keywords, views, tables and columns (from the catalog, refreshed after DDL),
syntax highlighting, multi-line input that ends with `;`, persistent history, Ctrl-C cancels a
running query (not the shell), Ctrl-D leaves. SQL runs through the executor `mailidx sql` uses
(mailidx.executor), with the `$NAME` parameters `.param set` gave. Dot-commands live in one
registry (mailidx.ui.dotcommands) that `.help` prints.
"""

from __future__ import annotations

import os
import shlex
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from mailidx import executor
from mailidx.ui import dotcommands, output

KEYWORDS = (
    "SELECT FROM WHERE GROUP BY ORDER HAVING LIMIT OFFSET JOIN LEFT RIGHT FULL INNER OUTER ON "
    "USING AS AND OR NOT IN IS NULL LIKE ILIKE BETWEEN CASE WHEN THEN ELSE END DISTINCT COUNT "
    "SUM AVG MIN MAX WITH UNION ALL EXCEPT INTERSECT DESC ASC CREATE VIEW TABLE DROP INSERT "
    "INTO VALUES UPDATE SET DELETE DESCRIBE SUMMARIZE EXPLAIN ANALYZE QUALIFY FILTER OVER "
    "PARTITION WINDOW INTERVAL CAST TRY_CAST"
).split()
DDL = ("create", "drop", "alter", "comment")
WIDE_NOTE = "(rows wider than the screen are folded: .mode line shows one column per line)"


def state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return Path(base) / "mailidx"


class Shell:
    """One session over one open index (the connection is the caller's)."""

    def __init__(
        self, con, db_path: str, write: bool = False, out: TextIO | None = None, lake: bool = False
    ):
        self.con = con
        self.db_path = db_path
        self.write = write
        self.lake = lake  # a `--lake` session: DuckDB in memory over the lake's folder
        self.out = out or sys.stdout
        self.mode = "table"
        self.timer = False
        self.once: str | None = None
        self.output_path: str | None = None
        self.params: dict[str, str] = {}  # .param set NAME VALUE: $NAME in the SQL
        self.words: list[str] = []
        self.refresh_words()

    # -- the catalog, for completion ------------------------------------------------------
    def refresh_words(self) -> None:
        rows = self.con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE NOT internal"
        ).fetchall()
        names = {t for t, _ in rows} | {c for _, c in rows}
        self.words = sorted(names) + KEYWORDS + ["." + n for n in dotcommands.COMMANDS]

    # -- input --------------------------------------------------------------------------------
    @staticmethod
    def complete(text: str) -> bool:
        """Is the buffer a whole command: a dot-command, or SQL ending in `;`?"""
        stripped = text.strip()
        return not stripped or stripped.startswith(".") or stripped.endswith(";")

    def handle(self, text: str) -> bool:
        """Run one command; False when the user asked to leave."""
        stripped = text.strip()
        if not stripped:
            return True
        if stripped.startswith("."):
            return self.dot_command(stripped)
        self.run_sql(stripped)
        return True

    def dot_command(self, text: str) -> bool:
        try:
            words = shlex.split(text)
        except ValueError as exc:
            self.error(f"cannot read {text!r}: {exc}")
            return True
        name = words[0][1:]
        command = dotcommands.find(name)
        if command is None:
            self.error(f"no dot-command .{name}; .help lists them")
            return True
        return command.run(self, words[1:]) is not False

    # -- SQL ------------------------------------------------------------------------------------
    def run_sql(self, sql: str) -> None:
        import duckdb

        started = time.monotonic()
        try:
            columns, rows = self.interruptible(
                lambda: executor.last_rows(self.con, sql, self.params)
            )
        except KeyboardInterrupt:
            self.error("query cancelled")
            return
        except duckdb.Error as exc:
            message = executor.one_line(exc)
            if self.lake and executor.refused_read_only(exc):
                message += f" ({executor.LAKE_REFUSAL})"
            elif not self.write and executor.refused_read_only(exc):
                message += " (the shell opens the index read-only: start it with --write)"
            self.error(message)
            return
        if columns:
            self.show(columns, rows)
        if self.timer:
            output.note(f"{len(rows)} rows in {time.monotonic() - started:.3f} s")
        if self.write and sql.lstrip().lower().startswith(DDL):
            self.refresh_words()

    def interruptible(self, work: Callable):
        """Run work in a thread; Ctrl-C interrupts the query, not the shell."""
        result: dict = {}

        def target() -> None:
            try:
                result["value"] = work()
            except BaseException as exc:  # handed to the caller's thread
                result["error"] = exc

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        try:
            while thread.is_alive():
                thread.join(0.05)
        except KeyboardInterrupt:
            self.con.interrupt()
            thread.join()
            raise KeyboardInterrupt from None
        if "error" in result:
            error = result["error"]
            if "INTERRUPT" in str(error).upper():
                raise KeyboardInterrupt from None
            raise error
        return result["value"]

    # -- output -----------------------------------------------------------------------------
    def show(self, columns: list[str], rows: list) -> None:
        target = self.once or self.output_path
        self.once = None
        if target:
            mode = "w" if target != self.output_path else "a"
            with open(target, mode) as f:
                self.render(columns, rows, f)
        else:
            self.render(columns, rows, self.out)

    def render(self, columns: list[str], rows: list, out: TextIO) -> None:
        if self.mode == "line":
            width = max((len(c) for c in columns), default=0)
            for row in rows:
                for name, value in zip(columns, row):
                    out.write(f"{name:>{width}} = {output.safe_text(output.shown(name, value))}\n")
                out.write("\n")
            return
        output.render(columns, rows, self.mode, out)
        on_screen = out is self.out and self.mode == "table"
        if on_screen and rows and output.table_width(columns, rows) > output.width(out):
            output.note(WIDE_NOTE)

    def error(self, message: str) -> None:
        output.note(f"error: {message}")

    # -- the prompt -------------------------------------------------------------------------
    def session(self, input=None, output_=None):
        from prompt_toolkit import PromptSession
        from prompt_toolkit.completion import WordCompleter
        from prompt_toolkit.history import FileHistory, InMemoryHistory
        from prompt_toolkit.key_binding import KeyBindings
        from prompt_toolkit.key_binding.bindings.completion import (
            display_completions_like_readline,
        )
        from prompt_toolkit.lexers import PygmentsLexer
        from prompt_toolkit.shortcuts import CompleteStyle
        from pygments.lexers.sql import SqlLexer

        bindings = KeyBindings()

        @bindings.add("tab")
        def _complete(event) -> None:
            # readline's way, as psql and sqlite3 do: Tab completes the common part, Tab again
            # lists the candidates above a fresh prompt. A pop-up menu would cover the prompt
            # and the statement above the cursor in a short or narrow pane. (Bound here because
            # a multi-line prompt would insert a tab.)
            display_completions_like_readline(event)

        @bindings.add("enter")
        def _(event) -> None:
            buffer = event.current_buffer
            if self.complete(buffer.text):
                buffer.validate_and_handle()
            else:
                buffer.insert_text("\n")

        if input is None:
            state_dir().mkdir(parents=True, exist_ok=True)
            history = FileHistory(str(state_dir() / "history"))
        else:
            history = InMemoryHistory()
        completer = WordCompleter(lambda: self.words, ignore_case=True, WORD=True)
        return PromptSession(
            message="mailidx> ",
            multiline=True,
            key_bindings=bindings,
            history=history,
            completer=completer,
            complete_style=CompleteStyle.READLINE_LIKE,
            lexer=PygmentsLexer(SqlLexer),
            input=input,
            output=output_,
            prompt_continuation="     ...> ",
        )

    def loop(self, session=None) -> None:
        session = session or self.session()
        output.note(
            f"mailidx SQL shell on {self.db_path} ({'read-write' if self.write else 'read-only'});"
            " end statements with ;, .help for commands, Ctrl-D to leave"
        )
        while True:
            try:
                text = session.prompt()
            except KeyboardInterrupt:
                continue
            except EOFError:
                break
            if not self.handle(text):
                break
