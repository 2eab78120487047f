"""`mailidx sql` without a query: an interactive SQL shell on prompt_toolkit.

Completion of SQL keywords, views, tables and columns (from the catalog, refreshed after DDL),
syntax highlighting, multi-line input that ends with `;`, persistent history, Ctrl-C cancels a
running query (not the shell), Ctrl-D leaves. Dot-commands live in one registry that `.help`
prints.
"""

from __future__ import annotations

import os
import shlex
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from mailidx import output

KEYWORDS = (
    "SELECT FROM WHERE GROUP BY ORDER HAVING LIMIT OFFSET JOIN LEFT RIGHT FULL INNER OUTER ON "
    "USING AS AND OR NOT IN IS NULL LIKE ILIKE BETWEEN CASE WHEN THEN ELSE END DISTINCT COUNT "
    "SUM AVG MIN MAX WITH UNION ALL EXCEPT INTERSECT DESC ASC CREATE VIEW TABLE DROP INSERT "
    "INTO VALUES UPDATE SET DELETE DESCRIBE SUMMARIZE EXPLAIN ANALYZE QUALIFY FILTER OVER "
    "PARTITION WINDOW INTERVAL CAST TRY_CAST"
).split()
MODES = ("table", "csv", "json", "jsonl", "line")
DDL = ("create", "drop", "alter", "comment")
WIDE_NOTE = "(rows wider than the screen are folded: .mode line shows one column per line)"


def state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return Path(base) / "mailidx"


@dataclass
class DotCommand:
    name: str
    args: str
    help: str
    run: Callable[[Shell, list[str]], None]


REGISTRY: dict[str, DotCommand] = {}


def dot(name: str, args: str, help_text: str):
    def register(func: Callable[[Shell, list[str]], None]):
        REGISTRY[name] = DotCommand(name, args, help_text, func)
        return func

    return register


class Shell:
    """One session over one open index (the connection is the caller's)."""

    def __init__(self, con, db_path: str, write: bool = False, out: TextIO | None = None):
        self.con = con
        self.db_path = db_path
        self.write = write
        self.out = out or sys.stdout
        self.mode = "table"
        self.timer = False
        self.once: str | None = None
        self.output_path: str | None = None
        self.words: list[str] = []
        self.refresh_words()

    # -- the catalog, for completion ------------------------------------------------------
    def refresh_words(self) -> None:
        rows = self.con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE NOT internal"
        ).fetchall()
        names = {t for t, _ in rows} | {c for _, c in rows}
        self.words = sorted(names) + KEYWORDS + ["." + n for n in REGISTRY]

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
        if name in ("quit", "exit", "q!"):
            return False
        command = REGISTRY.get(name)
        if command is None:
            self.error(f"no dot-command .{name}; .help lists them")
            return True
        command.run(self, words[1:])
        return True

    # -- SQL ------------------------------------------------------------------------------------
    def run_sql(self, sql: str) -> None:
        import duckdb

        started = time.monotonic()
        try:
            columns, rows = self.interruptible(lambda: self._execute(sql))
        except KeyboardInterrupt:
            self.error("query cancelled")
            return
        except duckdb.Error as exc:
            from mailidx import store

            message = " ".join(str(exc).split())
            if not self.write and store.refused_read_only(exc):
                message += " (the shell opens the index read-only: start it with --write)"
            self.error(message)
            return
        if columns:
            self.show(columns, rows)
        if self.timer:
            output.note(f"{len(rows)} rows in {time.monotonic() - started:.3f} s")
        if self.write and sql.lstrip().lower().startswith(DDL):
            self.refresh_words()

    def _execute(self, sql: str):
        columns, rows = [], []
        for statement in self.con.extract_statements(sql):
            cur = self.con.execute(statement)
            if cur.description:
                columns = [d[0] for d in cur.description]
                rows = cur.fetchall()
        return columns, rows

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


# -- dot-commands ------------------------------------------------------------------------------


@dot("help", "", "this list")
def _help(shell: Shell, args: list[str]) -> None:
    rows = [[f".{c.name} {c.args}".strip(), c.help] for c in REGISTRY.values()]
    output.render(["command", "what it does"], rows, "table", shell.out)


@dot("views", "", "the views and tables to query")
def _views(shell: Shell, args: list[str]) -> None:
    from mailidx.answers import schema

    rows = [[r.name, r.kind, r.description] for r in schema.describe(shell.con)]
    shell.render(["name", "kind", "description"], rows, shell.out)


REGISTRY["tables"] = DotCommand("tables", "", "the same as .views", _views)


@dot("schema", "[VIEW]", "columns of a view with what each means")
def _schema(shell: Shell, args: list[str]) -> None:
    from mailidx.answers import schema

    if not args:
        return _views(shell, args)
    found = schema.describe(shell.con, (args[0],))
    if not found:
        shell.error(f"no view or table {args[0]!r}; .views lists them")
        return
    rows = [[c.name, c.type, c.description] for c in found[0].columns]
    shell.render(["column", "type", "description"], rows, shell.out)


@dot(
    "mode",
    "table|csv|json|jsonl|line",
    "how results print; line: one column = value per line, best for a wide row",
)
def _mode(shell: Shell, args: list[str]) -> None:
    if len(args) != 1 or args[0] not in MODES:
        shell.error(f"use .mode {'|'.join(MODES)} (now {shell.mode})")
        return
    shell.mode = args[0]


@dot("once", "FILE", "write the next result to FILE")
def _once(shell: Shell, args: list[str]) -> None:
    if len(args) != 1:
        shell.error("use .once FILE")
        return
    shell.once = args[0]


@dot("output", "[FILE]", "write results to FILE (no FILE: back to the screen)")
def _output(shell: Shell, args: list[str]) -> None:
    shell.output_path = args[0] if args else None
    if shell.output_path:
        Path(shell.output_path).write_text("")


@dot("timer", "on|off", "show how long each query took")
def _timer(shell: Shell, args: list[str]) -> None:
    if args not in (["on"], ["off"]):
        shell.error("use .timer on|off")
        return
    shell.timer = args == ["on"]


@dot("q", "NAME [--filter value …]", "run a canned query (mailidx query --list)")
def _query(shell: Shell, args: list[str]) -> None:
    from mailidx.answers import queries

    if not args:
        rows = [[q.name, q.help] for q in queries.catalog().values()]
        shell.render(["query", "what"], rows, shell.out)
        return
    given: dict = {"limit": 100}
    rest = args[1:]
    try:
        query = queries.get(args[0])
        while rest:
            flag = rest.pop(0)
            if not flag.startswith("--") or not rest:
                raise queries.QueryError(f"filters go as --name value (got {flag!r})")
            name, value = flag[2:], rest.pop(0)
            if name in ("since", "until"):
                value = queries.parse_when(value, _zone())
            elif name == "limit":
                value = int(value)
            given[name] = value
        params = queries.bind(query, given)
        columns, rows = shell.interruptible(lambda: queries.run(shell.con, query, params))
    except (queries.QueryError, ValueError) as exc:
        shell.error(str(exc))
        return
    shell.show(columns, rows)


@dot("trace", "TERM", "the story of a message (queue ID, Message-ID, address, client)")
def _trace(shell: Shell, args: list[str]) -> None:
    from mailidx.answers import trace

    if len(args) != 1:
        shell.error("use .trace TERM")
        return
    stories = shell.interruptible(lambda: trace.stories(shell.con, args[0]))
    if not stories:
        shell.error(f"nothing matches {args[0]!r}")
        return
    output.render_stories(stories, shell.out)


@dot("read", "FILE", "run the SQL in FILE")
def _read(shell: Shell, args: list[str]) -> None:
    if len(args) != 1:
        shell.error("use .read FILE")
        return
    try:
        text = Path(args[0]).read_text()
    except OSError as exc:
        shell.error(f"{args[0]}: cannot read: {exc.strerror or exc}")
        return
    shell.run_sql(text)


@dot("quit", "", "leave the shell (or Ctrl-D)")
def _quit(shell: Shell, args: list[str]) -> None:  # handled in dot_command
    pass


def _zone() -> str:
    from mailidx.cli import local_zone

    return local_zone()
