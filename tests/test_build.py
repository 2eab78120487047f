"""`mailidx build`: every line stored once, with where it came from; re-runs add nothing."""

from __future__ import annotations

import bz2
import glob
import grp
import gzip
import lzma
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import (
    DAY,
    FIXTURES,
    skip_unless_nobody_can_run_mailidx,
    syslog_lines,
    wc_l,
    write_lines,
)


def test_every_line_lands_in_log_lines_parsed_or_not(mailidx, tmp_path):
    log = tmp_path / "maillog"
    shutil.copy(FIXTURES / "maillog-day.txt", log)
    mailidx.build(log)
    assert mailidx.count() == wc_l(log) == len(DAY)
    kinds = dict(mailidx.query("SELECT kind, count(*) FROM log_lines GROUP BY kind"))
    assert kinds["foreign"] == 1  # the dovecot line is kept as its program's line
    assert kinds.get("unparsed", 0) == 0
    assert mailidx.count("events") == len(DAY) - 1


def test_offsets_and_line_numbers_point_back_into_the_file(mailidx, tmp_path):
    log = tmp_path / "maillog"
    shutil.copy(FIXTURES / "maillog-day.txt", log)
    mailidx.build(log)
    data = log.read_bytes()
    rows = mailidx.query('SELECT "offset", line_number, raw, file FROM log_lines ORDER BY 1')
    assert [r[1] for r in rows] == list(range(1, len(DAY) + 1))
    for offset, _, raw, file in rows:
        assert file == str(log)
        assert data[offset : offset + len(raw.encode())] == raw.encode()
        assert offset == 0 or data[offset - 1 : offset] == b"\n"


def test_rebuilding_the_same_files_adds_no_rows(mailidx, tmp_path):
    log = tmp_path / "maillog"
    write_lines(log, syslog_lines(500))
    first = mailidx.build(log)
    assert "500 lines" in first.stderr.decode()
    again = mailidx.build(log)
    assert "0 lines" in again.stderr.decode()
    assert mailidx.count() == 500


def test_a_rerun_with_nothing_new_loads_neither_numpy_nor_pyarrow(mailidx, tmp_path):
    # they take 0.12 s to import, most of a re-run's budget (0.3 s, README's Speed): only
    # lines to cut need them
    log = tmp_path / "maillog"
    write_lines(log, syslog_lines(50))
    mailidx.build(log)
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['mailidx', 'build', sys.argv[1]]\n"
        "try:\n"
        "    runpy.run_module('mailidx', run_name='__main__')\n"
        "finally:\n"
        "    loaded = [m for m in ('numpy', 'pyarrow') if m in sys.modules]\n"
        "    sys.stderr.write(f'loaded: {loaded}')\n"
    )
    again = subprocess.run(
        [sys.executable, "-c", probe, str(log)], capture_output=True, env=mailidx.env()
    )
    assert "0 lines" in again.stderr.decode(), again.stderr.decode()
    assert again.stderr.decode().endswith("loaded: []")  # (the CLI closes stdout at exit)
    write_lines(log, syslog_lines(1), mode="a")
    more = subprocess.run(
        [sys.executable, "-c", probe, str(log)], capture_output=True, env=mailidx.env()
    )
    assert mailidx.count() == 51, more.stderr.decode()
    assert more.stderr.decode().endswith("loaded: ['numpy', 'pyarrow']")


def test_appended_lines_are_indexed_on_the_next_run(mailidx, tmp_path):
    log = tmp_path / "maillog"
    write_lines(log, syslog_lines(300))
    mailidx.build(log)
    write_lines(log, syslog_lines(200, start=300), mode="a")
    mailidx.build(log)
    assert mailidx.count() == 500
    assert mailidx.query("SELECT count(DISTINCT line_number), max(line_number) FROM log_lines") == [
        (500, 500)
    ]


def test_partial_last_line_waits_for_its_newline(mailidx, tmp_path):
    log = tmp_path / "maillog"
    lines = syslog_lines(3)
    log.write_text(lines[0] + "\n" + lines[1] + "\n" + lines[2][:20])
    mailidx.build(log)
    assert mailidx.count() == 2
    with open(log, "a") as f:
        f.write(lines[2][20:] + "\n")
    mailidx.build(log)
    assert [r[0] for r in mailidx.query("SELECT raw FROM log_lines ORDER BY line_number")] == lines


def test_gzip_bzip2_xz_and_plain_give_the_same_lines(mailidx, tmp_path):
    lines = syslog_lines(400)
    data = "".join(line + "\n" for line in lines).encode()
    for name, opener in (("a.gz", gzip.open), ("b.bz2", bz2.open), ("c.xz", lzma.open)):
        with opener(tmp_path / name, "wb") as f:
            f.write(data)
        db = tmp_path / f"{name}.duckdb"
        mailidx.build(tmp_path / name, env=mailidx.env(MAILIDX_DB=str(db)))
        mailidx.db = db
        assert [
            r[0] for r in mailidx.query("SELECT raw FROM log_lines ORDER BY line_number")
        ] == lines


def test_stdin_is_indexed_and_not_twice(mailidx, tmp_path):
    data = "".join(line + "\n" for line in syslog_lines(250)).encode()
    mailidx.build("-", input=data)
    mailidx.build("-", input=data)
    assert mailidx.count() == 250
    assert mailidx.query("SELECT DISTINCT file FROM log_lines") == [("-",)]


def test_line_with_bytes_that_are_not_utf8_is_kept_with_its_exact_bytes(mailidx, tmp_path):
    log = tmp_path / "maillog"
    odd = (
        b"Nov 27 06:30:00 mx1 postfix/smtpd[2150]: warning: Illegal address syntax from "
        b"unknown[203.0.113.5] in MAIL command: <caf\xe9@example.com>"
    )
    good = syslog_lines(2)
    log.write_bytes(good[0].encode() + b"\n" + odd + b"\n" + good[1].encode() + b"\n")
    mailidx.build(log)
    rows = mailidx.query("SELECT raw, raw_bytes, kind FROM log_lines ORDER BY line_number")
    assert len(rows) == 3
    assert rows[1][1] == odd
    assert rows[1][0].endswith("<caf\\xe9@example.com>")
    assert rows[1][2] == "warning"
    assert rows[0][1] is None and rows[2][1] is None


def test_a_one_megabyte_line_is_kept_like_any_other(mailidx, tmp_path):
    log = tmp_path / "maillog"
    huge = (
        "Nov 27 06:30:00 mx1 postfix/cleanup[2160]: 4D1C21E0A7: warning: header Subject: "
        + ("x" * (1 << 20))
        + " from unknown[203.0.113.5]; from=<a@example.net> to=<b@example.com> proto=ESMTP helo=<h>"
    )
    lines = syslog_lines(2)
    write_lines(log, [lines[0], huge, lines[1]])
    mailidx.build(log)
    rows = mailidx.query("SELECT length(raw), kind FROM log_lines ORDER BY line_number")
    assert rows[1] == (len(huge), "header_warning")
    assert mailidx.count() == 3


def test_summary_line_reports_files_lines_events_unparsed_speed_and_the_index(mailidx, tmp_path):
    log = tmp_path / "maillog"
    write_lines(log, DAY + ["Nov 27 07:00:00 mx1 postfix/smtpd[1]: a line no rule knows"])
    out = mailidx.build(log).stderr.decode().strip().splitlines()[-1]
    assert out.startswith("1 files, 36 lines, 34 events, 1 unparsed in ")
    assert out.endswith(f"lines/s) into {mailidx.db}")
    # built again: "0 lines" is right, and the line says which index already has them
    again = mailidx.build(log).stderr.decode().strip().splitlines()[-1]
    assert again.startswith("1 files, 0 lines, 0 events, 0 unparsed in ")
    assert again.endswith(f"into {mailidx.db}")


def test_files_given_in_any_order_are_indexed_oldest_first(mailidx, tmp_path):
    old, new = tmp_path / "maillog.1", tmp_path / "maillog"
    write_lines(old, syslog_lines(10, day=26))
    write_lines(new, syslog_lines(10, day=27))
    os.utime(old, (1_700_000_000, 1_700_000_000))
    mailidx.build(new, old)
    files = [r[0] for r in mailidx.query("SELECT path FROM files ORDER BY file_id")]
    assert files == [str(old), str(new)]


def test_build_without_paths_on_a_host_without_mail_logs_says_where_it_looked(mailidx):
    """No /var/log/mail.log, no Postfix in the journal: one line saying where it looked and
    what to pass, exit 1, and no index (the bundled sample is never indexed by itself)."""
    if glob.glob("/var/log/maillog*") or glob.glob("/var/log/mail.log*"):
        pytest.skip("this host has mail logs in /var/log")
    if shutil.which("journalctl"):
        from mailidx.ingest import journalctl as journal

        try:
            if journal.has_postfix(journal.Journal()):
                pytest.skip("this host's journal has Postfix entries")
        except journal.JournalError:
            pass  # not readable here: build says so in its one line
    proc = mailidx.run("build", check=False)
    assert proc.returncode == 1
    lines = proc.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert "/var/log (maillog*, mail.log*)" in lines[0]
    assert "journal" in lines[0]
    assert not mailidx.db.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="runs a command as nobody (needs root)")
def test_a_log_the_user_cannot_read_names_the_group_to_join(tmp_path):
    skip_unless_nobody_can_run_mailidx()
    shared = Path(tempfile.mkdtemp(prefix="mailidx-nobody-"))
    os.chmod(shared, 0o777)
    log = shared / "mail.log"
    write_lines(log, DAY)
    os.chown(log, 0, grp.getgrnam("adm").gr_gid)
    os.chmod(log, 0o640)  # Debian's /var/log/mail.log: root:adm 0640
    proc = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable,
         "-m", "mailidx", "build", "--db", str(shared / "i.duckdb"), str(log)],
        capture_output=True,
        cwd=Path(__file__).resolve().parents[1],
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.decode().splitlines() if line.startswith("mailidx:")]
    assert errors == [
        f"mailidx: {log}: permission denied; join the adm group "
        "(sudo usermod -aG adm $USER, then log in again) or run as root"
    ]
