"""kill -9 during a build, then build again: the index equals an uninterrupted build."""

from __future__ import annotations

import random
import subprocess
import sys
import time

from tests.conftest import Mailidx, stop_points, syslog_lines, write_lines

FINGERPRINT = """
SELECT (SELECT count(*) FROM log_lines),
       (SELECT count(*) FROM events),
       (SELECT sum(hash(file, "offset", line_number, ts, kind, raw)) FROM log_lines),
       (SELECT sum(hash(line_number, kind, queue_id, sender, recipient, status, client_ip))
          FROM events),
       (SELECT list(lines_done ORDER BY path) FROM files)
"""


def test_kill_minus_9_at_several_points_then_rebuild_equals_a_clean_build(tmp_path):
    logs = []
    for day in (25, 26, 27):
        log = tmp_path / f"maillog-{day}"
        write_lines(log, syslog_lines(40_000, day=day))
        logs.append(log)
    clean = Mailidx(tmp_path / "clean.duckdb", tmp_path)
    env = clean.env(MAILIDX_BATCH_BYTES=str(256 << 10))
    delays = stop_points(random.Random(7), lambda: clean.build(*logs, env=env))
    expected = clean.query(FINGERPRINT)

    crashed = Mailidx(tmp_path / "crashed.duckdb", tmp_path)
    env = crashed.env(MAILIDX_BATCH_BYTES=str(256 << 10))
    kills = 0
    for delay in delays:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mailidx", "build", *map(str, logs)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        if proc.poll() is None:
            proc.kill()
            kills += 1
        proc.wait()
    assert kills >= 3, "the build finished before it could be killed; make the input larger"
    crashed.build(*logs, env=env)
    assert crashed.query(FINGERPRINT) == expected
