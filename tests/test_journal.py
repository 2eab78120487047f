"""`mailidx build --journal` / `watch --journal`: real journal files (made by
systemd-journal-remote, no journald needed) read by a real journalctl. The index of a journal
equals the index of the same lines as a syslog file; re-runs, appends, a vacuumed start and
kill -9 neither lose nor double an entry."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pytest

from mailidx.answers import schema
from tests.conftest import (
    DAY,
    FIXTURES,
    Mailidx,
    skip_unless_nobody_can_run_mailidx,
    stop_points,
    syslog_lines,
)
from tests.journals import Entry, from_syslog, needs_journal, write_journal, write_syslog

pytestmark = needs_journal

DAY_START = dt.datetime(2026, 11, 27, tzinfo=dt.timezone.utc)
# Columns that name where a line came from: the journal's stream or the syslog file.
WHERE_FROM = {"file", "file_id", "path", "first_path"}
EVENTUALLY = 60.0  # seconds a test waits for watch to show entries (not a speed requirement)


def fixture_entries() -> list[Entry]:
    """Postfix entries from several services and two hosts (mx1 hands a message to mx2's
    instance `postfix-out`), a non-UTF-8 MESSAGE, and other programs' entries in between."""
    mx1 = from_syslog(DAY, DAY_START)
    hosts = (FIXTURES / "two-hosts-mx1.log").read_text().splitlines()
    hosts += (FIXTURES / "two-hosts-mx2.log").read_text().splitlines()
    two = from_syslog(sorted(hosts, key=lambda line: line[:15]), DAY_START)
    t = two[-1].realtime
    extra = [
        Entry(t + 10, "mx2", "postfix-out/smtp", 300, b"6C7D8E9FA0: to=<carol@example.net>, "
              b"relay=mx1.example.com[192.0.2.10]:25, delay=0.3, delays=0.1/0/0.1/0.1, "
              b"dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 1B2C3D4E5F)"),
        Entry(t + 20, "mx2", "postfix-out/qmgr", 301, b"6C7D8E9FA0: removed"),
        Entry(t + 30, "mx1", "postfix/smtpd", 104,
              b"warning: Illegal address syntax from unknown[203.0.113.9] in MAIL command: "
              b"<\xe9t\xe9@example.net>"),
        Entry(t + 40, "mx1", "CRON", 77, b"(root) CMD (run-parts /etc/cron.hourly)"),
        Entry(t + 50, "mx2", "opendkim", 88, b"6C7D8E9FA0: DKIM-Signature field added"),
        Entry(t + 60, "mx1", "postfix", 9, b"postfix startup: started"),
    ]  # fmt: skip
    entries = sorted(mx1 + two + extra, key=lambda e: e.realtime)
    assert len({e.realtime for e in entries}) == len(entries)  # every entry its own time
    return entries


def many_entries(n: int, start_day: int = 20) -> list[Entry]:
    """n realistic Postfix entries (and one other program's per hundred), spread over days."""
    lines = []
    for day in range(start_day, start_day + (n - 1) // 40_000 + 1):
        lines += syslog_lines(min(40_000, n - len(lines)), day=day)
    entries = []
    for i, line in enumerate(lines):
        day = int(line[4:6])
        entry = from_syslog([line], DAY_START.replace(day=day), 0)[0]
        entry.realtime += i % 1000  # distinct times within the second
        entries.append(entry)
        if i % 100 == 0:
            entries.append(Entry(entry.realtime, "mx1", "dovecot", 5, b"imap-login: Login"))
    return entries


def snapshot(db: Path) -> dict[str, list]:
    """Every public view's rows (and the lines' raw bytes), without the columns naming the
    source, sorted."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for name in (*schema.PUBLIC, "lines"):
            if name in ("files", "journals"):
                continue
            columns = [
                r[0] for r in con.execute(f"DESCRIBE {name}").fetchall() if r[0] not in WHERE_FROM
            ]
            rows = con.execute(f"SELECT {', '.join(map(quote, columns))} FROM {name}").fetchall()
            out[name] = sorted(rows, key=repr)
        return out
    finally:
        con.close()


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def syslog_index(tmp: Path, entries: list[Entry], name: str = "syslog") -> Mailidx:
    log = tmp / f"{name}.log"
    write_syslog(log, entries)
    index = Mailidx(tmp / f"{name}.duckdb", tmp)
    index.build(log)
    return index


def journal_build(index: Mailidx, journal: Path, *args: str, **env) -> str:
    proc = index.run(
        "build", "--journal-file", str(journal), *args, env=index.env(**env) if env else None
    )
    return proc.stderr.decode()


def test_a_journal_indexes_like_the_same_lines_in_a_syslog_file(tmp_path):
    entries = fixture_entries()
    journal = tmp_path / "system.journal"
    write_journal(journal, entries)
    index = Mailidx(tmp_path / "journal.duckdb", tmp_path)
    out = journal_build(index, journal)

    expected = syslog_index(tmp_path, entries)
    assert snapshot(index.db) == snapshot(expected.db)
    postfix = [e for e in entries if e.postfix]
    assert index.count() == len(postfix)  # other programs' entries are not Postfix's lines
    assert f"journal: {len(entries):,} entries read, {len(postfix):,} lines" in out
    assert out.rstrip().endswith(f"into {index.db}")
    # the source is named after the machine whose journal it is; the non-UTF-8 bytes are kept
    [(file,)] = index.query("SELECT DISTINCT file FROM log_lines")
    assert file.startswith("journal:") and len(file) == len("journal:") + 32
    [(raw_bytes,)] = index.query("SELECT raw_bytes FROM log_lines WHERE raw_bytes IS NOT NULL")
    assert b"<\xe9t\xe9@example.net>" in raw_bytes
    assert {r[0] for r in index.query("SELECT DISTINCT host FROM events")} == {"mx1", "mx2"}
    services = {r[0] for r in index.query("SELECT DISTINCT service FROM events")}
    assert {"postfix", "postfix-out"} <= services
    assert index.query(
        "SELECT status FROM deliveries WHERE host = 'mx2' AND queue_id = '6C7D8E9FA0'"
    ) == [("sent",)]


def test_a_rerun_adds_nothing_and_an_appended_journal_adds_only_its_new_entries(tmp_path):
    entries = fixture_entries() + many_entries(3000, start_day=28)
    first, second = entries[:1500], entries[1500:]
    journal = tmp_path / "system.journal"
    write_journal(journal, first)
    index = Mailidx(tmp_path / "journal.duckdb", tmp_path)
    journal_build(index, journal)
    before = snapshot(index.db)
    again = journal_build(index, journal)
    assert "journal: 0 entries read, 0 lines" in again
    assert snapshot(index.db) == before

    write_journal(journal, second)  # journald appending
    out = journal_build(index, journal)
    added = [e for e in second if e.postfix]
    assert f"journal: {len(second):,} entries read, {len(added):,} lines" in out
    assert snapshot(index.db) == snapshot(syslog_index(tmp_path, entries).db)


def test_a_vacuumed_journal_goes_on_after_the_last_indexed_time_and_says_so(tmp_path):
    entries = fixture_entries() + many_entries(2000, start_day=28)
    old = tmp_path / "old.journal"
    write_journal(old, entries[:1200])
    index = Mailidx(tmp_path / "journal.duckdb", tmp_path)
    zone = {"TZ": "America/New_York"}  # the last time read is an instant, whatever the zone
    journal_build(index, old, **zone)

    # after a vacuum: the oldest entries gone, the last indexed one too (a new journal file,
    # so the index's cursor names an entry this journal does not have)
    vacuumed = tmp_path / "vacuumed.journal"
    write_journal(vacuumed, entries[1000:])
    out = journal_build(index, vacuumed, **zone)
    assert "no longer has the last entry indexed" in out
    assert snapshot(index.db) == snapshot(syslog_index(tmp_path, entries).db)
    assert "journal: 0 entries read" in journal_build(index, vacuumed)  # the cursor is good again


def test_since_limits_the_first_import_only(tmp_path):
    entries = fixture_entries()
    journal = tmp_path / "system.journal"
    write_journal(journal, entries)
    index = Mailidx(tmp_path / "journal.duckdb", tmp_path)
    journal_build(index, journal, "--since", "2026-11-27T10:00:00+00:00")
    start = int((dt.datetime(2026, 11, 27, 10, tzinfo=dt.timezone.utc).timestamp()) * 1e6)
    later = [e for e in entries if e.realtime >= start]
    assert snapshot(index.db) == snapshot(syslog_index(tmp_path, later).db)


FINGERPRINT = """
SELECT (SELECT count(*) FROM log_lines),
       (SELECT count(*) FROM events),
       (SELECT sum(hash("offset", line_number, ts, kind, raw)) FROM log_lines),
       (SELECT sum(hash(line_number, kind, queue_id, sender, recipient, status, client_ip))
          FROM events),
       (SELECT count(*) FROM messages), (SELECT count(*) FROM deliveries),
       (SELECT list(lines_done ORDER BY path) FROM files)
"""


def test_kill_minus_9_during_a_journal_build_then_a_rebuild_equals_a_clean_build(tmp_path):
    entries = many_entries(20_000)
    journal = tmp_path / "system.journal"
    write_journal(journal, entries)
    expected = syslog_index(tmp_path, entries)

    timing = Mailidx(tmp_path / "timing.duckdb", tmp_path)
    batch = str(192 << 10)
    delays = stop_points(
        random.Random(15), lambda: journal_build(timing, journal, MAILIDX_BATCH_BYTES=batch)
    )
    crashed = Mailidx(tmp_path / "crashed.duckdb", tmp_path)
    env = crashed.env(MAILIDX_BATCH_BYTES=batch)
    kills = 0
    for delay in delays:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mailidx", "build", "--journal-file", str(journal)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        if proc.poll() is None:
            proc.kill()
            kills += 1
        proc.wait()
    assert kills >= 3, "the build finished before it could be killed; make the journal larger"
    journal_build(crashed, journal, MAILIDX_BATCH_BYTES=batch)
    fingerprint = crashed.query(FINGERPRINT)[0]
    assert fingerprint[:-1] == expected.query(FINGERPRINT)[0][:-1]
    assert fingerprint[-1] == [sum(e.postfix for e in entries)]
    assert snapshot(crashed.db) == snapshot(expected.db)


def test_watch_journal_follows_appended_entries_and_names_the_index_when_stopped(tmp_path):
    entries = fixture_entries() + many_entries(1000, start_day=28)
    journal = tmp_path / "system.journal"
    write_journal(journal, entries[:400])
    index = Mailidx(tmp_path / "journal.duckdb", tmp_path)
    err = open(tmp_path / "watch.err", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "mailidx", "watch", "--journal-file", str(journal)],
        env=index.env(),
        stdout=subprocess.DEVNULL,
        stderr=err,
    )
    try:

        def lines() -> int:
            try:
                return index.count()
            except duckdb.Error:
                return -1  # not made yet, or watch is committing

        first = sum(e.postfix for e in entries[:400])
        assert wait_until(lambda: lines() == first, EVENTUALLY)
        write_journal(journal, entries[400:700])  # the journal grows while watch follows it
        assert wait_until(lambda: lines() == sum(e.postfix for e in entries[:700]), EVENTUALLY)
        # journalctl ends (as when journald restarts and it is killed): watch reads on from the
        # cursor in the index, neither losing nor doubling entries
        [journalctl] = children(proc.pid)
        os.kill(journalctl, signal.SIGKILL)
        write_journal(journal, entries[700:])
        assert wait_until(lambda: lines() == sum(e.postfix for e in entries), EVENTUALLY)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        err.close()
    messages = (tmp_path / "watch.err").read_text()
    assert "Traceback" not in messages
    assert "journalctl ended; reading on from the index's cursor" in messages
    assert messages.rstrip().endswith(f"into {index.db}")
    assert snapshot(index.db) == snapshot(syslog_index(tmp_path, entries).db)


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def wait_until(condition, timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


@pytest.mark.skipif(os.geteuid() != 0, reason="runs a command as nobody (needs root)")
def test_a_journal_the_user_cannot_read_names_the_group_to_join(tmp_path):
    journal = tmp_path / "system.journal"
    write_journal(journal, fixture_entries()[:5])
    os.chmod(journal, 0o640)
    skip_unless_nobody_can_run_mailidx()
    shared = Path(tempfile.mkdtemp(prefix="mailidx-nobody-"))
    os.chmod(shared, 0o777)
    target = shared / "system.journal"
    target.write_bytes(journal.read_bytes())
    os.chmod(target, 0o640)
    proc = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable,
         "-m", "mailidx", "build", "--db", str(shared / "i.duckdb"), "--journal-file",
         str(target)],
        capture_output=True,
        cwd=Path(__file__).resolve().parents[1],
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1
    lines = proc.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "systemd-journal group" in lines[0], lines
    assert not (shared / "i.duckdb").exists()  # refused before the index was made
