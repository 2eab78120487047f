"""`mailidx report` as one self-contained HTML page: the numbers of report.gather, the charts
of charts.py inlined as SVG, no script, no style sheet or font fetched from anywhere.

The page is a Jinja2 template with autoescaping: every value from the log (addresses, reasons,
warnings) is text on the page, never markup. Each number a user may want to dig into carries
the `mailidx` command that lists what it counts (quoted for a POSIX shell).
"""

from __future__ import annotations

import datetime as dt
import shlex
from importlib.resources import files
from zoneinfo import ZoneInfo

from mailidx.answers import charts
from mailidx.answers.report import REASONS, TOPS, TRAFFIC, Window

TOTAL_ROWS = (
    # key, label, the canned query that lists it (None: no listing of its own)
    ("received", "received", "top-senders"),
    ("delivered", "delivered", "sent"),
    ("forwarded", "forwarded", None),
    ("deferred", "deferred (messages)", "reasons"),
    ("deferrals", "deferrals (attempts)", "reasons"),
    ("bounced", "bounced", "bounced"),
    ("rejected", "rejected", "rejected"),
    ("reject_warnings", "reject warnings", None),
    ("held", "held", "held"),
    ("discarded", "discarded", None),
    ("bytes_received", "bytes received", None),
    ("bytes_delivered", "bytes delivered", None),
    ("senders", "senders", "top-senders"),
    ("sending_hosts", "sending hosts/domains", None),
    ("recipients", "recipients", "top-recipients"),
    ("recipient_domains", "recipient domains", "top-domains"),
)
PROBLEMS_SQL = (
    "SELECT ts, host, daemon, severity, text FROM problems WHERE severity {severity} "
    "AND ts >= $since AND ts < $until{host} ORDER BY ts"
)


class Commands:
    """The `mailidx` command lines that explain the page's numbers, for this window."""

    def __init__(self, win: Window) -> None:
        self.win = win
        self.since = win.start.isoformat()
        self.until = win.end.isoformat()

    def _line(self, *words: str) -> str:
        return "mailidx " + shlex.join(words)

    def _window(self, host: bool = True) -> tuple[str, ...]:
        out = ("--since", self.since, "--until", self.until)
        return out + (("--host", self.win.host) if host and self.win.host else ())

    def query(self, name: str, **filters: str) -> str:
        words = [w for k, v in filters.items() for w in (f"--{k}", str(v))]
        return self._line("query", name, *words, *self._window())

    def trace(self, term: str) -> str:
        return self._line("trace", term, *self._window(host=False))

    def problems(self, severity: str) -> str:
        where = "= 'warning'" if severity == "warning" else "IN ('error', 'fatal', 'panic')"
        host = " AND host = $host" if self.win.host else ""
        sql = PROBLEMS_SQL.format(severity=where, host=host)
        params = ["-p", "since", self.since, "-p", "until", self.until]
        if self.win.host:
            params += ["-p", "host", self.win.host]
        return self._line("sql", *params, sql)


def preload() -> None:
    """Import the plotting and template libraries (0.3-0.5 s): run in a thread while DuckDB
    counts, which releases the GIL, so that the two overlap."""
    import jinja2  # noqa: F401
    import matplotlib.figure  # noqa: F401


def _label(bucket: dt.datetime, unit: str) -> str:
    """An hour as 14:00, midnight and days as 11-27 (``bucket`` in the page's zone)."""
    return bucket.strftime("%H:00" if unit == "hour" and bucket.hour else "%m-%d")


def _change(now: int, before: int | None) -> str:
    if before is None:
        return ""
    if before == 0:
        return "new" if now else "="
    if now == before:
        return "="
    pct = 100 * (now - before) / before
    return f"{pct:+.0f}%" if abs(pct) >= 0.5 else "±0%"


def render(data: dict, win: Window, title: str | None = None) -> str:
    from jinja2 import Environment

    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = lambda v: f"{v:,}" if isinstance(v, int) else v
    env.filters["size"] = _human_size
    env.filters["secs"] = lambda v: f"{float(v):,.1f} s"
    template = env.from_string(files("mailidx.answers").joinpath("report.html").read_text())
    cmd = Commands(win)
    local = [b.astimezone(ZoneInfo(win.zone)) for b in win.buckets]
    labels = [_label(b, win.unit) for b in local]
    totals, previous = data["totals"], data["previous"]
    rows = [
        {
            "label": label,
            "key": key,
            "value": totals[key],
            "previous": previous[key] if previous else None,
            "change": _change(totals[key], previous[key] if previous else None),
            "command": cmd.query(what) if what else "",
            "size": key.startswith("bytes_"),
        }
        for key, label, what in TOTAL_ROWS
    ]
    svg = {
        "traffic": charts.over_time(
            "traffic", labels, {k: data["traffic"][k] for k in TRAFFIC}, f"per {win.unit}"
        ),
        "delays": charts.delays("delays", data["delays"]),
    }
    for what in REASONS:
        svg[what] = charts.over_time(what, labels, data["reasons"][what], f"per {win.unit}")
    reason_query = {"bounces": "bounced", "deferrals": "reasons", "rejects": "rejected"}
    return template.render(
        title=title or default_title(win),
        win=win,
        labels=labels,
        local=local,
        rows=rows,
        data=data,
        svg=svg,
        cmd=cmd,
        traffic_names=TRAFFIC,
        reason_names=REASONS,
        reason_query=reason_query,
        tops=TOPS,
        generated=dt.datetime.now(dt.timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M %Z"),
    )


def default_title(win: Window) -> str:
    tz = ZoneInfo(win.zone)
    start, end = (t.astimezone(tz).strftime("%Y-%m-%d %H:%M") for t in (win.start, win.end))
    return f"Mail report for {win.host or 'all hosts'}, {start} to {end}"


def _human_size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{n} B"
