"""`mailidx summary` (and the mailed report's text) as tables a person reads: grand totals,
traffic, a per-hour bar chart, the top lists; sizes in KiB/MiB/GiB, counts with separators."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from mailidx.ui.output import render_table


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


def render(report: dict, out: TextIO | None = None, section: str | None = None) -> None:
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
