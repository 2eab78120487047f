"""Year inference: the year of each line whose syslog time has none (``May 12 21:50:55``).

A file ends at its modification time, so its first year-less line is in that year unless it is
dated after the mtime's day (:func:`first_year`); from there lines run forward in time, and a
month far before the previous line's means the year has turned (:func:`years`). The file's
last year and month are kept with its offset, so the next batch goes on from them.
"""

from __future__ import annotations

import datetime as dt
import time

from mailidx.parse.header import MONTHS

MONTH_OF = {MONTHS[i : i + 3].encode(): i // 3 + 1 for i in range(0, 36, 3)}
FUTURE_SLACK = 3600  # seconds of clock skew a file's mtime may be ahead before a warning


def first_year(mtime: float | None, first_chunk: bytes, year: int | None = None) -> int:
    """Year of the file's first year-less line (``year`` when the user gave one): the file ends
    at its mtime, so a first line dated after the mtime's day must be from the year before."""
    if year:
        return year
    when = dt.datetime.fromtimestamp(mtime) if mtime else dt.datetime.now()
    month_day = first_month_day(first_chunk)
    if month_day and month_day > (when.month, when.day + 1):
        return when.year - 1
    return when.year


def first_month_day(chunk: bytes) -> tuple[int, int] | None:
    """(month, day) of the first of the chunk's first lines that starts with a syslog date."""
    for line in chunk[:65536].split(b"\n", 20):
        text = line.lstrip(b"<0123456789>")
        month = MONTH_OF.get(text[:3])
        if month and text[4:6].strip().isdigit():
            return month, int(text[4:6])
    return None


def years(data, starts, year: int, prev_month: int | None):
    """Year of each line whose syslog time has none, given the year and month of the line
    before. Lines run forward in time: a month more than five months before the previous
    one means the year has turned (Dec → Jan). ``data`` is the chunk as a numpy uint8
    array, ``starts`` the offsets of its lines. Returns (years, last year, last month)."""
    import numpy as np

    n = len(starts)
    # the first three bytes of each line; past the chunk's end (a line of under three bytes
    # at its end) the last byte, a newline, stands in: no month name has one
    key = (
        data[starts].astype(np.int32) << 16
        | data.take(starts + 1, mode="clip").astype(np.int32) << 8
        | data.take(starts + 2, mode="clip").astype(np.int32)
    )
    month = np.zeros(n, np.int32)
    for name, number in MONTH_OF.items():
        month[key == (name[0] << 16 | name[1] << 8 | name[2])] = number
    dated = np.flatnonzero(month)
    out = np.full(n, year, np.int32)
    if len(dated) == 0:
        return out, year, prev_month
    seen = month[dated]
    before = np.empty_like(seen)
    before[0] = prev_month if prev_month is not None else seen[0]
    before[1:] = seen[:-1]
    steps = np.cumsum(before - seen >= 6).astype(np.int32)
    wraps = np.zeros(n, np.int32)
    wraps[dated] = steps
    out += np.maximum.accumulate(wraps)
    return out, int(out[-1]), int(seen[-1])


def future_mtime(path: str, mtime: float | None, year: int | None = None) -> str | None:
    """A warning when year-less lines are dated by a modification time in the future."""
    if year or not mtime or mtime <= time.time() + FUTURE_SLACK:
        return None
    when = dt.datetime.fromtimestamp(mtime, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"warning: {path}: modified in the future ({when}); its year-less lines are "
        "dated up to then: check the clock, or give --year"
    )
