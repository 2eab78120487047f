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


def cell_text(value: Any) -> str:
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
        # on a terminal the cells are escaped as in a table; into a pipe or file, byte-exact
        cell = (lambda v: safe_text(cell_text(v))) if is_terminal(out) else cell_text
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([cell(c) for c in columns])
        writer.writerows([cell(v) for v in row] for row in rows)
    elif fmt == "json":
        json.dump([dict(zip(columns, map(jsonable, row))) for row in rows], out, indent=2)
        out.write("\n")
    elif fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(dict(zip(columns, map(jsonable, row)))) + "\n")
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
        table.add_row(*(Text(safe_text(cell_text(v))) for v in row))
    Console(file=out, highlight=False, soft_wrap=False).print(table)


def note(message: str) -> None:
    """A note for the user on stderr (never mixed into the data on stdout)."""
    sys.stderr.write(one_line(message) + "\n")


def render_stories(stories, out: TextIO | None = None, with_lines: bool = True) -> None:
    """`mailidx trace` as text a person reads: each flow, its messages, recipients, lines."""
    from rich.console import Console
    from rich.text import Text

    console = Console(file=out or sys.stdout, highlight=False, soft_wrap=True)

    def say(*parts: tuple[str, str]) -> None:
        text = Text()
        for value, style in parts:
            text.append(safe_text(value), style=style)
        console.print(text)

    for story in stories:
        say((f"flow {story.flow_id}", "bold"), (f"  {len(story.messages)} message(s)", "dim"))
        outgoing = {}
        for link in story.links:
            outgoing.setdefault(link["from_message_key"], []).append(link)
        for m in story.messages:
            say(
                ("  " + m["message_key"], "bold cyan"),
                (f"  {cell_text(m['first_seen'])}", ""),
                (f"  final {m['final']}", "bold"),
            )
            facts = [
                f"from <{m['sender']}>" if m["sender"] is not None else "",
                f"Message-ID <{m['message_id']}>" if m["message_id"] else "",
                f"{m['size']} bytes" if m["size"] is not None else "",
                f"client {m['client_host']}[{m['client_ip']}]" if m["client_ip"] else "",
                f"via {m['origin']}",
            ]
            say(("    " + "  ".join(f for f in facts if f), ""))
            for r in (r for r in story.recipients if r["message_key"] == m["message_key"]):
                style = {"sent": "green", "bounced": "red", "rejected": "red"}.get(
                    r["status"], "yellow"
                )
                say(
                    (f"    {r['recipient']}", ""),
                    (f"  {r['status']}", style),
                    (f"  {r['dsn'] or ''}  {r['reason_category'] or ''}", ""),
                    (f"  {r['attempts']} attempt(s)", "dim"),
                )
                if r["response"]:
                    say((f"      {r['response']}", "dim"))
            for d in (d for d in story.deliveries if d["message_key"] == m["message_key"]):
                if d["delay"] is not None:
                    attempt = (
                        f"{cell_text(d['ts'])} {d['recipient']} {d['status']} via {d['relay']}"
                    )
                    delays = (
                        f"before qmgr {d['delay_before_qmgr']}, in qmgr {d['delay_in_qmgr']}, "
                        f"connect {d['delay_conn']}, send {d['delay_xmit']}"
                    )
                    say(
                        (
                            f"      {attempt} delay {d['delay']}s ({delays})",
                            "dim",
                        )
                    )
            for link in outgoing.get(m["message_key"], []):
                say((f"    → {link['link']} {link['to_message_key']}", "magenta"))
        if with_lines and story.lines:
            say(("  log lines", "bold"))
            for line in story.lines:
                say((f"    {line['raw']}", ""))
        console.print()


def render_summary(report: dict, out: TextIO | None = None) -> None:
    """`mailidx summary` for a person: grand totals, traffic, a per-hour bar chart, top lists."""
    from rich.console import Console

    out = out or sys.stdout
    console = Console(file=out, highlight=False)
    t = report["totals"]
    rows = [
        ["received", t["received"]],
        ["delivered", t["delivered"]],
        ["forwarded", t["forwarded"]],
        ["deferred", f"{t['deferred']} ({t['deferrals']} deferrals)"],
        ["bounced", t["bounced"]],
        ["rejected", f"{t['rejected']} ({t['rejected_pct']}%)"],
        ["reject warnings", t["reject_warnings"]],
        ["held", t["held"]],
        ["discarded", t["discarded"]],
        ["bytes received", t["bytes_received"]],
        ["bytes delivered", t["bytes_delivered"]],
        ["senders", t["senders"]],
        ["sending hosts/domains", t["sending_hosts"]],
        ["recipients", t["recipients"]],
        ["recipient hosts/domains", t["recipient_domains"]],
        ["content-filter re-injections (not counted above)", t["filter_reinjections"]],
        ["content-filter hand-offs (not counted above)", t["filter_handoffs"]],
    ]
    render_table(["grand totals", ""], rows, out)
    for key, title in (("per_day", "per-day traffic"), ("per_hour", "per-hour traffic")):
        data = report[key]
        if data:
            render_table(list(data[0]), [list(r.values()) for r in data], out, title)
    hours = {r["hour"]: r["received"] + r["delivered"] for r in report["per_hour"]}
    peak = max(hours.values(), default=0)
    if peak:
        console.print("messages per hour (received + delivered)")
        for hour in range(24):
            n = hours.get(hour, 0)
            bar = "█" * round(40 * n / peak)
            console.print(f"  {hour:02d}:00 {bar} {n}", markup=False)
    for key in (
        "top_senders",
        "top_senders_by_size",
        "top_recipients",
        "top_recipient_domains",
        "delays_by_domain",
        "deferrals",
        "bounces",
        "rejects",
        "warnings",
        "fatal",
    ):
        data = report[key]
        if data:
            render_table(
                list(data[0]), [list(r.values()) for r in data], out, key.replace("_", " ")
            )
