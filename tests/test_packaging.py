"""A real (non-editable) install carries its SQL: build the wheel, install it into an empty
directory, and index the sample from there, away from the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_installed_wheel_finds_its_schema_and_builds_an_index(tmp_path):
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(wheels.glob("mailidx-*.whl"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = dict(os.environ, PYTHONPATH=str(target), MAILIDX_DB=str(tmp_path / "i.duckdb"))
    where = subprocess.run(
        [sys.executable, "-c", "import mailidx.store as s; print(s.__file__); print(s.sql_dir())"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert all(p.startswith(str(target)) for p in where), where
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "mailidx",
            "build",
            *map(str, sorted(ROOT.glob("examples/maillog*"))),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mailidx",
            "sql",
            "--format",
            "csv",
            "SELECT count(*) FROM events WHERE kind = 'delivery'",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert int(out[1]) > 50
    # the report's SQL (sql/report/) and page template (mailidx/answers/report.html) came too
    page = subprocess.run(
        [sys.executable, "-m", "mailidx", "report", "--html", "-"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert page.returncode == 0, page.stderr
    assert page.stdout.startswith("<!DOCTYPE html>") and page.stdout.count("<svg") == 5
