"""Year-less syslog times get their year from the file: lines run forward in time and none
is dated after the file's mtime."""

from __future__ import annotations

import datetime as dt
import gzip
import os

from tests.conftest import write_lines


def stamp(year, month, day):
    return dt.datetime(year, month, day, 12, tzinfo=dt.timezone.utc).timestamp()


def years(mailidx):
    return [r[0] for r in mailidx.query("SELECT year(ts) FROM log_lines ORDER BY line_number")]


LINE = "mx1 postfix/qmgr[1200]: 4D1C21E0A7: removed"


def test_year_steps_up_where_december_turns_into_january(mailidx, tmp_path):
    log = tmp_path / "maillog"
    write_lines(
        log,
        [
            f"Dec 30 23:59:58 {LINE}",
            f"Dec 31 23:59:59 {LINE}",
            f"Jan  1 00:00:01 {LINE}",
            f"Jan  2 08:00:00 {LINE}",
        ],
    )
    os.utime(log, (stamp(2026, 1, 2), stamp(2026, 1, 2)))
    mailidx.build(log)
    assert years(mailidx) == [2025, 2025, 2026, 2026]


def test_year_turn_between_two_runs_is_kept(mailidx, tmp_path):
    log = tmp_path / "maillog"
    write_lines(log, [f"Dec 31 23:59:59 {LINE}"])
    os.utime(log, (stamp(2025, 12, 31), stamp(2025, 12, 31)))
    mailidx.build(log)
    write_lines(log, [f"Jan  1 00:00:01 {LINE}"], mode="a")
    os.utime(log, (stamp(2026, 1, 1), stamp(2026, 1, 1)))
    mailidx.build(log)
    assert years(mailidx) == [2025, 2026]


def test_an_old_rotated_file_is_dated_by_its_mtime(mailidx, tmp_path):
    old = tmp_path / "maillog.4"
    write_lines(old, [f"Dec  1 10:00:00 {LINE}", f"Dec 20 10:00:00 {LINE}"])
    os.utime(old, (stamp(2024, 12, 21), stamp(2024, 12, 21)))
    mailidx.build(old)
    assert years(mailidx) == [2024, 2024]


def test_a_gzipped_file_is_dated_by_the_mtime_in_its_header(mailidx, tmp_path):
    gz = tmp_path / "maillog.5.gz"
    with open(gz, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=stamp(2023, 6, 2)) as f:
        f.write(f"May 30 10:00:00 {LINE}\nJun  1 10:00:00 {LINE}\n".encode())
    mailidx.build(gz)  # the file's own mtime is now; its header says June 2023
    assert years(mailidx) == [2023, 2023]


def test_no_line_is_dated_after_the_files_mtime(mailidx, tmp_path):
    log = tmp_path / "maillog"
    write_lines(log, [f"Nov 30 10:00:00 {LINE}", f"Dec  2 10:00:00 {LINE}"])
    os.utime(log, (stamp(2026, 1, 15), stamp(2026, 1, 15)))  # read back in January
    mailidx.build(log)
    assert years(mailidx) == [2025, 2025]


def test_year_option_overrides_inference(mailidx, tmp_path):
    log = tmp_path / "maillog"
    write_lines(log, [f"Mar  3 10:00:00 {LINE}"])
    mailidx.build(log, "--year", "2019")
    assert years(mailidx) == [2019]


def test_times_with_an_offset_keep_it_and_naive_times_use_tz(mailidx, tmp_path):
    log = tmp_path / "maillog"
    write_lines(log, [f"2026-05-12T21:50:55.123456+09:00 {LINE}", f"Nov 27 12:00:00 {LINE}"])
    mailidx.build(log, "--tz", "Europe/Paris", "--year", "2026")
    rows = mailidx.query("SELECT epoch(ts) FROM log_lines ORDER BY line_number")
    assert (
        rows[0][0]
        == dt.datetime(2026, 5, 12, 12, 50, 55, 123456, tzinfo=dt.timezone.utc).timestamp()
    )
    assert rows[1][0] == dt.datetime(2026, 11, 27, 11, 0, tzinfo=dt.timezone.utc).timestamp()
