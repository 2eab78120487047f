"""One renderer for every command: table, csv, json, jsonl.

Data goes to stdout, notes and errors to stderr. Log text is data: in a table it is shown as
plain text (no rich markup) with control characters escaped, so a line cannot restyle or
drive the terminal.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
import re
import sys
from collections.abc import Sequence
from typing import Any, TextIO

FORMATS = ("table", "csv", "json", "jsonl")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def default_format(stream: TextIO | None = None) -> str:
    stream = stream or sys.stdout
    return "table" if stream.isatty() else "csv"


def safe_text(value: Any) -> str:
    """Text for a terminal: control characters (ESC included) shown as \\xNN."""
    text = value if isinstance(value, str) else str(value)
    return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value)


def render(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fmt: str,
    out: TextIO | None = None,
    title: str | None = None,
) -> None:
    out = out or sys.stdout
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_cell(v) for v in row] for row in rows)
    elif fmt == "json":
        json.dump([dict(zip(columns, map(_jsonable, row))) for row in rows], out, indent=2)
        out.write("\n")
    elif fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(dict(zip(columns, map(_jsonable, row)))) + "\n")
    else:
        render_table(columns, rows, out, title)


def render_table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], out: TextIO, title: str | None = None
) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, show_lines=False, header_style="bold")
    for name in columns:
        table.add_column(Text(safe_text(name)), overflow="fold")
    for row in rows:
        table.add_row(*(Text(safe_text(_cell(v))) for v in row))
    Console(file=out, highlight=False, soft_wrap=False).print(table)


def note(message: str) -> None:
    """A note for the user on stderr (never mixed into the data on stdout)."""
    sys.stderr.write(safe_text(message) + "\n")
