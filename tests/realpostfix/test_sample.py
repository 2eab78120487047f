"""Consistency of examples/ (fast) and, opt-in, a full real-Postfix lab run (slow, root).

The lab run is skipped unless MAILIDX_REAL_POSTFIX=1 (takes ~1.5 minutes, needs root, postfix
and aiosmtpd: see .ci/install-system-deps.sh).
"""

from __future__ import annotations

import gzip
import json
import os
import re
from pathlib import Path

import pytest

from .harness import PostfixLab, check_ground_truth, run_scenarios, unavailable_reason

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FILES = ["maillog.2.gz", "maillog.1", "maillog"]
TS = re.compile(r"^[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d ")


def _read(name: str) -> str:
    p = EXAMPLES / name
    data = gzip.decompress(p.read_bytes()) if name.endswith(".gz") else p.read_bytes()
    return data.decode()


@pytest.mark.skipif(not (EXAMPLES / "ground-truth.json").exists(), reason="no examples/")
def test_examples_match_ground_truth():
    truth = json.loads((EXAMPLES / "ground-truth.json").read_text())
    text = "".join(_read(n) for n in FILES)
    assert check_ground_truth(text, truth["messages"]) == []
    for info in truth["files"]:
        lines = _read(info["file"]).splitlines()
        assert lines and all(TS.match(ln) for ln in lines)
        stamps = [ln[:15] for ln in lines]
        assert stamps[0] == info["first_ts"] and stamps[-1] == info["last_ts"]
        # (git does not keep file mtimes; the gzip header keeps its own)
        if info["file"].endswith(".gz"):
            gz_mtime = int.from_bytes((EXAMPLES / info["file"]).read_bytes()[4:8], "little")
            assert gz_mtime == info["mtime"]
    assert len({f["date"] for f in truth["files"]}) == 3
    assert sum((EXAMPLES / n).stat().st_size for n in FILES) < 1_000_000


@pytest.mark.skipif(
    os.environ.get("MAILIDX_REAL_POSTFIX") != "1",
    reason="set MAILIDX_REAL_POSTFIX=1 to run the real Postfix lab",
)
def test_real_postfix_lab():
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    with PostfixLab() as lab:
        truth = run_scenarios(lab, extra_traffic=6)
        lab.shutdown()
        assert check_ground_truth(lab.read_log(), truth) == []
        assert len(lab.phase_marks) == 3
