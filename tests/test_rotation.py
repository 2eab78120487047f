"""Rotation: a file is known by its first bytes, so renames, copytruncate, dateext and delayed
compression end with every line stored exactly once."""

from __future__ import annotations

import csv
import gzip
import io
import os
import shutil

from tests.conftest import syslog_lines, write_lines


def stored(mailidx) -> list[str]:
    return [r[0] for r in mailidx.query("SELECT raw FROM log_lines ORDER BY ts, raw")]


def test_create_rotation_drains_the_old_file_then_reads_the_new_one(mailidx, tmp_path):
    log, old = tmp_path / "maillog", tmp_path / "maillog.1"
    a, b, c = syslog_lines(100), syslog_lines(50, start=100), syslog_lines(70, start=150)
    write_lines(log, a)
    mailidx.build(log)
    write_lines(log, b, mode="a")  # written after the last build, before rotation
    os.rename(log, old)
    write_lines(log, c)
    mailidx.build(tmp_path / "maillog", old)
    assert mailidx.count() == 220
    assert sorted(stored(mailidx)) == sorted(a + b + c)
    paths = dict(mailidx.query("SELECT path, lines_done FROM files"))
    assert paths == {str(old): 150, str(log): 70}


def test_copytruncate_is_detected_and_the_new_start_read(mailidx, tmp_path):
    log, old = tmp_path / "maillog", tmp_path / "maillog.1"
    a, b, c = syslog_lines(100), syslog_lines(30, start=100), syslog_lines(40, start=130)
    write_lines(log, a)
    mailidx.build(log)
    write_lines(log, b, mode="a")
    shutil.copy(log, old)
    with open(log, "w"):
        pass  # truncate in place, as logrotate's copytruncate does
    write_lines(log, c, mode="a")
    mailidx.build(log, old)
    assert sorted(stored(mailidx)) == sorted(a + b + c)
    assert mailidx.count() == 170


def test_dateext_and_delayed_compression_never_index_twice(mailidx, tmp_path):
    log = tmp_path / "maillog"
    day1, day2, day3 = syslog_lines(80, day=25), syslog_lines(60, day=26), syslog_lines(50, day=27)
    write_lines(log, day1)
    mailidx.build(log)
    # night 1: maillog -> maillog-20261126 (kept plain: delaycompress), new maillog
    os.rename(log, tmp_path / "maillog-20261126")
    write_lines(log, day2)
    mailidx.build(*sorted(tmp_path.glob("maillog*")))
    # night 2: the plain dateext file gets compressed, maillog rotates again
    plain = tmp_path / "maillog-20261126"
    with open(plain, "rb") as src, gzip.open(tmp_path / "maillog-20261126.gz", "wb") as dst:
        dst.write(src.read())
    plain.unlink()
    os.rename(log, tmp_path / "maillog-20261127")
    write_lines(log, day3)
    mailidx.build(*sorted(tmp_path.glob("maillog*")))
    mailidx.build(*sorted(tmp_path.glob("maillog*")))
    assert mailidx.count() == 190
    assert sorted(stored(mailidx)) == sorted(day1 + day2 + day3)


def test_numbered_rotation_to_gz_keeps_each_line_once(mailidx, tmp_path):
    log = tmp_path / "maillog"
    batches = [syslog_lines(40, day=d) for d in (24, 25, 26, 27)]
    write_lines(log, batches[0])
    mailidx.build(log)
    for batch in batches[1:]:
        # maillog.1 -> maillog.2.gz, maillog -> maillog.1, new maillog
        one = tmp_path / "maillog.1"
        if one.exists():
            n = len(list(tmp_path.glob("maillog.*.gz"))) + 2
            for k in range(n - 1, 1, -1):
                src = tmp_path / f"maillog.{k}.gz"
                if src.exists():
                    os.rename(src, tmp_path / f"maillog.{k + 1}.gz")
            with open(one, "rb") as s, gzip.open(tmp_path / "maillog.2.gz", "wb") as d:
                d.write(s.read())
            one.unlink()
        os.rename(log, one)
        write_lines(log, batch)
        mailidx.build(*sorted(tmp_path.glob("maillog*")))
    assert mailidx.count() == 160
    assert sorted(stored(mailidx)) == sorted(sum(batches, []))


def test_a_file_deleted_and_recreated_is_a_new_file(mailidx, tmp_path):
    log = tmp_path / "maillog"
    a, b = syslog_lines(20), syslog_lines(20, start=500)
    write_lines(log, a)
    mailidx.build(log)
    log.unlink()
    write_lines(log, b)
    mailidx.build(log)
    assert sorted(stored(mailidx)) == sorted(a + b)
    assert mailidx.count("files") == 2


def status_files(mailidx) -> list[list[str]]:
    out = mailidx.run("status", "--format", "csv").stdout.decode()
    return [row[:4] for row in csv.reader(io.StringIO(out))]


def test_status_after_a_dateext_rotation_shows_the_path_each_file_has_now(mailidx, tmp_path):
    """maillog is read to its end, renamed to maillog-20261127 (nothing new in it) and a new
    maillog begins: status names each file where it is now, and the old name of the moved one."""
    log, dated = tmp_path / "maillog", tmp_path / "maillog-20261127"
    write_lines(log, syslog_lines(100))
    mailidx.build(log)
    os.rename(log, dated)
    write_lines(log, syslog_lines(40, start=100))
    mailidx.build(tmp_path / "maillog-20261127", log)
    header = ["path", "renamed_from", "bytes", "lines"]
    assert status_files(mailidx) == [
        header,
        [str(dated), str(log), str(dated.stat().st_size), "100"],
        [str(log), "", str(log.stat().st_size), "40"],
    ]
    # delaycompress, a day later: the .gz is the same file, under its new name
    size = dated.stat().st_size
    with open(dated, "rb") as f, gzip.open(f"{dated}.gz", "wb") as out:
        shutil.copyfileobj(f, out)
    dated.unlink()
    mailidx.build(f"{dated}.gz", log)
    assert status_files(mailidx) == [
        header,
        [f"{dated}.gz", str(log), str(size), "100"],
        [str(log), "", str(log.stat().st_size), "40"],
    ]
    assert mailidx.count() == 140
