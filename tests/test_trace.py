"""`mailidx trace`: one story per flow, from any handle on the message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
FILTERED_BOUNCE = "6b0a2d7d.024.filter_then_size_bounce@ok.test"


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from tests.conftest import Mailidx

    tmp = tmp_path_factory.mktemp("t")
    idx = Mailidx(tmp / "index.duckdb", tmp)
    idx.build(*sorted(EXAMPLES.glob("maillog*")), "--year", "2026")
    return idx


def story(idx, term, *args) -> list[dict]:
    return json.loads(idx.run("trace", term, "--format", "json", *args).stdout)


def test_filter_hop_then_bounce_is_one_story_with_every_queue_id(sample):
    text = sample.run("trace", f"<{FILTERED_BOUNCE}>").stdout.decode()
    for queue_id in ("13AFA20C296", "16A6A20C297", "1AC6720C29A"):
        assert f"mx:{queue_id}" in text
    assert "→ queued_as mx:16A6A20C297" in text
    assert "→ bounce_notification mx:1AC6720C29A" in text
    assert "sender non-delivery notification: 1AC6720C29A" in text  # the original line
    assert "buyer@big.test  bounced  5.3.4  size" in text


def test_any_queue_id_of_the_chain_gives_the_same_story(sample):
    first = story(sample, FILTERED_BOUNCE)
    for term in ("13AFA20C296", "16A6A20C297", "1AC6720C29A", "buyer@big.test"):
        again = story(sample, term)
        assert [m["message_key"] for m in again[0]["messages"]] == [
            m["message_key"] for m in first[0]["messages"]
        ]
    assert first[0]["flow_id"] == "mx:13AFA20C296"
    assert [lk["link"] for lk in first[0]["links"]] == ["queued_as", "bounce_notification"]
    recipients = first[0]["messages"][1]["recipients"]
    assert [(r["recipient"], r["status"], r["reason_category"]) for r in recipients] == [
        ("buyer@big.test", "bounced", "size")
    ]


def test_forward_is_followed(sample):
    got = story(sample, "6b0a2d7d.022.forward_to_remote@mx.lab.test")
    assert [lk["link"] for lk in got[0]["links"]] == ["forwarded_as"]


def test_no_lines_leaves_the_log_out(sample):
    text = sample.run("trace", "16A6A20C297", "--no-lines").stdout.decode()
    assert "log lines" not in text and "postfix/qmgr" not in text
    assert story(sample, "16A6A20C297", "--no-lines")[0]["lines"] == []


def test_a_term_that_matches_nothing_is_one_line_and_exit_1(sample):
    proc = sample.run("trace", "nobody@nowhere.example", check=False)
    assert proc.returncode == 1
    assert proc.stderr.decode().count("\n") == 1 and b"nothing in the index matches" in proc.stderr


def test_log_text_cannot_style_or_drive_the_terminal(mailidx, tmp_path):
    log = tmp_path / "maillog"
    log.write_bytes(
        b"Nov 27 10:00:01 mx1 postfix/cleanup[101]: 3A1B2C3D4E: message-id=<[bold]x[/bold]@e>\n"
        b"Nov 27 10:00:02 mx1 postfix/qmgr[102]: 3A1B2C3D4E: from=<a\x1b]0;pwned\x07@e>, "
        b"size=1, nrcpt=1 (queue active)\n"
    )
    mailidx.build(log, "--year", "2026")
    out = mailidx.run("trace", "3A1B2C3D4E").stdout
    assert b"\x1b" not in out and b"\x07" not in out
    assert b"[bold]x[/bold]@e" in out and b"a\\x1b]0;pwned\\x07@e" in out
