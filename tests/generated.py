"""Realistic Postfix traffic for tests: bench/generate_log.py (two MX hosts, amavis,
submission, bounces) with a fixed seed, written to a file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

GENERATOR = Path(__file__).resolve().parents[1] / "bench" / "generate_log.py"


def generated_log(
    path: Path, lines: int, days: float = 3, start: str = "2026-10-01", seed: int = 1
) -> Path:
    """``lines`` lines spread over ``days`` days from ``start``, written to ``path``."""
    subprocess.run(
        [sys.executable, str(GENERATOR), "--lines", str(lines), "--days", str(days),
         "--start", start, "--seed", str(seed), "--out", str(path)],
        check=True, capture_output=True,
    )  # fmt: skip
    return path
