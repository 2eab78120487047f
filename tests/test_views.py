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


FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="module")
def postmaster_db(tmp_path_factory):
    """Real lines of the lab's postmaster cases (tests/realpostfix/harness.py
    postmaster_questions), with the truth the lab recorded."""
    from tests.conftest import Mailidx

    tmp = tmp_path_factory.mktemp("postmaster")
    mailidx = Mailidx(tmp / "index.duckdb", tmp)
    mailidx.build(FIXTURES / "postmaster-questions.log", "--year", "2026")
    return mailidx


def test_every_original_recipient_of_the_postmaster_cases_is_one_row_found_by_trace(
    postmaster_db,
):
    truth = json.loads((FIXTURES / "postmaster-questions.truth.json").read_text())
    assert mismatches(str(postmaster_db.db), truth) == []
    assert postmaster_mismatches(str(postmaster_db.db), truth) == []
    alias = postmaster_db.query(
        "SELECT recipient, orig_recipient, status FROM recipients "
        "WHERE message_id LIKE '%alias_member_and_postmaster%' ORDER BY ALL"
    )
    assert alias == [
        ("labalice@mx.lab.test", "", "sent"),
        ("labalice@mx.lab.test", "postmaster@mx.lab.test", "sent"),
        ("labalice@mx.lab.test", "team@mx.lab.test", "sent"),
        ("labcarol@mx.lab.test", "team@mx.lab.test", "sent"),
    ]


def test_mail_held_discarded_or_refused_by_header_checks_has_its_envelope(postmaster_db):
    rows = postmaster_db.query(
        "SELECT m.message_id, m.sender, m.final, r.recipient, r.status, r.recipient_known_from, "
        "r.reason_category FROM messages AS m JOIN recipients AS r USING (message_key) "
        "WHERE m.message_id LIKE '%header%' ORDER BY m.message_id"
    )
    assert [(mid.split(".")[2].split("@")[0], *rest) for mid, *rest in rows] == [
        ("header_hold_then_deleted", "checks@mx.lab.test", "deleted", "labcarol@mx.lab.test",
         "deleted", "cleanup", None),
        ("header_hold_left_held", "checks@mx.lab.test", "held", "labdave@mx.lab.test", "held",
         "cleanup", None),
        ("header_discard", "checks@mx.lab.test", "discarded", "labalice@mx.lab.test",
         "discarded", "cleanup", None),
        ("header_reject_two_recipients", "checks@mx.lab.test", "rejected",
         "labdave@mx.lab.test", "rejected", "cleanup", "policy"),
    ]  # fmt: skip


def test_the_verdict_is_the_end_of_the_flow_and_the_status_code_decides_the_category(
    postmaster_db,
):
    def verdicts(term):
        got = json.loads(postmaster_db.run("trace", term, "--format", "json").stdout)
        return [s["verdict"] for s in got]

    # a .forward's copy refused by the next server as too big
    assert verdicts("labgina@mx.lab.test") == [
        "gina@big.test (for labgina@mx.lab.test) forwarded copy bounced: size, 552 5.3.4"
    ]
    # dsn=5.2.2 "… File too large" is a full mailbox, not a message too big
    assert verdicts("labfrank@mx.lab.test") == ["labfrank@mx.lab.test bounced: mailbox_full, 5.2.2"]
    assert postmaster_db.query(
        "SELECT reason_category FROM recipients WHERE recipient = 'labfrank@mx.lab.test'"
    ) == [("mailbox_full",)]
    assert verdicts("127.0.0.4") == ["refused once, never queued: relay_denied 554 5.7.1"]
    # two messages the same remote server answered with the same queue ID: two flows
    assert len(verdicts("4B3C2D1E0F")) == 2
    assert postmaster_db.query(
        "SELECT count(DISTINCT flow_id) FROM message_flows JOIN messages USING (message_key) "
        "WHERE message_id LIKE '%same_remote_queue_id%'"
    ) == [(2,)]
