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
        json.dump([dict(zip(columns, map(jsonable, row))) for row in rows], out, indent=2)
        out.write("\n")
    elif fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(dict(zip(columns, map(jsonable, row)))) + "\n")
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


def render_stories(stories, out: TextIO | None = None, with_lines: bool = True) -> None:
    """`mailidx trace` as text a person reads, top-down: each flow's verdict first, then its
    messages, each recipient with its attempts under it, the refusals, the log lines."""
    from rich.console import Console
    from rich.text import Text

    console = Console(file=out or sys.stdout, highlight=False, soft_wrap=True)

    def say(*parts: tuple[str, str]) -> None:
        text = Text()
        for value, style in parts:
            text.append(safe_text(value), style=style)
        console.print(text)

    for story in stories:
        say((story.verdict, "bold"))
        if story.messages:
            say((f"flow {story.flow_id}", "bold"), (f"  {len(story.messages)} message(s)", "dim"))
        else:
            say(("refused, never queued", "bold"))
        if len(story.ends) > 1:  # one is the verdict already
            for end in story.ends:
                say(("  outcome ", "dim"), (_outcome(end), ""))
        outgoing = {}
        for link in story.links:
            outgoing.setdefault(link["from_message_key"], []).append(link)
        for m in story.messages:
            _render_message(say, story, m, with_lines)
            for link in outgoing.get(m["message_key"], []):
                say((f"    → {link['link']} {link['to_message_key']}", "magenta"))
        if not story.messages:
            for refusal in story.refusals:
                _render_refusal(say, refusal, with_lines, "  ")
        if with_lines and story.lines:
            say(("  log lines", "bold"))
            for line in story.lines:
                say((f"    {line['raw']}", ""))
        console.print()


def _outcome(end: dict) -> str:
    from mailidx.answers.story import outcome_phrase, who

    return f"{who(end)} {outcome_phrase(end)} (at {end['message_key']})"


def _render_message(say, story, m: dict, with_lines: bool) -> None:
    """One message instance: its facts, each recipient with its attempts, its refusals."""
    say(
        ("  " + m["message_key"], "bold cyan"),
        (f"  {cell_text(m['first_seen'])}", ""),
        (f"  final {m['final']}", "bold"),
    )
    facts = [
        f"from <{m['sender']}>" if m["sender"] is not None else "from (unknown)",
        f"Message-ID <{m['message_id']}>" if m["message_id"] else "",
        f"{m['size']} bytes" if m["size"] is not None else "",
        f"client {m['client_host']}[{m['client_ip']}]" if m["client_ip"] else "",
        f"via {m['origin']}",
    ]
    say(("    " + "  ".join(f for f in facts if f), ""))
    mine = [d for d in story.deliveries if d["message_key"] == m["message_key"]]
    listed = set()
    for r in (r for r in story.recipients if r["message_key"] == m["message_key"]):
        style = {"sent": "green", "bounced": "red", "rejected": "red"}.get(r["status"], "yellow")
        say(
            (f"    {r['recipient']}", ""),
            (f"  {r['status']}", style),
            (f"  {r['dsn'] or ''}  {r['reason_category'] or ''}", ""),
            (f"  {r['attempts']} attempt(s)", "dim"),
            (f"  for <{r['orig_recipient']}>" if r["orig_recipient"] else "", "dim"),
        )
        attempts = [
            i
            for i, d in enumerate(mine)
            if (d["recipient"], d["orig_recipient"] or "") == (r["recipient"], r["orig_recipient"])
        ]
        for i in attempts:
            _render_attempt(say, mine[i])
        listed.update(attempts)
        if r["response"] and not attempts:  # a refusal or a hold: its line's reason
            say((f"      {r['response']}", "dim"))
    for i, d in enumerate(mine):  # an attempt no recipient row names (none expected)
        if i not in listed:
            _render_attempt(say, d)
    for refusal in story.refusals:
        if (refusal["host"], refusal["queue_id"]) == (m["host"], m["queue_id"]):
            _render_refusal(say, refusal, with_lines, "    ")


def _render_attempt(say, d: dict) -> None:
    attempt = f"      {cell_text(d['ts'])}  {d['status']}  {d['dsn'] or ''}  via {d['relay']}"
    if d["delay"] is not None:
        attempt += (
            f"  delay {d['delay']}s (before qmgr {d['delay_before_qmgr']}, "
            f"in qmgr {d['delay_in_qmgr']}, connect {d['delay_conn']}, send {d['delay_xmit']})"
        )
    say((attempt, "dim"))
    if d["response"]:
        say((f"        {d['response']}", "dim"))


def _render_refusal(say, r: dict, with_lines: bool, indent: str) -> None:
    """A refusal: when, stage, code, dsn, category, who, why, and its log line."""
    who = f"client {r['client_host'] or ''}[{r['client_ip']}]" if r["client_ip"] else ""
    envelope = " ".join(
        x
        for x in (
            f"from=<{r['sender']}>" if r["sender"] is not None else "",
            f"to=<{r['recipient']}>" if r["recipient"] is not None else "",
        )
        if x
    )
    head = "  ".join(
        str(x)
        for x in (
            cell_text(r["ts"]),
            r["action"],
            r["stage"],
            r["code"],
            r["dsn"],
            r["reason_category"],
            who,
            envelope,
        )
        if x not in (None, "")
    )
    say((f"{indent}{head}", "red"))
    if r["reason"]:
        say((f"{indent}  {r['reason']}", "dim"))
    if with_lines and r.get("raw"):
        say((f"{indent}  {r['raw']}", ""))


def human_bytes(n: int) -> str:
    """1,536 → 1.5 KiB: a size a person reads at a glance (pflogsumm writes 447812k)."""
    size, unit = float(n), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            break
        size /= 1024
    if unit == "B":
        return f"{n} B"
    return f"{size:.0f} {unit}" if abs(size) >= 100 else f"{size:.1f} {unit}"


def summary_cell(column: str, value: Any) -> Any:
    """A summary number for a person: bytes in KiB/MiB/GiB, counts with thousands separators."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if column == "bytes":
        return human_bytes(value)
    return f"{value:,}"


SUMMARY_SECTIONS = {
    "top_senders": "top senders by messages",
    "top_senders_by_size": "top senders by size",
    "received_by_domain": "messages received by sending domain/host",
    "top_recipients": "top recipients",
    "top_recipient_domains": "top recipient domains",
    "delivery_by_domain": "message delivery by recipient domain",
    "delays_by_domain": "delivery delays by domain",
    "deferrals": "deferrals by reason",
    "bounces": "bounces by reason",
    "rejects": "rejects by reason",
    "warnings": "warnings",
    "fatal": "fatal errors",
}


def render_summary(report: dict, out: TextIO | None = None, section: str | None = None) -> None:
    """`mailidx summary` for a person: grand totals, traffic, a per-hour bar chart, top lists
    (or just one ``section`` of them)."""
    from rich.console import Console

    out = out or sys.stdout
    if section not in (None, "totals"):
        titles = {"per_day": "per-day traffic", "per_hour": "per-hour traffic", **SUMMARY_SECTIONS}
        return _summary_table(report[section], out, titles[section])
    console = Console(file=out, highlight=False)
    t = {k: summary_cell("", v) for k, v in report["totals"].items()}
    rows = [
        ["received", t["received"]],
        ["delivered", t["delivered"]],
        ["forwarded", t["forwarded"]],
        ["deferred", f"{t['deferred']} ({t['deferrals']} deferrals)"],
        ["bounced", t["bounced"]],
        ["rejected", f"{t['rejected']} ({report['totals']['rejected_pct']}%)"],
        ["reject warnings", t["reject_warnings"]],
        ["held", t["held"]],
        ["discarded", t["discarded"]],
        ["bytes received", human_bytes(report["totals"]["bytes_received"])],
        ["bytes delivered", human_bytes(report["totals"]["bytes_delivered"])],
        ["senders", t["senders"]],
        ["sending hosts/domains", t["sending_hosts"]],
        ["recipients", t["recipients"]],
        ["recipient hosts/domains", t["recipient_domains"]],
        ["content-filter re-injections (not counted above)", t["filter_reinjections"]],
        ["content-filter hand-offs (not counted above)", t["filter_handoffs"]],
        ["recipients only the content filter got (not counted above)", t["filter_only_recipients"]],
        ["their domains (not counted above)", t["filter_only_recipient_domains"]],
    ]
    render_table(["grand totals", ""], rows, out, numeric=[""])
    if section == "totals":
        return
    for key, title in (("per_day", "per-day traffic"), ("per_hour", "per-hour traffic")):
        _summary_table(report[key], out, title)
    hours = {r["hour"]: r["received"] + r["delivered"] for r in report["per_hour"]}
    peak = max(hours.values(), default=0)
    if peak:
        console.print("messages per hour (received + delivered)")
        for hour in range(24):
            n = hours.get(hour, 0)
            bar = "█" * round(40 * n / peak)
            console.print(f"  {hour:02d}:00 {bar} {n:,}", markup=False)
    for key, title in SUMMARY_SECTIONS.items():
        _summary_table(report[key], out, title)


def _summary_table(data: list[dict], out: TextIO, title: str) -> None:
    if data:
        columns = list(data[0])
        rows = [[summary_cell(c, r[c]) for c in columns] for r in data]
        numeric = [c for c in columns if any(isinstance(r[c], (int, float)) for r in data)]
        headers = [c.replace("_", " ") for c in columns]
        render_table(columns, rows, out, title, numeric, headers)
