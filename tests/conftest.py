"""Shared helpers: run the real `mailidx` command in a child process, read the index back."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

FIXTURES = Path(__file__).parent / "fixtures"
DAY = (FIXTURES / "maillog-day.txt").read_text().splitlines()


class Mailidx:
    """The mailidx command, run as a real process against one index file."""

    def __init__(self, db: Path, tmp: Path) -> None:
        self.db = db
        self.tmp = tmp

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ, MAILIDX_DB=str(self.db), TZ="UTC")
        env.update(extra)
        return env

    def run(
        self,
        *args: str,
        input: bytes | None = None,
        check: bool = True,
        env: dict[str, str] | None = None,
        **kwargs,
    ) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [sys.executable, "-m", "mailidx", *args],
            input=input,
            capture_output=True,
            env=env or self.env(),
            timeout=300,
            **kwargs,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"mailidx {' '.join(args)} exited {proc.returncode}: {proc.stderr.decode()}"
            )
        return proc

    def build(self, *paths, **kwargs) -> subprocess.CompletedProcess:
        return self.run("build", *map(str, paths), **kwargs)

    def query(self, sql: str, params=None) -> list[tuple]:
        con = duckdb.connect(str(self.db), read_only=True)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()

    def count(self, table: str = "log_lines") -> int:
        return self.query(f"SELECT count(*) FROM {table}")[0][0]


@pytest.fixture
def mailidx(tmp_path: Path) -> Mailidx:
    return Mailidx(tmp_path / "index.duckdb", tmp_path)


def syslog_lines(
    n: int, start: int = 0, host: str = "mx1", month: str = "Nov", day: int = 27
) -> list[str]:
    """n distinct realistic Postfix lines, a second apart from second ``start`` of the day."""
    out = []
    for i in range(start, start + n):
        template = DAY[i % len(DAY)]
        stamp = f"{month} {day:2d} {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}"
        out.append(f"{stamp} {host}{template[16 + len('mx1') :]}")
    return out


def write_lines(path: Path, lines: list[str], mode: str = "w") -> None:
    with open(path, mode) as f:
        f.write("".join(line + "\n" for line in lines))


def decompressed(path: Path) -> bytes:
    """A log file's bytes, uncompressed by its suffix (.gz, .bz2, .xz)."""
    import bz2
    import gzip
    import lzma

    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(path.suffix, open)
    with opener(path, "rb") as f:
        return f.read()


def wc_l(*paths: Path) -> int:
    return sum(decompressed(path).count(b"\n") for path in paths)


def stop_points(rng: random.Random, build: Callable[[], object], count: int = 6) -> list[float]:
    """Seconds after a build starts at which to kill or interrupt it so that the first kills
    land inside the work, on a machine of any speed. ``build`` is an uninterrupted build, run
    twice: the first run does all the work, the second finds nothing new (the fixed cost of a
    start). Each point is that fixed cost plus 5-20 % of the work, so four kills in a row still
    leave work for the next run: a test that counts its kills cannot flake on a fast machine."""
    started = time.monotonic()
    build()
    whole = time.monotonic() - started
    started = time.monotonic()
    build()
    start = time.monotonic() - started
    work = max(whole - start, 0.2)
    return [start + rng.uniform(0.05, 0.2) * work for _ in range(count)]


def skip_unless_nobody_can_run_mailidx() -> None:
    """Skip a test that runs mailidx as `nobody` where that user cannot reach this checkout's
    interpreter (a checkout under a 0700 folder, as `mktemp -d` makes): it would fail on the
    import, not on what it tests."""
    probe = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable,
         "-c", "import mailidx"],
        capture_output=True, cwd="/",
    )  # fmt: skip
    if probe.returncode != 0:
        pytest.skip("nobody cannot read this checkout (a 0700 folder above it?): chmod 755 it")
