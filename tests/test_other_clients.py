"""The index opens in other DuckDB clients: here Node.js's @duckdb/node-api, whose DuckDB is
one minor release older than ours, lists every view and runs a flow query."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).parent / "node"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def node_client() -> str | None:
    """Why the Node client cannot run here, or None once it is installed."""
    if not (shutil.which("node") and shutil.which("npm")):
        return "node and npm are not installed"
    if not (NODE_DIR / "node_modules" / "@duckdb" / "node-api").exists():
        proc = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if proc.returncode != 0:
            return f"npm install failed: {proc.stderr.strip()[-200:]}"
    return None


def test_node_duckdb_one_release_older_reads_every_view(mailidx):
    reason = node_client()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the second-client test: {reason}")
        pytest.skip(reason)
    mailidx.build(*sorted(EXAMPLES.glob("maillog*")), "--year", "2026")
    proc = subprocess.run(
        ["node", "views.mjs", str(mailidx.db)],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    version = json.loads(lines[0])[0][0]
    assert version.startswith("v1."), version
    counts = {line.split()[0]: json.loads(line.split(" ", 1)[1])[0][0] for line in lines[1:-1]}
    expected = mailidx.query("SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1")
    assert sorted(counts) == [v[0] for v in expected]
    for view, n in counts.items():
        assert n == mailidx.count(view), view
    assert dict(json.loads(lines[-1])) == dict(
        mailidx.query("SELECT link, count(*) FROM flows GROUP BY ALL")
    )
