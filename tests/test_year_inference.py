"""Year inference as pure functions (:mod:`mailidx.ingest.years`): the first line's year from
the file's mtime, and each next line's year from the month of the line before."""

from __future__ import annotations

import datetime as dt
import time

import numpy as np

from mailidx.ingest.years import first_month_day, first_year, future_mtime, years


def mtime(year, month, day):
    return dt.datetime(year, month, day, 12).timestamp()


def run(lines, year, prev_month=None):
    chunk = b"".join(line + b"\n" for line in lines)
    data = np.frombuffer(chunk, np.uint8)
    newlines = np.flatnonzero(data == 10)
    starts = np.concatenate([[0], newlines[:-1] + 1])
    out, last_year, last_month = years(data, starts, year, prev_month)
    return out.tolist(), last_year, last_month


def test_first_line_dated_after_the_mtime_day_is_from_the_year_before():
    assert first_year(mtime(2026, 1, 2), b"Dec 31 23:59:59 mx x: y\n") == 2025
    assert first_year(mtime(2026, 1, 2), b"Jan  2 08:00:00 mx x: y\n") == 2026


def test_a_day_of_clock_skew_past_the_mtime_keeps_the_mtime_year():
    assert first_year(mtime(2026, 3, 10), b"Mar 11 00:00:01 mx x: y\n") == 2026


def test_the_year_given_wins_over_the_mtime():
    assert first_year(mtime(2026, 1, 2), b"Dec 31 23:59:59 mx x: y\n", 2019) == 2019


def test_first_month_day_skips_a_priority_and_lines_without_a_date():
    assert first_month_day(b"garbage\n<22>May  7 10:00:00 mx x: y\n") == (5, 7)
    assert first_month_day(b"2026-05-07T10:00:00Z mx x: y\n") is None


def test_year_steps_up_where_the_month_falls_back_by_six_or_more():
    lines = [b"Dec 31 23:59:59 a", b"Jan  1 00:00:01 b", b"Jan  2 00:00:01 c"]
    assert run(lines, 2025) == ([2025, 2026, 2026], 2026, 1)


def test_a_month_a_little_back_is_out_of_order_not_a_new_year():
    assert run([b"May  2 a", b"Apr 30 b"], 2026) == ([2026, 2026], 2026, 4)


def test_the_month_before_the_chunk_carries_the_turn_over():
    assert run([b"Jan  1 00:00:01 a"], 2025, prev_month=12) == ([2026], 2026, 1)


def test_lines_without_a_syslog_month_keep_the_year_and_the_month_state():
    assert run([b"2026-01-01T00:00:00Z a", b"  continued"], 2025, 11) == ([2025, 2025], 2025, 11)


def test_a_modification_time_in_the_future_is_warned_of_unless_a_year_is_given():
    later = time.time() + 86400
    assert "modified in the future" in future_mtime("maillog", later)
    assert future_mtime("maillog", later, 2026) is None
    assert future_mtime("maillog", time.time()) is None
