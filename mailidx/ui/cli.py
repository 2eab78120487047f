"""The ``mailidx`` command: the typer app, its commands (from mailidx.ui.commands), and
:func:`main`, the one place an error becomes a line on stderr and an exit status."""

from __future__ import annotations

import contextlib
import os
import sys

import typer

from mailidx import errors
from mailidx.errors import MailidxError
from mailidx.ui import output
from mailidx.ui.commands import answers, build, lake, sql, watch

app = typer.Typer(
    help="A local, SQL-queryable index of Postfix mail logs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(build.build)
app.command()(watch.watch)
app.command()(answers.status)
app.command()(sql.sql)
app.command()(answers.query)
app.command()(answers.trace)
app.command()(answers.summary)
app.command()(answers.report)
app.command()(answers.schema)
app.command("export")(lake.export_lake)
app.command()(lake.prune)


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
        text = errors.one_line(str(exc))
        if any(w in text.lower() for w in errors.DAMAGE_WORDS):
            output.note(f"mailidx: {errors.damaged('the index', exc)}")
        else:
            output.note(f"mailidx: {text}")
        return 1
    raise exc


if __name__ == "__main__":
    main()
