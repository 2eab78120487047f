"""The docs keep in step with the CLI: every command and every option it has is in
docs/commands.md (in that command's row), and so is every dot-command of the shell; a short
option means one thing across commands, and the README's links lead to files that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.main import get_command

from mailidx.ui.cli import app

ROOT = Path(__file__).resolve().parents[1]
COMMANDS_DOC = ROOT / "docs" / "commands.md"
CLI = get_command(app)


def rows_of(command: str) -> str:
    """The commands table's rows for ``command`` (sql has two: one-shot and the shell)."""
    rows = [
        line
        for line in COMMANDS_DOC.read_text().splitlines()
        if line.startswith(f"| `mailidx {command}") and line[len(f"| `mailidx {command}")] in " `"
    ]
    return "\n".join(rows)


@pytest.mark.parametrize("command", sorted(CLI.commands))
def test_every_command_and_its_options_are_in_the_commands_doc(command):
    rows = rows_of(command)
    assert rows, f"docs/commands.md has no row for `mailidx {command}`"
    options = [
        opt
        for param in CLI.commands[command].params
        for opt in (*param.opts, *param.secondary_opts)
        if opt.startswith("--") and opt != "--db"  # --db: said once for every command
    ]
    missing = [opt for opt in options if not re.search(re.escape(opt) + r"(?![\w-])", rows)]
    assert missing == [], f"`mailidx {command}` options missing from docs/commands.md"


def test_every_dot_command_of_the_shell_is_in_the_shell_row_of_the_commands_doc():
    from mailidx.ui.dotcommands import COMMANDS

    shell_row = next(r for r in rows_of("sql").splitlines() if "interactive SQL shell" in r)
    names = {command.name for command in COMMANDS.values()}
    assert "param" in names  # the registry is the one the shell uses
    assert sorted(n for n in names if not re.search(rf"`\.{n}\b", shell_row)) == []


def test_the_commands_doc_names_no_command_the_cli_lacks():
    named = set(re.findall(r"^\| `mailidx ([a-z-]+)", COMMANDS_DOC.read_text(), re.M))
    assert named == set(CLI.commands)


def test_a_short_option_means_the_same_in_every_command():
    meaning: dict[str, set[str]] = {}
    for command in CLI.commands.values():
        for param in command.params:
            longs = [o for o in param.opts if o.startswith("--")]
            for short in (o for o in param.opts if re.fullmatch(r"-\w", o)):
                meaning.setdefault(short, set()).update(longs)
    assert {short: longs for short, longs in meaning.items() if len(longs) != 1} == {}
    assert meaning  # the CLI has short options at all (-q, -f, -p)


def test_the_readme_links_to_docs_that_exist():
    links = re.findall(r"\]\(((?:docs|examples)/[^)#]+)", (ROOT / "README.md").read_text())
    assert links
    assert [link for link in links if not (ROOT / link).exists()] == []
