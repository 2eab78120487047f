"""`mailidx summary`: a pflogsumm-class report for a time range, from the views.

The SQL lives in sql/summary/, one file per section. The grand totals (totals.sql) count what
happened to mail, once: a content filter's re-injection is not a second reception, and the
hand-off to the filter is not a delivery (pflogsumm counts both; the README says how the two
sets of numbers relate). Every query takes $since and $until (NULL for open ends), and $host
(NULL for every host): the syslog host of the rows counted, on the same relation as the time
column; the lists take $limit as well.
"""

from __future__ import annotations

from functools import cache

from mailidx.store import sql_dir

# The sections after the totals and the traffic, in the report's order: each is a file of
# sql/summary/ and the parameters it takes besides the window, the host and $limit.
SECTIONS: dict[str, tuple[str, dict]] = {
    "top_senders": ("top_senders", {"by_size": False}),
    "top_senders_by_size": ("top_senders", {"by_size": True}),
    "top_recipients": ("top_recipients", {}),
    "top_recipient_domains": ("top_recipient_domains", {}),
    "received_by_domain": ("received_by_domain", {}),
    "delivery_by_domain": ("delivery_by_domain", {}),
    "delays_by_domain": ("delays_by_domain", {}),
    "deferrals": ("deferrals", {}),
    "bounces": ("bounces", {}),
    "rejects": ("rejects", {}),
    "warnings": ("problems", {"severities": ["warning"]}),
    "fatal": ("problems", {"severities": ["fatal", "panic", "error"]}),
}
SECTION_NAMES = ("totals", "per_day", "per_hour", *SECTIONS)


@cache
def sql(name: str) -> str:
    """The text of sql/summary/<name>.sql."""
    return (sql_dir() / "summary" / f"{name}.sql").read_text()


def _dicts(cursor) -> list[dict]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def totals(con, since=None, until=None, host: str | None = None) -> dict:
    """The grand totals (one row of totals.sql) for the window and host."""
    return _dicts(con.execute(sql("totals"), {"since": since, "until": until, "host": host}))[0]


def traffic(con, params: dict) -> tuple[list[dict], list[dict]]:
    """(per day, per hour of the day): traffic.sql's two grouping sets, each in its order."""
    rows = _dicts(con.execute(sql("traffic"), params))
    per_day = [{"day": r["day"], **_counts(r)} for r in rows if r["day"] is not None]
    per_hour = [{"hour": r["hour"], **_counts(r)} for r in rows if r["hour"] is not None]
    return per_day, per_hour


def _counts(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("day", "hour")}


def report(con, since=None, until=None, limit: int = 10, host: str | None = None) -> dict:
    params = {"since": since, "until": until, "host": host}
    totals_ = totals(con, since, until, host)
    accepted = totals_["delivered"] + totals_["rejected"] + totals_["discarded"]
    totals_["rejected_pct"] = round(100 * totals_["rejected"] / accepted, 1) if accepted else 0.0
    out: dict = {"totals": totals_}
    out["per_day"], out["per_hour"] = traffic(con, params)
    for name, (file, more) in SECTIONS.items():
        out[name] = _dicts(con.execute(sql(file), {**params, "limit": limit, **more}))
    return out


def section_rows(report: dict, name: str) -> tuple[list[str], list[list]]:
    """One section of the report as columns and rows (the totals: one row)."""
    data = report[name]
    if isinstance(data, dict):
        return list(data), [list(data.values())]
    columns = list(data[0]) if data else []
    return columns, [list(r.values()) for r in data]
