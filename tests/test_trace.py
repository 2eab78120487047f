"""`mailidx trace`: one story per flow, from any handle on the message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailidx.answers.trace import SCAN_FILTER_MAX

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


def test_queue_key_in_python_is_the_sql_macro(sample):
    import duckdb

    from mailidx.answers import trace

    con = duckdb.connect(str(sample.db), read_only=True)
    rows = con.execute("SELECT DISTINCT queue_id, queue_key FROM messages").fetchall()
    assert len(rows) > 50
    assert [(q, trace.queue_key(q)) for q, _ in rows] == rows


@pytest.mark.parametrize("how_many", [1, 2, SCAN_FILTER_MAX, SCAN_FILTER_MAX + 1, None])
def test_lookup_by_queue_id_finds_exactly_the_rows_of_those_queue_ids(sample, how_many):
    """A few keys are a scan filter, more a join: the same rows either way, and only theirs."""
    import duckdb

    from mailidx.answers import trace

    con = duckdb.connect(str(sample.db), read_only=True)
    every = [
        r[0] for r in con.execute("SELECT DISTINCT queue_id FROM recipients ORDER BY 1").fetchall()
    ]
    assert len(every) > SCAN_FILTER_MAX + 1
    wanted = every[:how_many] + ["NOSUCHQID"]
    where, args = trace._key_filter(wanted)
    rows = trace._dicts(con.execute(f"SELECT * FROM recipients WHERE {where}", args))
    got = sorted((r["message_key"], r["recipient"]) for r in trace._only(rows, wanted))
    expected = con.execute(
        "SELECT message_key, recipient FROM recipients WHERE queue_id IN (SELECT unnest(?)) "
        "ORDER BY ALL",
        [wanted],
    )
    assert got == expected.fetchall() != []


def test_two_queue_ids_that_share_a_key_stay_apart(mailidx, tmp_path):
    from mailidx.answers import trace

    one, other = "3A08EF2710", "3A091DAC7F"
    assert trace.queue_key(one) == trace.queue_key(other)  # found by search; md5 is fixed
    log = tmp_path / "maillog"
    lines = []
    for n, (qid, rcpt) in enumerate(((one, "ann@one.test"), (other, "bob@other.test"))):
        lines += [
            f"Nov 27 10:0{n}:01 mx1 postfix/smtpd[201]: {qid}: client=c{n}.test[192.0.2.{n + 1}]",
            f"Nov 27 10:0{n}:01 mx1 postfix/cleanup[202]: {qid}: message-id=<{n}@c.test>",
            f"Nov 27 10:0{n}:02 mx1 postfix/qmgr[203]: {qid}: from=<s@c.test>, size=99, nrcpt=1 "
            "(queue active)",
            f"Nov 27 10:0{n}:03 mx1 postfix/smtp[204]: {qid}: to=<{rcpt}>, relay=mx.test"
            "[192.0.2.9]:25, delay=2, delays=0.1/0/0.9/1, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
            f"Nov 27 10:0{n}:03 mx1 postfix/qmgr[203]: {qid}: removed",
        ]
    log.write_text("\n".join(lines) + "\n")
    mailidx.build(log, "--year", "2026")
    got = json.loads(mailidx.run("trace", one, "--format", "json").stdout)
    assert [m["queue_id"] for s in got for m in s["messages"]] == [one]
    assert [r["recipient"] for r in got[0]["messages"][0]["recipients"]] == ["ann@one.test"]
    assert {ln["queue_id"] for ln in got[0]["lines"]} == {one}


def test_many_queue_ids_are_read_by_join_with_the_same_story(sample, monkeypatch):
    """Past SCAN_FILTER_MAX queue IDs, keys are joined and lines fetched by row id."""
    import duckdb

    from mailidx.answers import trace

    con = duckdb.connect(str(sample.db), read_only=True)
    few = [trace.as_data(s) for s in trace.stories(con, "127.0.0.1")]
    monkeypatch.setattr(trace, "SCAN_FILTER_MAX", 2)
    many = [trace.as_data(s) for s in trace.stories(con, "127.0.0.1")]
    assert len(few) > 10 and sum(len(s["lines"]) for s in few) > 100
    assert many == few


def test_a_queue_id_only_the_next_server_gave_finds_the_message_handed_to_it(mailidx, tmp_path):
    """The receiving side's queue ID (from its logs or a bounce) is enough to find ours."""
    log = tmp_path / "maillog"
    log.write_text(
        "Nov 27 10:00:01 mx1 postfix/pickup[301]: 5C2D3E4F60: uid=1000 from=<ann>\n"
        "Nov 27 10:00:01 mx1 postfix/cleanup[302]: 5C2D3E4F60: message-id=<r@mx1.test>\n"
        "Nov 27 10:00:01 mx1 postfix/qmgr[303]: 5C2D3E4F60: from=<ann@mx1.test>, size=400, "
        "nrcpt=1 (queue active)\n"
        "Nov 27 10:00:02 mx1 postfix/smtp[304]: 5C2D3E4F60: to=<bob@far.test>, relay=mx.far.test"
        "[192.0.2.7]:25, delay=1.2, delays=0.1/0/0.5/0.6, dsn=2.0.0, status=sent "
        "(250 2.0.0 Ok: queued as 9F3C2B1A7E)\n"
        "Nov 27 10:00:02 mx1 postfix/qmgr[303]: 5C2D3E4F60: removed\n"
    )
    mailidx.build(log, "--year", "2026")
    got = json.loads(mailidx.run("trace", "9F3C2B1A7E", "--format", "json").stdout)
    assert [m["queue_id"] for s in got for m in s["messages"]] == ["5C2D3E4F60"]
    proc = mailidx.run("trace", "ABCDEF0123", check=False)  # looks like a queue ID, is nothing
    assert proc.returncode == 1 and b"nothing in the index matches" in proc.stderr


def test_since_and_until_narrow_the_seeds_to_messages_alive_then(sample):
    inside = story(
        sample, "16A6A20C297", "--since", "2026-11-27 01:00", "--until", "2026-11-27 02:00"
    )
    assert [m["queue_id"] for m in inside[0]["messages"]] == [
        "13AFA20C296",
        "16A6A20C297",
        "1AC6720C29A",
    ]
    for window in (("--until", "2026-11-27 01:00"), ("--since", "2026-11-27 02:00")):
        proc = sample.run("trace", "16A6A20C297", *window, check=False)
        assert proc.returncode == 1 and b"nothing in the index matches" in proc.stderr


def _lines_of(path: Path, *queue_ids: str) -> bytes:
    return b"".join(
        line
        for line in path.read_bytes().splitlines(True)
        if any(q.encode() in line for q in queue_ids)
    )


# what `mailidx trace 16A6A20C297 --no-lines` prints, exactly
TOP_DOWN = Path(__file__).parent / "fixtures" / "trace-filter-then-size-bounce.txt"


def test_trace_reads_top_down_with_the_flows_verdict_first(mailidx, tmp_path):
    """Real lines of a message the content filter passed and the next server refused as too
    big: the first line is the answer (the end of the flow, not the filter hand-off), and
    each recipient's attempts stand under that recipient."""
    log = tmp_path / "maillog"
    log.write_bytes(_lines_of(EXAMPLES / "maillog.1", "13AFA20C296", "16A6A20C297", "1AC6720C29A"))
    mailidx.build(log, "--year", "2026")
    assert mailidx.run("trace", "16A6A20C297", "--no-lines").stdout.decode() == TOP_DOWN.read_text()
    got = story(mailidx, "13AFA20C296")[0]
    assert got["verdict"] == "buyer@big.test bounced: size, 552 5.3.4"
    assert [(e["message_key"], e["recipient"], e["status"], e["via"]) for e in got["ends"]] == [
        ("mx:16A6A20C297", "buyer@big.test", "bounced", ["queued_as"])
    ]
    flows = mailidx.query("SELECT DISTINCT flow_id, flow_final FROM message_flows")
    assert flows == [("mx:13AFA20C296", "bounced")]
