"""One renderer: table, csv, json, jsonl; data on stdout, notes on stderr; log text inert."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import syslog_lines, write_lines

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

TRICKY = "SELECT '[bold]x[/bold] host[1.2.3.4]' AS a, chr(27) || '[31mred' || chr(7) AS b"


def test_table_shows_markup_and_escapes_as_plain_text(mailidx, tmp_path):
    write_lines(tmp_path / "maillog", syslog_lines(3))
    mailidx.build(tmp_path / "maillog")
    proc = mailidx.run("sql", "--format", "table", TRICKY)
    out = proc.stdout
    assert b"[bold]x[/bold] host[1.2.3.4]" in out
    assert b"\x1b" not in out and b"\x07" not in out and b"\\x1b[31mred\\x07" in out
    assert b"1 rows in" in proc.stderr and b"rows in" not in out


def test_every_format_carries_the_same_row(mailidx, tmp_path):
    write_lines(tmp_path / "maillog", syslog_lines(3))
    mailidx.build(tmp_path / "maillog")
    q = "SELECT 'a,b' AS x, 2 AS n, NULL AS z"
    assert mailidx.run("sql", "--format", "csv", q).stdout == b'x,n,z\n"a,b",2,\n'
    assert json.loads(mailidx.run("sql", "--format", "json", q).stdout) == [
        {"x": "a,b", "n": 2, "z": None}
    ]
    assert json.loads(mailidx.run("sql", "--format", "jsonl", q).stdout) == {
        "x": "a,b",
        "n": 2,
        "z": None,
    }


def test_an_unknown_format_is_bad_usage(mailidx, tmp_path):
    write_lines(tmp_path / "maillog", syslog_lines(3))
    mailidx.build(tmp_path / "maillog")
    proc = mailidx.run("sql", "--format", "xml", "SELECT 1", check=False)
    assert proc.returncode == 2 and b"Traceback" not in proc.stderr


def test_a_table_fits_the_terminal_with_long_replies_wrapped_then_cut(mailidx):
    """8 bounces on 80 columns: each row at most three lines, no line wider than the terminal,
    the replies cut with … (not one word per line)."""
    mailidx.build(*sorted(EXAMPLES.glob("maillog*")))
    proc = mailidx.run("query", "bounced", "--format", "table", env=mailidx.env(COLUMNS="80"))
    lines = proc.stdout.decode().splitlines()
    rows = len(mailidx.query("SELECT * FROM deliveries WHERE status = 'bounced'"))
    assert rows == 8
    assert max(len(line) for line in lines) <= 80
    body = lines[3:-1]  # between the header's rule and the bottom border
    assert rows <= len(body) <= 3 * rows
    assert sum("…" in line for line in body) >= rows  # each reply cut somewhere
