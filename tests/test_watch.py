"""`mailidx watch`: real watch processes follow real files that a writer process appends to and
rotates, while other processes read the index."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mailidx import store
from tests.conftest import Mailidx, decompressed, syslog_lines, write_lines
from tests.test_crash_safety import FINGERPRINT

# Waiting bounds: how long a test waits for something to become visible before it fails. They
# are generous on purpose (a loaded CI machine is slow) and are not speed requirements: latency
# is measured by bench/watch.py, never asserted here.
EVENTUALLY = 60.0

ROOT = Path(__file__).resolve().parent.parent

# A writer like syslog: appends whole lines in small groups at a fixed rate, reopens its file on
# SIGHUP (after a rotation), and prints "<monotonic time> <lines written>" after each group.
WRITER = """
import os, signal, sys, time
from tests.conftest import syslog_lines
path, start, count, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
reopen = []
signal.signal(signal.SIGHUP, lambda *_: reopen.append(1))
lines = [(line + "\\n").encode() for line in syslog_lines(count, start=start)]
group = max(1, int(rate / 100))
f = open(path, "ab", buffering=0)
began = time.monotonic()
for i in range(0, count, group):
    if reopen:
        reopen.clear()
        f.close()
        f = open(path, "ab", buffering=0)
    f.write(b"".join(lines[i : i + group]))
    done = min(i + group, count)
    print(f"{time.monotonic()} {done}", flush=True)
    time.sleep(max(0.0, began + done / rate - time.monotonic()))
f.close()
"""

# 100 read-only queries back to back, each with mailidx's own retry on the lock.
READER = """
import json, sys, time
from mailidx import store
waits, failures = [], []
for _ in range(int(sys.argv[2])):
    began = time.monotonic()
    try:
        con = store.connect(sys.argv[1], read_only=True)
        con.execute("SELECT count(*), max(line_number) FROM log_lines").fetchall()
        con.close()
    except Exception as exc:
        failures.append(str(exc))
    waits.append(time.monotonic() - began)
print(json.dumps({"waits": waits, "failures": failures}))
"""


class Watch:
    """A `mailidx watch` process on one index; stopped (and its stderr kept) at teardown."""

    def __init__(self, mailidx: Mailidx, *args: str, **env: str) -> None:
        self.mailidx = mailidx
        self.stderr_path = mailidx.tmp / f"watch-{time.monotonic_ns()}.err"
        self.stderr = open(self.stderr_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mailidx", "watch", "--year", "2026", *args],
            env=mailidx.env(**env),
            stdout=subprocess.DEVNULL,
            stderr=self.stderr,
        )

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.stderr.close()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.stderr.close()

    def messages(self) -> str:
        return self.stderr_path.read_text()


@pytest.fixture
def watches():
    started: list[Watch] = []
    yield started
    for watch in started:
        if watch.proc.poll() is None:
            watch.kill()


def start_watch(watches, mailidx, *args, **env) -> Watch:
    watch = Watch(mailidx, *args, **env)
    watches.append(watch)
    return watch


def watch_new_log(watches, mailidx, log: Path, lines: int, start: int, *args) -> Watch:
    """Write ``lines`` lines to ``log``, start watch with ``args`` and wait until it indexed
    them; every test that follows a log starts so."""
    write_lines(log, syslog_lines(lines, start=start))
    watch = start_watch(watches, mailidx, *args)
    assert wait_until(lambda: mailidx.db.exists() and len(indexed(mailidx)) == lines, EVENTUALLY)
    return watch


def start_writer(path: Path, start: int, count: int, rate: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(start), str(count), str(rate)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def indexed(mailidx: Mailidx) -> list[str]:
    con = store.connect(str(mailidx.db), read_only=True, wait=5)
    try:
        return [r[0] for r in con.execute("SELECT raw FROM log_lines").fetchall()]
    finally:
        con.close()


def wait_until(condition, timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def marks(text: str) -> list[tuple[float, int]]:
    """The "<time> <count>" lines a writer or reader printed."""
    return [(float(t), int(n)) for t, n in (line.split() for line in text.splitlines())]


def lines_on_disk(folder: Path) -> list[str]:
    paths = sorted(folder.glob("maillog*"))
    return [line for path in paths for line in decompressed(path).decode().splitlines()]


def test_appended_lines_become_queryable_in_order_and_none_is_lost_or_doubled(
    mailidx, tmp_path, watches
):
    log = tmp_path / "maillog"
    watch = watch_new_log(watches, mailidx, log, 200, 20_000, "--quiet", str(log))
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom mailidx import store\n"
            "while True:\n"
            # waits for a batch as long as EVENTUALLY: how long is the benchmark's business
            "    con = store.connect(sys.argv[1], read_only=True, wait=60)\n"
            "    n = con.execute('SELECT count(*) FROM log_lines').fetchall()[0][0]\n"
            "    con.close()\n"
            "    print(time.monotonic(), n, flush=True)\n"
            "    time.sleep(0.1)\n",
            str(mailidx.db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    writer = start_writer(log, 0, 10_000, 1000)
    appends = marks(writer.communicate(timeout=60)[0])
    assert wait_until(lambda: len(indexed(mailidx)) >= 10_200, EVENTUALLY)
    time.sleep(0.3)
    reader.terminate()
    seen = marks(reader.communicate()[0])
    assert watch.stop() == 0

    # A reader sees the count only grow, and sees every append become visible after it was
    # written (how soon is the benchmark's business: bench/watch.py).
    counts = [count for _, count in seen]
    assert counts == sorted(counts)
    for written_at, n in appends:
        assert any(count >= n + 200 and t >= written_at for t, count in seen), (written_at, n)

    sql = mailidx.run(
        "sql", "--format", "json", 'SELECT "offset", raw, file FROM log_lines ORDER BY "offset"'
    )
    rows = json.loads(sql.stdout)
    data = log.read_bytes()
    expected_offsets = [0] + [i + 1 for i, b in enumerate(data[:-1]) if b == 10]
    assert [r["offset"] for r in rows] == expected_offsets  # each line once, none missing
    assert [r["raw"] for r in rows] == data.decode().splitlines()
    assert {r["file"] for r in rows} == {str(log)}


def gzip_and_remove(path: Path, gz: Path) -> None:
    with open(path, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    path.unlink()


def rotate_create(folder: Path, writer) -> None:
    """logrotate `create`: rename, the writer goes on in the renamed file a moment, reopens."""
    os.rename(folder / "maillog", folder / "maillog.1")
    time.sleep(0.3)
    writer.send_signal(signal.SIGHUP)


def rotate_copytruncate(folder: Path, writer) -> None:
    """logrotate `copytruncate`: copy, then truncate in place; the writer never reopens."""
    shutil.copyfile(folder / "maillog", folder / "maillog.1")
    os.truncate(folder / "maillog", 0)


def rotate_dateext_then_compress(folder: Path, writer) -> None:
    """logrotate `dateext` + `delaycompress`: a dated name now, gzipped later while the new
    file is being written."""
    os.rename(folder / "maillog", folder / "maillog-20261127")
    time.sleep(0.2)
    writer.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    gzip_and_remove(folder / "maillog-20261127", folder / "maillog-20261127.gz")


def rotate_postfix_logrotate(folder: Path, writer) -> None:
    """`postfix logrotate`: rename maillog_file to a dated name and compress it at once, while
    postlogd still appends to the renamed file until it reopens."""
    dated = folder / "maillog.20261127-031500"
    os.rename(folder / "maillog", dated)
    gzip_and_remove(dated, folder / "maillog.20261127-031500.gz")
    time.sleep(0.3)
    writer.send_signal(signal.SIGHUP)


def rotate_delete_and_recreate(folder: Path, writer) -> None:
    """The file is deleted while the writer appends to it, then the writer makes a new one."""
    (folder / "maillog").unlink()
    time.sleep(0.3)
    writer.send_signal(signal.SIGHUP)


ROTATIONS = {
    "create": rotate_create,
    "copytruncate": rotate_copytruncate,
    "dateext-delaycompress": rotate_dateext_then_compress,
    "postfix-logrotate": rotate_postfix_logrotate,
    "delete-and-recreate": rotate_delete_and_recreate,
}


@pytest.mark.parametrize("style", [*ROTATIONS, "create --poll"])
def test_rotation_while_appending_ends_with_every_line_indexed_once(
    mailidx, tmp_path, watches, style
):
    folder = tmp_path / "logs"
    folder.mkdir()
    written = syslog_lines(1500, start=30_000)
    poll = ["--poll"] if "--poll" in style else []
    start_watch(watches, mailidx, "--quiet", "--wait", *poll, str(folder / "maillog*"))
    writer = start_writer(folder / "maillog", 30_000, len(written), 1000)
    # Rotate once watch follows the file (lines in a file deleted before anyone opened it
    # are gone for every reader).
    assert wait_until(lambda: mailidx.db.exists() and indexed(mailidx), 10, step=0.05)
    ROTATIONS[style.split()[0]](folder, writer)
    writer.wait(timeout=30)

    def caught_up() -> bool:
        return mailidx.db.exists() and set(lines_on_disk(folder)) <= set(indexed(mailidx))

    assert wait_until(caught_up, EVENTUALLY)
    time.sleep(1.0)  # a line indexed twice would show up by now
    got = indexed(mailidx)
    assert len(got) == len(set(got)), "a line was indexed twice"
    assert set(got) <= set(written)
    if style == "copytruncate":
        # Lines written between logrotate's copy and its truncation are in no file; watch
        # may or may not have read them in that moment.
        assert set(lines_on_disk(folder)) <= set(got)
    else:
        assert sorted(got) == sorted(written)


def test_a_directory_that_does_not_exist_yet_is_followed_once_it_appears(
    mailidx, tmp_path, watches
):
    folder = tmp_path / "later"
    start_watch(watches, mailidx, "--quiet", "--wait", str(folder / "maillog*"))
    time.sleep(1.0)
    folder.mkdir()
    written = syslog_lines(800, start=40_000)
    start_writer(folder / "maillog", 40_000, len(written), 1000).wait(timeout=30)
    assert wait_until(lambda: mailidx.db.exists() and len(indexed(mailidx)) >= 800, EVENTUALLY)
    assert sorted(indexed(mailidx)) == sorted(written)


def test_kill_minus_9_at_random_moments_then_restart_equals_a_fresh_build(
    mailidx, tmp_path, watches
):
    folder = tmp_path / "logs"
    folder.mkdir()
    pattern = str(folder / "maillog*")
    # Small batches, back to back: watch is inside a transaction most of the time.
    tight = {"MAILIDX_BATCH_BYTES": str(48 << 10)}
    rng = random.Random(6)
    writer = start_writer(folder / "maillog", 50_000, 4000, 1000)
    watch = start_watch(
        watches, mailidx, "--quiet", "--wait", "--interval", "0.05", pattern, **tight
    )
    for kill in range(3):
        time.sleep(rng.uniform(0.7, 1.3))
        watch.kill()
        if kill == 1:
            rotate_create(folder, writer)
        watch = start_watch(
            watches, mailidx, "--quiet", "--wait", "--interval", "0.05", pattern, **tight
        )
    writer.wait(timeout=30)
    assert wait_until(lambda: len(indexed(mailidx)) >= 4000, EVENTUALLY)
    assert watch.stop() == 0

    fresh = Mailidx(tmp_path / "fresh.duckdb", tmp_path)
    fresh.build("--year", "2026", folder / "maillog.1", folder / "maillog")
    rows = 'SELECT file, "offset", line_number, kind, raw FROM log_lines ORDER BY file, "offset"'
    assert mailidx.query(rows) == fresh.query(rows)
    assert mailidx.query(FINGERPRINT) == fresh.query(FINGERPRINT)


def test_readers_get_in_between_batches_under_steady_append_load(mailidx, tmp_path, watches):
    log = tmp_path / "maillog"
    watch = watch_new_log(watches, mailidx, log, 100, 60_000, "--quiet", str(log))
    writer = start_writer(log, 60_100, 6000, 1000)
    time.sleep(1.0)
    reader = subprocess.run(
        [sys.executable, "-c", READER, str(mailidx.db), "100"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    result = json.loads(reader.stdout)
    assert result["failures"] == []
    # Every one of the 100 opens got in within the readers' own retry limit
    # (store.BUSY_RETRY_SECONDS): a reader never met the index held for longer than that.
    assert len(result["waits"]) == 100
    writer.terminate()
    writer.wait()
    total = len(log.read_bytes().splitlines())
    assert wait_until(lambda: len(indexed(mailidx)) == total, EVENTUALLY)
    assert watch.stop() == 0


def test_a_reader_holding_the_index_makes_watch_lag_and_name_it_then_catch_up(
    mailidx, tmp_path, watches
):
    log = tmp_path / "maillog"
    watch = watch_new_log(watches, mailidx, log, 100, 70_000, "--quiet", str(log))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, duckdb\n"
            "con = duckdb.connect(sys.argv[1], read_only=True)\n"
            "print('open', flush=True)\n"
            "time.sleep(4)\n"
            "con.close()\n",
            str(mailidx.db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline() == "open\n"
    write_lines(log, syslog_lines(300, start=70_100), mode="a")
    time.sleep(3.0)
    assert watch.messages().count(f"index held by pid {holder.pid}") == 1
    holder.wait(timeout=10)
    assert wait_until(lambda: len(indexed(mailidx)) == 400, EVENTUALLY)  # caught up
    assert watch.stop() == 0
    messages = watch.messages()
    assert "bytes behind" in messages
    assert f"index released by pid {holder.pid}" in messages
    assert sorted(indexed(mailidx)) == sorted(syslog_lines(400, start=70_000))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_commits_the_pending_lines_and_exits_0(mailidx, tmp_path, watches, signum):
    log = tmp_path / "maillog"
    watch = watch_new_log(watches, mailidx, log, 100, 80_000, str(log), "--interval", "60")
    write_lines(log, syslog_lines(250, start=80_100), mode="a")
    time.sleep(0.5)  # seen by watch, held back by the long interval
    assert len(indexed(mailidx)) == 100
    assert watch.stop(signum) == 0
    assert len(indexed(mailidx)) == 350
    assert "Traceback" not in watch.messages()
    assert watch.messages().rstrip().endswith(f"events indexed into {mailidx.db}")
    assert not Path(str(mailidx.db) + ".wal").exists()  # folded into the file on the way out


def test_a_bad_file_is_reported_once_and_the_others_are_still_followed(mailidx, tmp_path, watches):
    (tmp_path / "maillog.bin").write_bytes(bytes(range(256)) * 40)
    log = tmp_path / "maillog"
    watch = watch_new_log(watches, mailidx, log, 50, 90_000, "--quiet", str(tmp_path / "maillog*"))
    write_lines(log, syslog_lines(50, start=90_050), mode="a")
    assert wait_until(lambda: len(indexed(mailidx)) == 100, EVENTUALLY)
    time.sleep(1.5)  # a few more scans: still one line about the bad file
    assert watch.stop() == 0
    lines = watch.messages().splitlines()
    assert lines == [
        f"mailidx: {tmp_path / 'maillog.bin'}: not a text log (binary data); "
        "leave it out of the list"
    ]


@pytest.mark.parametrize(
    ("path", "message"),
    [("-", "not stdin"), ("{tmp}", "is a directory")],
)
def test_watch_refuses_stdin_and_a_directory_in_one_line(mailidx, tmp_path, path, message):
    proc = mailidx.run("watch", path.format(tmp=tmp_path), check=False)
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_watch_without_log_files_refuses_in_one_line_like_build_unless_wait(
    mailidx, tmp_path, watches
):
    pattern = str(tmp_path / "logs" / "maillog*")
    proc = mailidx.run("watch", pattern, check=False)
    assert proc.returncode == 1
    assert proc.stderr.decode() == (
        f"mailidx: no mail logs at {pattern}; give the files to follow, "
        "or --wait for them to appear\n"
    )
    assert not mailidx.db.exists()  # no empty index left behind
    watch = start_watch(watches, mailidx, "--wait", pattern)
    assert wait_until(lambda: "waiting for it" in watch.messages(), 10)
    assert watch.proc.poll() is None
    assert watch.stop() == 0
    assert watch.messages().splitlines()[0] == (
        f"mailidx: nothing to follow yet at {pattern}; waiting for it"
    )


def status_paths(mailidx) -> list[tuple[str, str, str]]:
    out = mailidx.run("status", "--format", "csv").stdout.decode()
    return [tuple(row[:3]) for row in csv.reader(io.StringIO(out))][1:]


def test_status_follows_a_dateext_rotation_and_its_later_compression(mailidx, tmp_path, watches):
    """Nothing new is read from the renamed file, or from its .gz: watch still stores the
    name each file has now, and status shows it beside the name it had first."""
    log, dated = tmp_path / "maillog", tmp_path / "maillog-20261127"
    watch = watch_new_log(watches, mailidx, log, 100, 60_000, "--quiet", str(tmp_path / "maillog*"))
    os.rename(log, dated)
    write_lines(log, syslog_lines(40, start=60_100))
    size = str(dated.stat().st_size)
    moved = [(str(dated), str(log), size), (str(log), "", str(log.stat().st_size))]
    assert wait_until(lambda: status_paths(mailidx) == moved, 10)
    gzip_and_remove(dated, Path(f"{dated}.gz"))
    assert wait_until(lambda: status_paths(mailidx)[0][0] == f"{dated}.gz", 10)
    assert watch.stop() == 0
    assert status_paths(mailidx) == [
        (f"{dated}.gz", str(log), size),
        (str(log), "", str(log.stat().st_size)),
    ]
    assert len(indexed(mailidx)) == 140


def test_readers_between_watch_batches_never_find_queue_ids_pending(mailidx, tmp_path, watches):
    """Each watch batch leaves the stored per-message views current: a reader (who gets in
    between batches) never finds lines whose queue IDs are still pending, and at the end every
    stored view equals its live view."""
    from tests.test_stored_views import STORED, differences, sample_lines

    lines = sample_lines()
    log = tmp_path / "maillog"
    log.write_bytes(b"".join(lines[:50]))
    start_watch(watches, mailidx, "--quiet", str(log), MAILIDX_BATCH_BYTES="3000")
    assert wait_until(lambda: mailidx.db.exists() and len(indexed(mailidx)) == 50, EVENTUALLY)
    seen = []
    with open(log, "ab") as f:
        for i in range(50, len(lines), 40):
            f.write(b"".join(lines[i : i + 40]))
            f.flush()
            con = store.connect(str(mailidx.db), read_only=True, wait=EVENTUALLY)
            try:
                seen.append(
                    con.execute(
                        "SELECT (SELECT count(*) FROM log_lines), "
                        "(SELECT count(*) FROM pending_messages)"
                    ).fetchall()[0]
                )
            finally:
                con.close()
            time.sleep(0.1)
    assert wait_until(lambda: len(indexed(mailidx)) == len(lines), EVENTUALLY)
    watches[-1].stop()
    assert len(seen) > 5
    assert [s for s in seen if s[1] != 0] == []
    assert mailidx.query("SELECT count(*) FROM pending_messages") == [(0,)]
    for name in STORED:
        assert differences(mailidx.db, name) == [], name


class CountingCommits:
    """A real DuckDB connection that counts the transactions committed on it."""

    def __init__(self, con) -> None:
        self.con = con
        self.commits = 0

    def execute(self, sql, *args):
        if isinstance(sql, str) and sql.strip().upper() == "COMMIT":
            self.commits += 1
        return self.con.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self.con, name)


def test_each_watch_batch_is_one_commit_that_carries_its_stored_rows(mailidx, tmp_path):
    """The lines of a watch batch and the refresh of their stored per-message rows share one
    transaction (one commit per batch, not the batch and then the refresh)."""
    import threading

    from mailidx.watch import watcher as watching
    from tests.test_stored_views import STORED, differences, sample_lines

    lines = sample_lines()[:300]
    log = tmp_path / "maillog"
    log.write_bytes(b"".join(lines))
    opened: list[CountingCommits] = []

    class Counted(watching.Watcher):
        def _open(self, small: bool = False):
            con = CountingCommits(super()._open(small))
            opened.append(con)
            return con

    options = watching.WatchOptions(tz="UTC", year=2026, batch_bytes=4000, poll=True)
    watcher = Counted(str(mailidx.db), [str(log)], options, lambda message: None)
    thread = threading.Thread(target=watcher.run)
    thread.start()
    try:
        assert wait_until(lambda: watcher.status.lines == len(lines), EVENTUALLY)
    finally:
        watcher.stop()
        thread.join(EVENTUALLY)
    batches = [con.commits for con in opened if con.commits]
    assert len(batches) >= 3  # 300 lines, 4,000 bytes a batch
    assert batches == [1] * len(batches)
    assert mailidx.query("SELECT count(*) FROM pending_messages") == [(0,)]
    assert mailidx.count() == len(lines)
    for name in STORED:
        assert differences(mailidx.db, name) == [], name
