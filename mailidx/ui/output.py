"""One renderer for every command: table, csv, json, jsonl.

Data goes to stdout, notes and errors to stderr. Log text is data: on a terminal, in every
format, it is shown as plain text (no rich markup) with control characters and bidirectional
overrides escaped (``\x1b``, ``\u202e``), so a line cannot restyle, drive or reorder the
terminal; CSV written to a pipe or a file stays byte-exact. Notes and errors are one line:
a newline in a file name shows as ``\n``.
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
# Unicode's bidirectional controls: embeddings, overrides, isolates, marks
BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
NEWLINE = re.compile("[\n\u2028\u2029\x85]")


def default_format(stream: TextIO | None = None) -> str:
    stream = stream or sys.stdout
    return "table" if stream.isatty() else "csv"


def safe_text(value: Any) -> str:
    """Text for a terminal: control characters (ESC included) shown as \\xNN, bidirectional
    controls as \\uNNNN (shown, not obeyed)."""
    text = value if isinstance(value, str) else str(value)
    text = CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return BIDI.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def one_line(value: Any) -> str:
    """safe_text that keeps to one line: newlines shown as \\x0a too."""
    return safe_text(NEWLINE.sub(lambda m: ascii(m.group())[1:-1], str(value)))


def is_terminal(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


def jsonable(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def json_text(value: Any, indent: int | None = 2) -> str:
    """Any answer (rows, a report, a story) as JSON text: times as ISO 8601, durations in
    seconds, decimals as numbers, bytes as text."""
    return json.dumps(jsonable(value), indent=indent)


def print_json(value: Any) -> None:
    print(json_text(value))


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value)


# Columns that hold an envelope address: shown to a person as Postfix writes them, so that the
# null sender of bounces (stored as '') and an address the log never gave (NULL, e.g. a client
# refused before MAIL FROM) are not blank cells. csv and json keep the stored values.
ADDRESS_COLUMNS = ("sender", "recipient")


def shown(column: str, value: Any) -> str:
    """A cell as a person reads it: the null sender as <>, a missing address as (unknown)."""
    if column in ADDRESS_COLUMNS:
        if value is None:
            return "(unknown)"
        if value == "" and column == "sender":
            return "<>"
    return cell_text(value)


def render(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fmt: str,
    out: TextIO | None = None,
    title: str | None = None,
) -> None:
    out = out or sys.stdout
    if fmt == "csv":
        # on a terminal the cells are escaped as in a table; into a pipe or file, byte-exact
        cell = (lambda v: safe_text(cell_text(v))) if is_terminal(out) else cell_text
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([cell(c) for c in columns])
        writer.writerows([cell(v) for v in row] for row in rows)
    elif fmt == "json":
        out.write(json_text([dict(zip(columns, row)) for row in rows]) + "\n")
    elif fmt == "jsonl":
        for row in rows:
            out.write(json_text(dict(zip(columns, row)), indent=None) + "\n")
    else:
        render_table(columns, rows, out, title)


MAX_CELL_LINES = 3  # a long cell (a reply) wraps into this many lines, then is cut with …


def render_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    out: TextIO,
    title: str | None = None,
    numeric: Sequence[str] = (),
    headers: Sequence[str] | None = None,
) -> None:
    """A table that fits the terminal: narrow columns keep their width, wide ones share what
    is left; a cell wraps into at most MAX_CELL_LINES lines and is cut with … after that.
    ``numeric`` columns are right-aligned, ``headers`` (when given) replace the column names on
    screen."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(file=out, highlight=False, soft_wrap=False)
    header = [safe_text(name) for name in (headers or columns)]
    cells = [[safe_text(shown(c, v)) for c, v in zip(columns, row)] for row in rows]
    natural = [
        max([len(name), *(_longest_line(row[i]) for row in cells)]) for i, name in enumerate(header)
    ]
    widths = column_widths(natural, console.width - 3 * len(header) - 1)
    table = Table(title=title, show_lines=False, header_style="bold")
    for name, column, width in zip(header, columns, widths):
        justify = "right" if column in numeric else "left"
        table.add_column(
            Text(name), width=width, no_wrap=True, overflow="ellipsis", justify=justify
        )
    for row in cells:
        table.add_row(*(Text(fit_cell(text, width)) for text, width in zip(row, widths)))
    console.print(table)


def _longest_line(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


def column_widths(natural: Sequence[int], room: int) -> list[int]:
    """Widths that add up to at most ``room``: the narrowest columns first get what they need,
    each of the others an equal share of what is left (water-filling)."""
    widths = [0] * len(natural)
    left = room
    order = sorted(range(len(natural)), key=lambda i: natural[i])
    for k, i in enumerate(order):
        share = max(left // (len(order) - k), 1)
        widths[i] = max(min(natural[i], share), 1)
        left -= widths[i]
    return widths


def fit_cell(text: str, width: int, max_lines: int = MAX_CELL_LINES) -> str:
    """``text`` wrapped at word boundaries to ``width``, in at most ``max_lines`` lines, the
    last one ending in … when text was left out."""
    import textwrap

    if len(text) <= width and "\n" not in text:
        return text
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        lines += textwrap.wrap(paragraph, width, break_on_hyphens=False) or [""]
        if len(lines) > max_lines:
            break
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: max(width - 1, 0)] + "…"
    return "\n".join(lines)


def width(out: TextIO) -> int:
    """The columns a table printed to ``out`` may take (rich's own idea of the terminal)."""
    from rich.console import Console

    return Console(file=out).width


def table_width(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
    """Columns a table needs to show every cell on one line (borders and padding included)."""
    widths = [len(c) for c in columns]
    for row in rows:
        for i, (c, v) in enumerate(zip(columns, row)):
            widths[i] = max(widths[i], len(safe_text(shown(c, v))))
    return sum(widths) + 3 * len(widths) + 1


def note(message: str) -> None:
    """A note for the user on stderr (never mixed into the data on stdout)."""
    sys.stderr.write(one_line(message) + "\n")
