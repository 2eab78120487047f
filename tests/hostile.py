"""Helpers for the hostile-world tests: one error line exactly, and an index compared row for
row with a clean build of the same readable input."""

from __future__ import annotations

import re

from tests.conftest import Mailidx

# The per-message (and per-line) views a user reads, beside log_lines. file_id and file
# columns are left out: a clean build of the same lines may read them from another path.
VIEWS = ("log_lines", "messages", "recipients", "deliveries", "rejects", "flows", "connections")


def snapshot(mailidx: Mailidx, with_paths: bool = True) -> dict[str, list]:
    """Every row of log_lines and the per-message views, sorted, without file ids."""
    out = {}
    for view in VIEWS:
        names = [r[0] for r in mailidx.query(f"DESCRIBE {view}")]
        dropped = {"file_id"} | (set() if with_paths else {"file"})
        columns = ", ".join(f'"{n}"' for n in names if n not in dropped)
        rows = mailidx.query(f"SELECT {columns} FROM {view}")
        out[view] = sorted(rows, key=repr)
    return out


def error_lines(stderr: bytes) -> list[str]:
    return [line for line in stderr.decode().splitlines() if line.startswith("mailidx")]


def only_error(proc, status: int = 1) -> str:
    """The one `mailidx…:` line on stderr of a run that exited with ``status``."""
    err = proc.stderr.decode()
    assert proc.returncode == status, err
    assert "Traceback" not in err, err
    lines = error_lines(proc.stderr)
    assert len(lines) == 1, err
    return lines[0]


def count(text: str) -> int:
    """A number as mailidx prints it (1,234)."""
    return int(text.replace(",", ""))


def committed(message: str) -> int:
    found = re.search(r"([\d,]+) lines committed", message)
    assert found, message
    return count(found.group(1))
