"""`mailidx report`'s numbers: one time window and host, read from the public views.

The grand totals are `mailidx summary`'s own (sql/summary/totals.sql, with the same $since,
$until and $host), so the page and `summary --format json` agree by construction; the previous
window of the same length is counted the same way for comparison. Everything else comes from
the files in sql/report/, every value bound. Charts count per hour for windows up to three days,
per day for longer ones; buckets without mail are zeros, so each series has a point for every
bucket.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from mailidx.answers import summary
from mailidx.store import sql_dir

HOURLY_UP_TO = dt.timedelta(days=3)
TRAFFIC = ("received", "delivered", "deferred", "bounced", "rejected")
REASONS = ("bounces", "deferrals", "rejects")
TOPS = ("senders", "recipients", "domains", "clients")


@dataclass
class Window:
    """What the user asked for (``since``/``until`` None for open ends) and what it covers."""

    since: dt.datetime | None
    until: dt.datetime | None
    host: str | None
    zone: str
    start: dt.datetime
    end: dt.datetime
    unit: str  # 'hour' or 'day'
    previous: tuple[dt.datetime, dt.datetime] | None = None
    buckets: list[dt.datetime] = field(default_factory=list)


def _sql(name: str) -> str:
    return (sql_dir() / "report" / f"{name}.sql").read_text()


def _dicts(cursor) -> list[dict]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def window(con, since, until, host, zone: str, now: dt.datetime | None = None) -> Window:
    """The window's ends: open ends are the host's first and last line (``until`` the
    second after the last one); the previous window is as long and ends where this one starts."""
    first, last = con.execute(_sql("bounds"), {"host": host}).fetchone()
    now = now or dt.datetime.now(dt.timezone.utc)
    start = since or first or until or now
    end = until or (last.replace(microsecond=0) + dt.timedelta(seconds=1) if last else now)
    end = max(end, start)
    unit = "hour" if end - start <= HOURLY_UP_TO else "day"
    previous = (start - (end - start), start) if since is not None and end > start else None
    out = Window(since, until, host, zone, start, end, unit, previous)
    out.buckets = buckets(start, end, unit, ZoneInfo(zone))
    return out


def buckets(start: dt.datetime, end: dt.datetime, unit: str, tz: ZoneInfo) -> list[dt.datetime]:
    """Every hour or local day that the window [start, end) touches, as UTC instants: the
    hour a clock repeats when it goes back is two buckets, not one."""
    utc = dt.timezone.utc
    local = start.astimezone(tz)
    out = []
    if unit == "hour":
        at = local.replace(minute=0, second=0, microsecond=0).astimezone(utc)
        while at < end:
            out.append(at)
            at += dt.timedelta(hours=1)
        return out
    day = local.date()
    while (at := dt.datetime.combine(day, dt.time(), tz).astimezone(utc)) < end:
        out.append(at)
        day += dt.timedelta(days=1)
    return out


def totals(con, since, until, host) -> dict:
    """`mailidx summary`'s grand totals for the window."""
    return summary.totals(con, since, until, host)


def gather(con, win: Window, limit: int = 10, failed_limit: int = 200) -> dict:
    """Every section of the report, as plain data."""
    con.execute("SET TimeZone = ?", [win.zone])  # buckets are the user's hours and days
    # the flows view resolves every link of the index when read (0.4 s at 2 M lines); the
    # totals (twice) and the traffic read it, so it is worked out once for this connection:
    # a temporary table of the same rows, which the session's queries find before the view
    con.execute("CREATE OR REPLACE TEMP TABLE flows AS SELECT * FROM main.flows")
    p = {"since": win.start, "until": win.end, "host": win.host}
    at = {b: i for i, b in enumerate(win.buckets)}
    n = len(win.buckets)

    traffic = {name: [0] * n for name in TRAFFIC}
    for row in _dicts(con.execute(_sql("traffic"), {**p, "unit": win.unit})):
        i = at.get(row["bucket"].astimezone(dt.timezone.utc))
        if i is not None:
            for name in TRAFFIC:
                traffic[name][i] = row[name]

    reasons: dict[str, dict[str, list[int]]] = {what: {} for what in REASONS}
    for row in _dicts(con.execute(_sql("reasons"), {**p, "unit": win.unit})):
        series = reasons[row["what"]].setdefault(row["reason_category"] or "other", [0] * n)
        i = at.get(row["bucket"].astimezone(dt.timezone.utc))
        if i is not None:
            series[i] += row["n"]

    tops = {
        name: {
            by: _dicts(con.execute(_sql(f"top_{name}"), {**p, "by": by, "limit": limit}))
            for by in ("count", "size")
        }
        for name in TOPS
    }
    failed = _dicts(con.execute(_sql("failed_recipients"), {**p, "limit": failed_limit}))
    return {
        "totals": totals(con, win.since, win.until, win.host),
        "previous": totals(con, *win.previous, win.host) if win.previous else None,
        "traffic": traffic,
        "reasons": reasons,
        "delays": _dicts(con.execute(_sql("delays"), {**p, "limit": limit})),
        "tops": tops,
        "warnings": _dicts(
            con.execute(_sql("problems"), {**p, "severity": "warning", "limit": limit})
        ),
        "fatal": _dicts(con.execute(_sql("problems"), {**p, "severity": "fatal", "limit": limit})),
        "failed": failed,
        "failed_total": failed[0]["total"] if failed else 0,
    }
