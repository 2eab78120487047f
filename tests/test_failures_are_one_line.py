"""Every failure is one line, with real processes and files: disk full, Ctrl-C, permission and
read-only file systems, a truncated index, a --db under a file, bad option values; build
waits for watch's gap; a future mtime is warned about; CRLF lines are understood. After
each, the index equals a clean build of the same readable input."""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import Mailidx, stop_points, syslog_lines, write_lines
from tests.hostile import committed, only_error, snapshot


@pytest.fixture
def logs(tmp_path):
    paths = []
    for day in (25, 26, 27):
        log = tmp_path / f"maillog-{day}"
        write_lines(log, syslog_lines(6_000, day=day))
        paths.append(log)
    return paths


def clean_build(tmp_path, *paths) -> Mailidx:
    clean = Mailidx(tmp_path / "clean.duckdb", tmp_path)
    clean.build(*paths)
    return clean


@contextlib.contextmanager
def mounted(target, *options):
    """A small tmpfs at ``target`` (root only); skips where mounting is not allowed."""
    target.mkdir(exist_ok=True)
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(target)],
        capture_output=True,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.decode().strip()}")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


def test_disk_full_is_one_line_with_what_was_committed_and_the_next_build_goes_on(tmp_path, logs):
    with mounted(tmp_path / "small", "size=3m") as disk:
        db = disk / "index.duckdb"
        mailidx = Mailidx(db, tmp_path)
        env = mailidx.env(MAILIDX_BATCH_BYTES=str(128 << 10))
        proc = mailidx.build(*logs, check=False, env=env)
        message = only_error(proc)
        n = committed(message)
        assert message == (
            f"mailidx: {db}: disk full (no space left on device); {n:,} lines committed and "
            "kept; free some space and run build again"
        )
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        assert mailidx.count() == n
        mailidx.build(*logs, env=env)
        assert snapshot(mailidx) == snapshot(clean_build(tmp_path, *logs))


def test_ctrl_c_at_random_points_says_one_line_and_loses_nothing(tmp_path, logs):
    clean = Mailidx(tmp_path / "clean.duckdb", tmp_path)
    delays = stop_points(random.Random(13), lambda: clean.build(*logs))
    mailidx = Mailidx(tmp_path / "index.duckdb", tmp_path)
    env = mailidx.env(MAILIDX_BATCH_BYTES=str(64 << 10))
    interrupted = 0
    for delay in delays:
        before = mailidx.count() if mailidx.db.exists() else 0
        proc = subprocess.Popen(
            [sys.executable, "-m", "mailidx", "build", *map(str, logs)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        if proc.returncode == 0:
            continue  # it finished first
        interrupted += 1
        message = only_error(done, status=130)
        n = committed(message)
        assert (
            message == f"mailidx: interrupted; {n:,} lines committed, run build again to continue"
        )
        assert mailidx.count() == before + n
    assert interrupted >= 3, "the build finished before it could be interrupted"
    mailidx.build(*logs, env=env)
    assert snapshot(mailidx) == snapshot(clean)


def test_a_db_under_a_file_is_named(tmp_path, logs):
    somefile = tmp_path / "somefile"
    somefile.write_text("not a directory\n")
    db = somefile / "x.duckdb"
    mailidx = Mailidx(db, tmp_path)
    message = only_error(mailidx.build(logs[0], check=False))
    assert message == (
        f"mailidx: {db}: {somefile} is a file, not a directory; pass --db a path inside a directory"
    )


def test_a_read_only_file_system_is_named(tmp_path, logs):
    with mounted(tmp_path / "ro", "size=8m") as disk:
        good = Mailidx(disk / "index.duckdb", tmp_path)
        good.build(logs[0])
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        expected = snapshot(good)
        for db in (disk / "index.duckdb", disk / "new" / "index.duckdb"):
            proc = Mailidx(db, tmp_path).build(*logs, check=False)
            message = only_error(proc)
            if db.parent == disk:
                assert message == (
                    f"mailidx: {db}: read-only file system; build needs a writable disk "
                    "(pass --db on another one)"
                )
            else:
                assert message == (
                    f"mailidx: {db}: cannot create {db.parent}: read-only file system; pass "
                    "--db in a directory you may write"
                )
        assert good.run("status").returncode == 0  # reading still works
        assert snapshot(good) == expected


def without_root_powers(mailidx: Mailidx, *args: str) -> subprocess.CompletedProcess:
    """mailidx run as root without the power to override file permissions (as another user
    would meet them; root's own Python stays readable)."""
    return subprocess.run(
        ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
        + [sys.executable, "-m", "mailidx", *args],
        capture_output=True,
        env=mailidx.env(),
        timeout=300,
    )


def test_permission_problems_are_named(tmp_path, logs):
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to meet permissions as another user would")
    private = tmp_path / "private"
    private.mkdir()
    good = Mailidx(private / "index.duckdb", tmp_path)
    good.build(logs[0])
    expected = snapshot(good)
    for path in (private, *private.iterdir()):
        os.chown(path, 65534, 65534)
    private.chmod(0o700)
    for args in (("status",), ("sql", "SELECT 1"), ("build", str(logs[0]))):
        proc = without_root_powers(good, *args)
        assert only_error(proc) == (
            f"mailidx: {good.db}: permission denied; run as a user who may read (and, for "
            "build, write) it and its directory"
        )
    new = private / "new" / "x.duckdb"
    proc = without_root_powers(good, "build", str(logs[0]), "--db", str(new))
    assert only_error(proc) == (
        f"mailidx: {new}: cannot create {new.parent}: permission denied; "
        "pass --db in a directory you may write"
    )
    assert snapshot(good) == expected


def test_a_truncated_index_is_named_as_such(tmp_path, logs):
    good = Mailidx(tmp_path / "index.duckdb", tmp_path)
    good.build(logs[0])
    data = good.db.read_bytes()
    for size in (100, len(data) // 2):
        cut = Mailidx(tmp_path / f"cut-{size}.duckdb", tmp_path)
        cut.db.write_bytes(data[:size])
        for args in (("status",), ("sql", "SELECT count(*) FROM messages"), ("build",)):
            if args == ("build",):
                args = ("build", str(logs[0]))
            message = only_error(cut.run(*args, check=False))
            assert message.startswith(f"mailidx: {cut.db}: the index file is cut short or damaged")
            assert message.endswith(
                "; restore it from a copy, or build a new one (remove it or pass another --db)"
            )
        assert cut.db.read_bytes() == data[:size]  # left as it was


@pytest.mark.parametrize(
    "args",
    [
        ("query", "bounced", "--limit", "-1"),
        ("query", "bounced", "--limit", "99999999999999999999"),
        ("query", "bounced", "--since", "3000000d"),
        ("summary", "--until", "999999999w"),
        ("query", "sent", "--since", "next tuesday"),
        ("build", "--batch-mb", "0"),
    ],
)
def test_bad_option_values_are_usage_errors(tmp_path, logs, args):
    mailidx = Mailidx(tmp_path / "index.duckdb", tmp_path)
    mailidx.build(logs[0])
    message = only_error(mailidx.run(*args, check=False), status=2)
    option = next(a for a in args if a.startswith("--"))
    assert option in message
    assert re.fullmatch(r"mailidx( \w+)?: .+", message)


def test_build_waits_for_watch_to_let_go_between_batches(tmp_path):
    followed = tmp_path / "maillog"
    write_lines(followed, syslog_lines(200))
    mailidx = Mailidx(tmp_path / "index.duckdb", tmp_path)
    watch = subprocess.Popen(
        [sys.executable, "-m", "mailidx", "watch", "--quiet", str(followed)],
        env=mailidx.env(),
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                if mailidx.count() == 200:
                    break
            time.sleep(0.2)
        built = []
        for i in range(10):
            write_lines(followed, syslog_lines(50, start=200 + 50 * i), mode="a")
            log = tmp_path / f"archive-{i}"
            write_lines(log, syslog_lines(100, start=10_000 + 100 * i, day=20))
            proc = mailidx.build(log, check=False)
            err = proc.stderr.decode()
            assert proc.returncode == 0, err
            assert "Traceback" not in err and "busy" not in err
            assert all(
                line.startswith(("waiting up to 10 s for", "1 files")) for line in err.splitlines()
            ), err
            built.append(log)
            time.sleep(0.3)
    finally:
        watch.send_signal(signal.SIGTERM)
        watch.wait(timeout=60)
    assert watch.returncode == 0, watch.stderr.read().decode()
    assert snapshot(mailidx) == snapshot(clean_build(tmp_path, followed, *built))


def test_a_file_from_the_future_is_warned_about_and_year_overrides(tmp_path):
    log = tmp_path / "maillog"
    write_lines(log, syslog_lines(50))
    future = time.time() + 3 * 365 * 86400
    os.utime(log, (future, future))
    year = time.gmtime(future).tm_year
    mailidx = Mailidx(tmp_path / "index.duckdb", tmp_path)
    proc = mailidx.build(log)
    warnings = [x for x in proc.stderr.decode().splitlines() if x.startswith("mailidx")]
    assert warnings == [
        f"mailidx: warning: {log}: modified in the future "
        f"({time.strftime('%Y-%m-%d %H:%M', time.gmtime(future))} UTC); its year-less lines "
        "are dated up to then: check the clock, or give --year"
    ]
    assert mailidx.query("SELECT DISTINCT year(ts) FROM log_lines")[0][0] == year
    given = Mailidx(tmp_path / "given.duckdb", tmp_path)
    proc = given.build(log, "--year", "2026")
    assert "warning" not in proc.stderr.decode()
    assert given.query("SELECT DISTINCT year(ts) FROM log_lines") == [(2026,)]
    clean = Mailidx(tmp_path / "clean.duckdb", tmp_path)
    clean.build(log)
    assert snapshot(mailidx) == snapshot(clean)


def test_crlf_lines_are_understood_and_raw_keeps_the_cr(tmp_path):
    lines = syslog_lines(2_000)
    crlf = tmp_path / "maillog.crlf"
    crlf.write_bytes("".join(line + "\r\n" for line in lines).encode())
    lf = tmp_path / "maillog.lf"
    write_lines(lf, lines)
    with_cr = Mailidx(tmp_path / "crlf.duckdb", tmp_path)
    with_cr.build(crlf, "--year", "2026")
    plain = Mailidx(tmp_path / "lf.duckdb", tmp_path)
    plain.build(lf, "--year", "2026")
    raws = [r[0] for r in with_cr.query("SELECT raw FROM log_lines ORDER BY line_number")]
    assert raws == [line + "\r" for line in lines]
    assert with_cr.count("events") == plain.count("events")
    got, expected = snapshot(with_cr, with_paths=False), snapshot(plain, with_paths=False)
    for view in expected:
        if view == "log_lines":
            continue  # raw (and offset) keep the CR; the rest must be equal
        assert got[view] == expected[view], view
    columns = "line_number, ts, host, program, pid, queue_id, kind"
    assert with_cr.query(f"SELECT {columns} FROM log_lines ORDER BY 1") == plain.query(
        f"SELECT {columns} FROM log_lines ORDER BY 1"
    )
