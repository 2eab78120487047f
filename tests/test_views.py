"""The message-flow views say, per message and recipient, exactly what a real Postfix did:
checked against the ground truth the lab recorded when it wrote examples/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.realpostfix.views_check import mismatches, postmaster_mismatches

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TRUTH = json.loads((EXAMPLES / "ground-truth.json").read_text())


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory):
    from tests.conftest import Mailidx

    tmp = tmp_path_factory.mktemp("sample")
    mailidx = Mailidx(tmp / "index.duckdb", tmp)
    mailidx.build(*sorted(EXAMPLES.glob("maillog*")))
    return mailidx


def test_every_message_and_recipient_of_the_sample_matches_the_ground_truth(sample_db):
    assert mismatches(str(sample_db.db), TRUTH["messages"]) == []


def test_no_flow_or_trace_of_the_sample_joins_two_messages_sent_separately(sample_db):
    assert postmaster_mismatches(str(sample_db.db), TRUTH["messages"]) == []


def test_a_live_postfix_run_matches_what_its_servers_did(tmp_path):
    """A private Postfix on loopback: send every scenario, let the queue settle, index the log,
    and compare the views with what the lab's SMTP servers and Postfix did (~2 minutes)."""
    import os

    from tests.conftest import Mailidx
    from tests.realpostfix.harness import PostfixLab, run_scenarios, unavailable_reason

    reason = unavailable_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the real-Postfix test: {reason}")
        pytest.skip(reason)
    with PostfixLab() as lab:
        truth = run_scenarios(lab, extra_traffic=4)
        lab.shutdown()
        log = tmp_path / "maillog"
        log.write_bytes(lab.maillog.read_bytes())
    mailidx = Mailidx(tmp_path / "index.duckdb", tmp_path)
    mailidx.build(log)
    assert mailidx.query("SELECT count(*) FROM log_lines WHERE kind = 'unparsed'") == [(0,)]
    assert mismatches(str(mailidx.db), truth) == []
    # every original recipient one row, found by trace by either address; held, discarded and
    # refused mail; the refused client; no flow joins two messages
    assert sum(bool(m.get("one_row_per_original_recipient")) for m in truth) >= 8
    assert postmaster_mismatches(str(mailidx.db), truth) == []
