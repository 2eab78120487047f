"""The shell's dot-commands: one registry (name, aliases, usage, help) that `.help` prints and
completion offers; each handler owns its behaviour and returns False to leave the shell."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mailidx import clock
from mailidx.ui import output, trace_text

if TYPE_CHECKING:
    from mailidx.ui.shell import Shell

MODES = ("table", "csv", "json", "jsonl", "line")


@dataclass
class DotCommand:
    name: str
    args: str
    help: str
    run: Callable[[Shell, list[str]], bool | None]
    aliases: tuple[str, ...] = ()


COMMANDS: dict[str, DotCommand] = {}  # by name and by alias, in the order .help lists them
UNLISTED: dict[str, DotCommand] = {}  # other words for a command, neither listed nor offered


def dot(name: str, args: str, help_text: str, aliases: tuple[str, ...] = (), unlisted=()):
    def register(func: Callable[[Shell, list[str]], bool | None]):
        command = DotCommand(name, args, help_text, func, aliases)
        for key in (name, *aliases):
            COMMANDS[key] = command
        for key in unlisted:
            UNLISTED[key] = command
        return func

    return register


def find(name: str) -> DotCommand | None:
    return COMMANDS.get(name) or UNLISTED.get(name)


@dot("help", "", "this list")
def _help(shell: Shell, args: list[str]) -> None:
    rows = [
        [f".{c.name} {c.args}".strip(), c.help]
        if key == c.name
        else [f".{key}", f"the same as .{c.name}"]
        for key, c in COMMANDS.items()
    ]
    output.render(["command", "what it does"], rows, "table", shell.out)


@dot("views", "", "the views and tables to query", aliases=("tables",))
def _views(shell: Shell, args: list[str]) -> None:
    from mailidx.answers import schema

    rows = [[r.name, r.kind, r.description] for r in schema.describe(shell.con)]
    shell.render(["name", "kind", "description"], rows, shell.out)


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


PARAM_USAGE = "use .param set NAME VALUE, .param unset NAME, .param list or .param clear"


@dot(
    "param",
    "set NAME VALUE|unset NAME|list|clear",
    "$NAME in the SQL that follows (as mailidx sql -p NAME VALUE)",
    aliases=("parameter",),
)
def _param(shell: Shell, args: list[str]) -> None:
    verb, rest = (args[0], args[1:]) if args else ("list", [])
    names = [name.lstrip("$") for name in rest[:1]]
    if verb == "set" and len(rest) == 2 and names[0]:
        shell.params[names[0]] = rest[1]
    elif verb == "unset" and len(rest) == 1:
        shell.params.pop(names[0], None)
    elif verb == "clear" and not rest:
        shell.params.clear()
    elif verb == "list" and not rest:
        rows = [[f"${name}", value] for name, value in sorted(shell.params.items())]
        shell.render(["parameter", "value"], rows, shell.out)
    else:
        shell.error(PARAM_USAGE)


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
                value = clock.parse_when(value, clock.local_zone())
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
    trace_text.render(stories, shell.out)


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


@dot("quit", "", "leave the shell (or Ctrl-D)", unlisted=("exit", "q!"))
def _quit(shell: Shell, args: list[str]) -> bool:
    return False
