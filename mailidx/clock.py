"""The user's time: the local zone, a --tz value checked, --since/--until/--before read.

Times a user types (``2h``, ``7d``, ``today``, ``yesterday``, ``2026-11-27[T10:00]``) become
instants here; a date or time without an offset is in the zone given (``--tz``, else the
machine's). A value that is not a time is a :class:`~mailidx.errors.BadTime` (bad usage,
exit 2), naming the option where the caller says which.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from zoneinfo import ZoneInfo

from mailidx.errors import BadTime, UsageError

RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def local_zone() -> str:
    """The machine's zone: $TZ, else the /etc/localtime link, else UTC."""
    tz = os.environ.get("TZ")
    if tz:
        return tz.lstrip(":")
    try:
        link = os.readlink("/etc/localtime")
        return link.split("zoneinfo/", 1)[1]
    except (OSError, IndexError):
        return "UTC"


def check_zone(tz: str) -> None:
    """Refuse a zone DuckDB cannot use (its names, not Python's, are the ones that count)."""
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = ?", [tz])
    except duckdb.Error as exc:
        text = str(exc).strip()
        first = text.splitlines()[0] if text else text
        raise UsageError(f"cannot use time zone {tz!r}: {first}") from None
    finally:
        con.close()


def parse_when(text: str, zone: str, now: dt.datetime | None = None) -> dt.datetime:
    """An instant from `2h`, `7d`, `today`, `yesterday`, `2026-11-27` or an ISO date-time;
    dates and times without an offset are in ``zone``."""
    try:
        tz = ZoneInfo(zone)
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
        raise BadTime(f"no time zone {zone!r}; use a name such as Europe/Paris or UTC") from None
    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(tz)
    word = text.strip().lower()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if word == "today":
        return midnight
    if word == "yesterday":
        return midnight - dt.timedelta(days=1)
    match = RELATIVE.match(word)
    if match:
        try:
            return now - dt.timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
        except OverflowError:
            raise BadTime(
                f"the time {text!r} is before the year 1; use a smaller number or a date"
            ) from None
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadTime(
            f"cannot read the time {text!r}; use 2h, 7d, today, yesterday or 2026-11-27[T10:00]"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=tz)


def when(text: str | None, zone: str, option: str) -> dt.datetime | None:
    """--since/--until as an instant (None when not given); a bad one names the option."""
    if text is None:
        return None
    try:
        return parse_when(text, zone)
    except BadTime as exc:
        raise BadTime(f"{option}: {exc}") from None


def utc_day(text: str, zone: str, *, end: bool = False) -> str:
    """The UTC day (yyyy-mm-dd) a --since/--until/--before time falls in; with ``end``, the
    first day that starts at or after it (so [since, until) covers every day it touches)."""
    instant = parse_when(text, zone).astimezone(dt.timezone.utc)
    day = instant.date()
    if end and instant != dt.datetime.combine(day, dt.time(), dt.timezone.utc):
        day += dt.timedelta(days=1)
    return day.isoformat()
